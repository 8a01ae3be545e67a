//! `POST/GET /v1/sandboxes`, `GET/DELETE /v1/sandboxes/{id}`.

use api_types::control::{
    CreateSandbox, CreatedSandbox, Sandbox, SandboxList, SandboxStatusChange,
};
use api_types::error::ControlErrorBody;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use lifecycle::SandboxStatus;
use serde::Deserialize;

use db::cursor::Cursor;
use scheduler::idempotent::Idempotency;
use scheduler::{actions, create};

use crate::http::extract::{ApiPath, ApiQuery, Caller, JsonBody};
use crate::state::AppState;
use api_error::ApiError;
use api_error::request_id;
use scheduler::views;

/// The header that makes a retried create safe.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sandboxes", post(create_sandbox).get(list))
        .route("/v1/sandboxes/{id}", get(get_one).delete(delete))
}

#[utoipa::path(
    post,
    path = "/v1/sandboxes",
    tag = "sandboxes",
    operation_id = "create_sandbox",
    summary = "Create a sandbox",
    request_body = CreateSandbox,
    params(("Idempotency-Key" = Option<String>, Header,
            description = "Warren extension: a retry with the same key and body answers the \
                sandbox the first request made (200), for `sandboxes.idempotency_ttl_seconds`")),
    responses(
        (status = 201, body = CreatedSandbox,
         description = "Created; the reply comes once it is running"),
        (status = 200, body = CreatedSandbox,
         description = "Made before: the organization's live sandbox of this `name`, or the one \
             this `Idempotency-Key` made"),
        (status = 400, body = ControlErrorBody,
         description = "Invalid body or values (a bad name, volume mount path or key)"),
        (status = 403, body = ControlErrorBody,
         description = "Sandbox cap or organization share reached (`RESOURCE_LIMIT_ERROR`)"),
        (status = 404, body = ControlErrorBody,
         description = "Unknown template (`TEMPLATE_NOT_FOUND`), volume (`VOLUME_NOT_FOUND`) or \
             snapshot (`SNAPSHOT_NOT_FOUND`)"),
        (status = 409, body = ControlErrorBody,
         description = "The template is not built yet (`TEMPLATE_NOT_READY`)"),
        (status = 422, body = ControlErrorBody,
         description = "The `Idempotency-Key` was used with another body (`IDEMPOTENCY_KEY_REUSED`)"),
    )
)]
async fn create_sandbox(
    State(state): State<AppState>,
    caller: Caller,
    headers: http::HeaderMap,
    JsonBody(req): JsonBody<CreateSandbox>,
) -> Result<(StatusCode, Json<CreatedSandbox>), ApiError> {
    let idempotency = match headers.get(IDEMPOTENCY_KEY) {
        Some(v) => {
            let key = v.to_str().unwrap_or_default();
            Some(Idempotency::new(key, &req)?)
        }
        None => None,
    };
    let made = create::create(&state, caller.organization_id, &req, idempotency.as_ref()).await?;
    let (auth_token, token_expires_at) = actions::issue_token(&state, &made.key, &made.row.id);
    let body = CreatedSandbox {
        sandbox: views::sandbox(&made.row, &state.settings.router, state.listen_port),
        auth_token,
        token_expires_at,
        request_id: request_id::current(),
    };
    let status = if made.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// 1–1000, default 100.
    limit: Option<i64>,
    /// Only sandboxes shown with this status.
    status: Option<String>,
    region: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/sandboxes",
    tag = "sandboxes",
    operation_id = "list_sandboxes",
    summary = "List the organization's sandboxes, newest first",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of sandboxes", body = SandboxList),
        (status = 400, description = "Bad `limit`, `status` or `cursor`", body = ControlErrorBody),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<SandboxList>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let states = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let states = SandboxStatus::shown_as(s);
            if states.is_empty() || states.contains(&SandboxStatus::Deleted) {
                return Err(ApiError::InvalidRequest(format!(
                    "unknown status filter {s:?}"
                )));
            }
            Some(states)
        }
    };
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            Cursor::decode(c).ok_or_else(|| ApiError::InvalidRequest("invalid cursor".into()))?,
        ),
    };
    let filter = db::sandboxes::ListFilter {
        states: states.as_deref(),
        region: q.region.as_deref().filter(|r| !r.is_empty()),
        after: cursor.as_ref(),
        fetch: limit + 1,
    };
    let mut rows = db::sandboxes::list(&state.pool, caller.organization_id, &filter).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = has_more.then(|| rows.last()).flatten().map(|r| {
        Cursor {
            created_at: r.created_at,
            id: r.id.clone(),
        }
        .encode()
    });
    let data = rows
        .iter()
        .map(|r| views::sandbox(r, &state.settings.router, state.listen_port))
        .collect();
    Ok(Json(SandboxList {
        object: "list".into(),
        data,
        has_more,
        next_cursor,
        url: "/v1/sandboxes".into(),
        request_id: request_id::current(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/sandboxes/{id}",
    tag = "sandboxes",
    operation_id = "get_sandbox",
    summary = "Get a sandbox",
    params(("id" = String, Path, description = "Sandbox id")),
    responses(
        (status = 200, description = "The sandbox", body = Sandbox),
        (status = 404, body = ControlErrorBody,
         description = "Unknown, deleted or another organization's"),
    )
)]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Sandbox>, ApiError> {
    let row = actions::find(&state, caller.organization_id, &id).await?;
    Ok(Json(views::sandbox(
        &row,
        &state.settings.router,
        state.listen_port,
    )))
}

#[utoipa::path(
    delete,
    path = "/v1/sandboxes/{id}",
    tag = "sandboxes",
    operation_id = "delete_sandbox",
    summary = "Delete a sandbox",
    params(("id" = String, Path, description = "Sandbox id")),
    responses(
        (status = 200, description = "Deleted", body = SandboxStatusChange),
        (status = 404, body = ControlErrorBody,
         description = "Unknown, deleted or another organization's"),
    )
)]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SandboxStatusChange>, ApiError> {
    actions::delete(&state, caller.organization_id, &id).await?;
    Ok(Json(SandboxStatusChange {
        id,
        status: SandboxStatus::Deleted.wire().into(),
        request_id: request_id::current(),
    }))
}
