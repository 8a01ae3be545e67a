//! Warren extensions for scoped credentials (docs/api.md): `POST`/`DELETE
//! /v1/sandboxes/{id}/preview-links` (sign a preview link / revoke them all) and `POST
//! /v1/sandboxes/{id}/token/rotate` and `.../token/revoke` (a new token key, the old one valid for a
//! grace period or not at all). `token/refresh` stays in `sandbox_actions`.

use api_types::control::{
    PreviewLink, PreviewLinkRequest, PreviewLinksRevoked, TokenRotate, TokenRotated,
};
use api_types::error::ControlErrorBody;
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

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/preview-links",
    tag = "credentials",
    operation_id = "create_preview_link",
    summary = "Sign a preview link (Warren extension)",
    params(("id" = String, Path, description = "Sandbox id")),
    request_body = Option<PreviewLinkRequest>,
    responses(
        (status = 201, description = "The link and its token", body = PreviewLink),
        (status = 400, body = ControlErrorBody,
         description = "`port` or `expires_in_seconds` out of range"),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
    )
)]
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

#[utoipa::path(
    delete,
    path = "/v1/sandboxes/{id}/preview-links",
    tag = "credentials",
    operation_id = "revoke_preview_links",
    summary = "Revoke every preview link signed so far (Warren extension)",
    params(("id" = String, Path, description = "Sandbox id")),
    responses(
        (status = 200, description = "Revoked", body = PreviewLinksRevoked),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
    )
)]
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

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/token/rotate",
    tag = "credentials",
    operation_id = "rotate_sandbox_token",
    summary = "A new token key; the old one's tokens work for a grace period (Warren extension)",
    params(("id" = String, Path, description = "Sandbox id")),
    request_body = Option<TokenRotate>,
    responses(
        (status = 200, description = "A token of the new key", body = TokenRotated),
        (status = 400, description = "`grace_seconds` out of range", body = ControlErrorBody),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
        (status = 409, description = "Neither running nor stopped", body = ControlErrorBody),
    )
)]
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

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/token/revoke",
    tag = "credentials",
    operation_id = "revoke_sandbox_token",
    summary = "A new token key; every older token and link is refused at once (Warren extension)",
    params(("id" = String, Path, description = "Sandbox id")),
    responses(
        (status = 200, description = "A token of the new key", body = TokenRotated),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
        (status = 409, description = "Neither running nor stopped", body = ControlErrorBody),
    )
)]
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
