//! `POST /v1/sandboxes/{id}/{pause,resume,start,stop,token/refresh}` and `PUT .../timeout`.
//!
//! The body-less POSTs take no body extractor at all (CONTRACT.md appendix: the SDKs send
//! `Content-Type: application/json` with an empty body).

use api_types::control::{SandboxStatusChange, SetTimeout, TimeoutSet, TokenRefreshed};
use api_types::error::ControlErrorBody;
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

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/pause",
    tag = "sandbox actions",
    operation_id = "pause_sandbox",
    summary = "Pause a running sandbox",
    params(("id" = String, Path, description = "Sandbox id")),
    responses(
        (status = 200, description = "Done: the status it is now in", body = SandboxStatusChange),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
        (status = 409, body = ControlErrorBody,
         description = "Not allowed from its state, or its container vanished"),
    )
)]
async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    act(state, caller, id, Action::Pause).await
}

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/resume",
    tag = "sandbox actions",
    operation_id = "resume_sandbox",
    summary = "Resume a paused sandbox",
    params(("id" = String, Path, description = "Sandbox id")),
    responses(
        (status = 200, description = "Done: the status it is now in", body = SandboxStatusChange),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
        (status = 409, body = ControlErrorBody,
         description = "Not allowed from its state, or its container vanished"),
    )
)]
async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    act(state, caller, id, Action::Resume).await
}

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/start",
    tag = "sandbox actions",
    operation_id = "start_sandbox",
    summary = "Start a stopped sandbox",
    params(("id" = String, Path, description = "Sandbox id")),
    responses(
        (status = 200, description = "Done: the status it is now in", body = SandboxStatusChange),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
        (status = 409, body = ControlErrorBody,
         description = "Not allowed from its state, or its container vanished"),
        (status = 403, description = "Organization share reached", body = ControlErrorBody),
    )
)]
async fn start(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    act(state, caller, id, Action::Start).await
}

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/stop",
    tag = "sandbox actions",
    operation_id = "stop_sandbox",
    summary = "Stop a running or paused sandbox",
    params(("id" = String, Path, description = "Sandbox id")),
    responses(
        (status = 200, description = "Done: the status it is now in", body = SandboxStatusChange),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
        (status = 409, body = ControlErrorBody,
         description = "Not allowed from its state, or its container vanished"),
    )
)]
async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    act(state, caller, id, Action::Stop).await
}

#[utoipa::path(
    put,
    path = "/v1/sandboxes/{id}/timeout",
    tag = "sandbox actions",
    operation_id = "set_sandbox_timeout",
    summary = "Expire the sandbox this many seconds from now",
    params(("id" = String, Path, description = "Sandbox id")),
    request_body = SetTimeout,
    responses(
        (status = 200, description = "The new expiry", body = TimeoutSet),
        (status = 400, description = "`timeout_seconds` out of range", body = ControlErrorBody),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
    )
)]
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

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/token/refresh",
    tag = "sandbox actions",
    operation_id = "refresh_sandbox_token",
    summary = "A new agent token for the sandbox",
    params(("id" = String, Path, description = "Sandbox id")),
    responses(
        (status = 200, description = "The token and its expiry", body = TokenRefreshed),
        (status = 404, description = "Unknown sandbox", body = ControlErrorBody),
    )
)]
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
