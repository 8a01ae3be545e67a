//! `POST /v1/sandboxes/{id}/{pause,resume,start,stop,token/refresh}` and `PUT .../timeout`.
//!
//! The body-less POSTs take no body extractor at all (CONTRACT.md appendix: the SDKs send
//! `Content-Type: application/json` with an empty body).

use api_types::control::{SandboxStatusChange, SetTimeout, TimeoutSet, TokenRefreshed};
use axum::extract::State;
use axum::routing::{post, put};
use axum::{Json, Router};
use lifecycle::Action;

use crate::http::extract::{ApiPath, Caller, JsonBody};
use crate::state::AppState;
use api_error::ApiError;
use api_error::request_id;
use scheduler::actions;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sandboxes/{id}/pause", post(pause))
        .route("/v1/sandboxes/{id}/resume", post(resume))
        .route("/v1/sandboxes/{id}/start", post(start))
        .route("/v1/sandboxes/{id}/stop", post(stop))
        .route("/v1/sandboxes/{id}/timeout", put(set_timeout))
        .route("/v1/sandboxes/{id}/token/refresh", post(refresh_token))
}

async fn act(
    state: AppState,
    caller: Caller,
    id: String,
    action: Action,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    let row = actions::apply(&state, caller.organization_id, &id, action).await?;
    Ok(Json(SandboxStatusChange {
        status: row.state().wire().into(),
        id: row.id,
        request_id: request_id::current(),
    }))
}

async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    act(state, caller, id, Action::Pause).await
}

async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    act(state, caller, id, Action::Resume).await
}

async fn start(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    act(state, caller, id, Action::Start).await
}

async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    act(state, caller, id, Action::Stop).await
}

async fn set_timeout(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<SetTimeout>,
) -> Result<Json<TimeoutSet>, ApiError> {
    let row =
        actions::set_timeout(&state, caller.organization_id, &id, req.timeout_seconds).await?;
    let expires_at = row
        .expires_at
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("timeout set but no expiry")))?;
    Ok(Json(TimeoutSet {
        id: row.id,
        timeout_seconds: req.timeout_seconds,
        expires_at,
        request_id: request_id::current(),
    }))
}

async fn refresh_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenRefreshed>, ApiError> {
    let (auth_token, token_expires_at) =
        actions::refresh_token(&state, caller.organization_id, &id).await?;
    Ok(Json(TokenRefreshed {
        id,
        auth_token,
        token_expires_at,
        request_id: request_id::current(),
    }))
}
