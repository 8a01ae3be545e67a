//! `POST /v1/templates/build`, `GET /v1/templates/build/{id}/status` and `.../logs?offset=`
//! (CONTRACT.md §2.3 steps 3–5). The build id is the template id. A build is accepted as a
//! `pending` row this replica runs; status and logs are read from Postgres, on any replica.

use api_types::control::{TemplateBuildLogs, TemplateBuildStarted, TemplateBuildStatus};
use api_types::error::ControlErrorBody;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::http::extract::{ApiPath, ApiQuery, Caller, JsonBody};
use crate::http::template_uploads::public_base;
use crate::state::AppState;
use api_error::ApiError;
use api_error::request_id;
use db::template_builds::{self, Attempt};
use db::{template_build_logs, template_uploads};
use settings::RuntimeKind;
use template_builder::Job;
use template_spec::BuildRequest;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/templates/build", post(build))
        .route("/v1/templates/build/{id}/status", get(status))
        .route("/v1/templates/build/{id}/logs", get(logs))
}

#[utoipa::path(
    post,
    path = "/v1/templates/build",
    tag = "template builds",
    operation_id = "build_template",
    summary = "Start building a custom template",
    request_body = BuildRequest,
    responses(
        (status = 201, description = "Queued; poll its status", body = TemplateBuildStarted),
        (status = 400, body = ControlErrorBody,
         description = "Invalid request, or COPY files never uploaded"),
        (status = 409, body = ControlErrorBody,
         description = "The name is taken, or a build of it runs"),
    )
)]
async fn build(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<BuildRequest>,
) -> Result<(StatusCode, Json<TemplateBuildStarted>), ApiError> {
    if state.settings.runtime.kind != RuntimeKind::Docker {
        return Err(ApiError::RuntimeUnavailable);
    }
    let update = req.update;
    let (spec, credentials) = req.check().map_err(ApiError::InvalidRequest)?;
    let org = caller.organization_id;
    let hashes: Vec<String> = spec.files_hashes().into_iter().map(str::to_owned).collect();
    let uploaded = template_uploads::use_uploaded(&state.pool, org, &hashes).await?;
    if let Some(missing) = hashes.iter().find(|h| !uploaded.contains(h)) {
        return Err(ApiError::InvalidRequest(format!(
            "the files of COPY (files_hash {missing}) were never uploaded: \
             POST /v1/templates/files/upload-link, then PUT the archive"
        )));
    }
    let mut tx = state.pool.begin().await?;
    state.builds.admit(&mut tx).await?;
    let taken = || ApiError::TemplateNameTaken(spec.name.clone());
    let template_id = match template_builds::same_name(&mut tx, org, &spec.name).await? {
        None => template_builds::insert_template(&mut tx, org, &spec)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => taken(),
                _ => e.into(),
            })?,
        Some(t) if t.organization_id != Some(org) => return Err(taken()),
        Some(t) if t.building => {
            return Err(ApiError::InvalidTransition(format!(
                "a build of template {:?} is already running",
                spec.name
            )));
        }
        Some(t) if !update && t.status != "failed" => return Err(taken()),
        Some(t) => {
            template_builds::rebuild_template(&mut tx, t.id, &spec).await?;
            t.id
        }
    };
    let builds = &state.builds;
    let record = template_builds::start(
        &mut tx,
        template_id,
        builds.replica(),
        builds.lease_seconds(),
    )
    .await?;
    let uploads = hashes
        .into_iter()
        .map(|h| {
            let path = builds.uploads.path(org, &h);
            (h, path)
        })
        .collect();
    let job = Job {
        template_id,
        spec,
        credentials,
        uploads,
    };
    // Known to this replica's worker before the row can be claimed.
    let attempt = Attempt {
        template_id,
        attempt: record.attempt,
    };
    builds.accept(attempt, job);
    if let Err(e) = tx.commit().await {
        builds.forget(attempt);
        return Err(e.into());
    }
    builds.accepted();
    let id = template_id.to_string();
    Ok((
        StatusCode::CREATED,
        Json(TemplateBuildStarted {
            logs_url: format!(
                "{}/v1/templates/build/{id}/logs",
                public_base(&state, &headers)
            ),
            build_id: id.clone(),
            template_id: id,
            status: record.status,
            request_id: request_id::current(),
        }),
    ))
}

/// A build id in a path (the template id).
fn build_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ApiError::TemplateNotFound(id.chars().take(64).collect()))
}

#[utoipa::path(
    get,
    path = "/v1/templates/build/{id}/status",
    tag = "template builds",
    operation_id = "get_template_build_status",
    summary = "A build's status",
    params(("id" = String, Path, description = "Build id (the template id)")),
    responses(
        (status = 200, description = "The status", body = TemplateBuildStatus),
        (status = 404, description = "Unknown build", body = ControlErrorBody),
    )
)]
async fn status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TemplateBuildStatus>, ApiError> {
    let n = build_id(&id)?;
    let b = template_builds::find(&state.pool, caller.organization_id, n)
        .await?
        .ok_or_else(|| ApiError::TemplateNotFound(id.clone()))?;
    Ok(Json(TemplateBuildStatus {
        build_id: id.clone(),
        template_id: id,
        status: b.status,
        progress: b.progress,
        current_step: b.current_step,
        started_at: b.started_at,
        completed_at: b.completed_at,
        error_message: b.error_message,
        build_duration_ms: b
            .completed_at
            .map(|end| (end - b.started_at).num_milliseconds()),
        request_id: request_id::current(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LogsQuery {
    /// Characters of the log already read (the last reply's `offset`); default 0.
    offset: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/templates/build/{id}/logs",
    tag = "template builds",
    operation_id = "get_template_build_logs",
    summary = "A build's log from `offset` on",
    params(("id" = String, Path, description = "Build id (the template id)"), LogsQuery),
    responses(
        (status = 200, description = "The new part of the log", body = TemplateBuildLogs),
        (status = 404, description = "Unknown build", body = ControlErrorBody),
    )
)]
async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> Result<Json<TemplateBuildLogs>, ApiError> {
    let n = build_id(&id)?;
    let offset = q.offset.unwrap_or(0).max(0);
    let slice = template_build_logs::read(&state.pool, caller.organization_id, n, offset)
        .await?
        .ok_or_else(|| ApiError::TemplateNotFound(id.clone()))?;
    let status = slice.status.clone();
    let (logs, offset) = slice.read(offset);
    Ok(Json(TemplateBuildLogs {
        logs,
        offset,
        complete: matches!(status.as_str(), "active" | "failed"),
        status,
        request_id: request_id::current(),
    }))
}
