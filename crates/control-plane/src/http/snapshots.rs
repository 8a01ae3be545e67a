//! `POST /v1/sandboxes/{id}/snapshots`, `POST /v1/sandboxes/{id}/fork`, `GET /v1/snapshots`,
//! `GET/DELETE /v1/snapshots/{id}`: Warren's filesystem snapshots and forks.

use api_types::control::CreatedSandbox;
use api_types::error::ControlErrorBody;
use api_types::snapshots::{
    CreateSnapshot, ForkResult, ForkSandbox, SnapshotDeleted, SnapshotList, SnapshotResponse,
};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;

use crate::http::extract::{ApiPath, Caller, JsonBody};
use crate::state::AppState;
use api_error::ApiError;
use api_error::request_id;
use scheduler::{actions, fork, snapshots, views};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sandboxes/{id}/snapshots", post(create))
        .route("/v1/sandboxes/{id}/fork", post(fork_sandbox))
        .route("/v1/snapshots", get(list))
        .route("/v1/snapshots/{id}", get(get_one).delete(delete))
}

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/snapshots",
    tag = "snapshots",
    operation_id = "create_snapshot",
    summary = "Snapshot a sandbox's filesystem",
    params(("id" = String, Path, description = "Sandbox id")),
    request_body(content = CreateSnapshot, description = "Optional; the body may be empty"),
    responses(
        (status = 201, body = SnapshotResponse,
         description = "Taken (copy-on-write; a running sandbox is frozen for the instant)"),
        (status = 400, body = ControlErrorBody, description = "Bad name"),
        (status = 403, body = ControlErrorBody,
         description = "The organization's snapshot quota would be exceeded (`SNAPSHOT_QUOTA_EXCEEDED`)"),
        (status = 404, body = ControlErrorBody,
         description = "Unknown or another organization's sandbox (`SANDBOX_NOT_FOUND`)"),
        (status = 409, body = ControlErrorBody,
         description = "The sandbox is not running, paused or stopped: in a transition, failed or \
             deleted (`INVALID_STATE_TRANSITION`)"),
        (status = 501, body = ControlErrorBody,
         description = "The runtime takes no snapshots (`SNAPSHOTS_UNSUPPORTED`)"),
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<CreateSnapshot>,
) -> Result<(StatusCode, Json<SnapshotResponse>), ApiError> {
    let snapshot = snapshots::create(&state, caller.organization_id, &id, &req).await?;
    let body = SnapshotResponse {
        snapshot,
        request_id: request_id::current(),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

#[utoipa::path(
    post,
    path = "/v1/sandboxes/{id}/fork",
    tag = "snapshots",
    operation_id = "fork_sandbox",
    summary = "Make `count` new sandboxes from a sandbox's filesystem",
    params(("id" = String, Path, description = "Sandbox id")),
    request_body = ForkSandbox,
    responses(
        (status = 200, body = Vec<ForkResult>,
         description = "One entry per fork, in order: the created sandbox with its token, or \
             that create's error envelope"),
        (status = 400, body = ControlErrorBody,
         description = "`count` outside 1..=`snapshots.max_fork_count` (`FORK_LIMIT_EXCEEDED`)"),
        (status = 403, body = ControlErrorBody,
         description = "The organization's snapshot quota is full (`SNAPSHOT_QUOTA_EXCEEDED`)"),
        (status = 404, body = ControlErrorBody,
         description = "Unknown or another organization's sandbox (`SANDBOX_NOT_FOUND`)"),
        (status = 409, body = ControlErrorBody,
         description = "The sandbox is not running, paused or stopped: in a transition, failed or \
             deleted (`INVALID_STATE_TRANSITION`)"),
    )
)]
async fn fork_sandbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(req): JsonBody<ForkSandbox>,
) -> Result<Json<Vec<ForkResult>>, ApiError> {
    let outcomes = fork::fork(&state, caller.organization_id, &id, req.count).await?;
    let results = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(made) => {
                let (auth_token, token_expires_at) =
                    actions::issue_token(&state, &made.key, &made.row.id);
                ForkResult::Created(Box::new(CreatedSandbox {
                    sandbox: views::sandbox(&made.row, &state.settings.router, state.listen_port),
                    auth_token,
                    token_expires_at,
                    request_id: request_id::current(),
                }))
            }
            Err(e) => ForkResult::Failed(e.envelope().1),
        })
        .collect();
    Ok(Json(results))
}

#[utoipa::path(
    get,
    path = "/v1/snapshots",
    tag = "snapshots",
    operation_id = "list_snapshots",
    summary = "List the organization's snapshots, oldest first",
    responses((status = 200, body = SnapshotList, description = "Every snapshot, and the quota"))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SnapshotList>, ApiError> {
    let (data, count, used_mb) = snapshots::list(&state, caller.organization_id).await?;
    let limits = &state.settings.snapshots;
    Ok(Json(SnapshotList {
        object: "list".into(),
        data,
        count,
        max_count: limits.org_max_count.into(),
        used_mb,
        quota_mb: limits.org_quota_mb.into(),
        request_id: request_id::current(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/snapshots/{id}",
    tag = "snapshots",
    operation_id = "get_snapshot",
    summary = "Get a snapshot",
    params(("id" = String, Path, description = "Snapshot id")),
    responses(
        (status = 200, body = SnapshotResponse, description = "The snapshot"),
        (status = 404, body = ControlErrorBody,
         description = "Unknown or another organization's (`SNAPSHOT_NOT_FOUND`)"),
    )
)]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SnapshotResponse>, ApiError> {
    let snapshot = snapshots::get(&state, caller.organization_id, &id).await?;
    Ok(Json(SnapshotResponse {
        snapshot,
        request_id: request_id::current(),
    }))
}

#[utoipa::path(
    delete,
    path = "/v1/snapshots/{id}",
    tag = "snapshots",
    operation_id = "delete_snapshot",
    summary = "Delete a snapshot (sandboxes made from it keep their files)",
    params(("id" = String, Path, description = "Snapshot id")),
    responses(
        (status = 200, body = SnapshotDeleted, description = "Deleted"),
        (status = 404, body = ControlErrorBody,
         description = "Unknown or another organization's (`SNAPSHOT_NOT_FOUND`)"),
    )
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SnapshotDeleted>, ApiError> {
    snapshots::delete(&state, caller.organization_id, &id).await?;
    Ok(Json(SnapshotDeleted {
        id,
        deleted: true,
        request_id: request_id::current(),
    }))
}
