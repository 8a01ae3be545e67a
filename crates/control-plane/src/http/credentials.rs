//! Warren extensions for scoped credentials (docs/api.md): `POST`/`DELETE
//! /v1/sandboxes/{id}/preview-links` (sign a preview link / revoke them all) and `POST
//! /v1/sandboxes/{id}/token/rotate` and `.../token/revoke` (a new token key, the old one valid for a
//! grace period or not at all). `token/refresh` stays in `sandbox_actions`.

use api_types::control::{
    PreviewLink, PreviewLinkRequest, PreviewLinksRevoked, TokenRotate, TokenRotated,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use crate::http::extract::{ApiPath, Caller, JsonBody};
use crate::state::AppState;
use api_error::ApiError;
use api_error::request_id;
use scheduler::credentials::{self, Rotation};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/sandboxes/{id}/preview-links",
            post(mint_preview_link).delete(revoke_preview_links),
        )
        .route("/v1/sandboxes/{id}/token/rotate", post(rotate))
        .route("/v1/sandboxes/{id}/token/revoke", post(revoke))
}

async fn mint_preview_link(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<PreviewLinkRequest>,
) -> Result<(StatusCode, Json<PreviewLink>), ApiError> {
    let link = credentials::mint_preview_link(&state, caller.organization_id, &id, &req).await?;
    let body = PreviewLink {
        url: link.url,
        token: link.token,
        expires_at: link.expires_at,
        port: link.port,
        request_id: request_id::current(),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

async fn revoke_preview_links(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PreviewLinksRevoked>, ApiError> {
    credentials::revoke_preview_links(&state, caller.organization_id, &id).await?;
    Ok(Json(PreviewLinksRevoked {
        id,
        revoked: true,
        request_id: request_id::current(),
    }))
}

async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<TokenRotate>,
) -> Result<Json<TokenRotated>, ApiError> {
    let rotation =
        credentials::rotate(&state, caller.organization_id, &id, req.grace_seconds).await?;
    Ok(rotated(id, rotation))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenRotated>, ApiError> {
    let rotation = credentials::rotate(&state, caller.organization_id, &id, Some(0)).await?;
    Ok(rotated(id, rotation))
}

fn rotated(id: String, r: Rotation) -> Json<TokenRotated> {
    Json(TokenRotated {
        id,
        auth_token: r.token,
        token_expires_at: r.expires_at,
        previous_token_valid_until: r.previous_valid_until,
        request_id: request_id::current(),
    })
}
