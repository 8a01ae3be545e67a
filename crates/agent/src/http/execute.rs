//! Code execution routes (CONTRACT.md §3.1): sync, background, async (webhook), process list and kill.

use api_types::agent::{
    AsyncResponse, BackgroundResponse, ExecuteRequest, ExecuteResponse, ProcessInfo, ProcessStatus,
    WebhookPayload,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::lang::Language;
use crate::procs::capture::{Leftovers, supervise};
use crate::run::{Prepared, timeout_of};
use crate::state::AppState;
use crate::util::{new_id, now_ts};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/execute", post(execute))
        .route("/execute/ipython", post(execute_ipython))
        .route("/execute/background", post(background))
        .route("/execute/async", post(execute_async))
        .route("/execute/processes", get(processes))
        .route("/execute/kill/{id}", post(kill_path))
        .route("/execute/kill", delete(kill_body))
        .route("/processes/{id}/kill", post(kill_path))
}

async fn execute(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> ApiResult<Json<ExecuteResponse>> {
    state.execute_sync(&req).await.map(Json)
}

async fn execute_ipython(
    State(state): State<AppState>,
    ApiJson(mut req): ApiJson<ExecuteRequest>,
) -> ApiResult<Json<ExecuteResponse>> {
    req.language = "python".into();
    state.execute_sync(&req).await.map(Json)
}

/// Starts `prepared` in the background, registered under a new process id; `on_done` gets the
/// final record.
pub fn start_background(
    state: &AppState,
    prepared: Prepared,
    language: &str,
    name: Option<String>,
    timeout: std::time::Duration,
    on_done: Option<Box<dyn FnOnce(ProcessInfo) + Send>>,
) -> ApiResult<BackgroundResponse> {
    let permit = state.permits.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_EXECUTIONS",
            "Too many executions are running; try again later",
        )
    })?;
    let Prepared { spec, scratch } = prepared;
    let program = spec.program.clone();
    let child = state
        .spawner
        .spawn(spec)
        .map_err(|e| ApiError::from_spawn(&e, &program))?;
    let process_id = new_id("proc");
    let execution_id = new_id("exec");
    let start = now_ts();
    let pid = child.pid;
    state.background.insert(ProcessInfo {
        process_id: process_id.clone(),
        execution_id: execution_id.clone(),
        name: name.clone(),
        status: ProcessStatus::Running,
        language: language.to_owned(),
        pid,
        start_time: start.clone(),
        started_at: start.clone(),
        end_time: None,
        completed_at: None,
        exit_code: None,
        duration: None,
        execution_time: None,
        stdout: String::new(),
        stderr: String::new(),
    });
    let task_state = state.clone();
    let id = process_id.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let limit = task_state.config.output_limit;
        let outcome = supervise(child, limit, timeout, None, Leftovers::Keep).await;
        drop(scratch);
        if let Some(info) = task_state.background.finish(&id, &outcome)
            && let Some(done) = on_done
        {
            done(info);
        }
    });
    Ok(BackgroundResponse {
        process_id,
        execution_id,
        status: ProcessStatus::Running,
        start_time: start,
        pid,
        name,
        message: "Background execution started".into(),
    })
}

async fn background(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> ApiResult<Json<BackgroundResponse>> {
    let lang = Language::parse(&req.language)?;
    let prepared = state.prepare_code(lang, &req.code, req.workdir.as_deref(), req.env.as_ref())?;
    let timeout = timeout_of(req.timeout, 300);
    start_background(&state, prepared, lang.name(), req.name, timeout, None).map(Json)
}

async fn execute_async(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> ApiResult<Json<AsyncResponse>> {
    let callback_url = req
        .callback_url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::missing("callback_url"))?;
    let url = reqwest::Url::parse(&callback_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| ApiError::bad_request("callback_url must be an http(s) URL"))?;
    let lang = Language::parse(&req.language)?;
    let prepared = state.prepare_code(lang, &req.code, req.workdir.as_deref(), req.env.as_ref())?;
    let timeout = timeout_of(req.timeout, 1800);
    let headers = req.callback_headers.clone().unwrap_or_default();
    let secret = req.callback_signature_secret.clone();
    let done = Box::new(move |info: ProcessInfo| {
        tokio::spawn(async move {
            let execution_id = info.execution_id.clone();
            let status = match info.status {
                ProcessStatus::Completed => "completed",
                ProcessStatus::Timeout => "timeout",
                _ => "failed",
            };
            let payload = WebhookPayload {
                execution_id,
                status: status.into(),
                stdout: info.stdout,
                stderr: info.stderr,
                exit_code: info.exit_code.unwrap_or(-1),
                execution_time: info.execution_time.unwrap_or_default(),
                timestamp: now_ts(),
                error: (status != "completed").then(|| format!("execution {status}")),
            };
            crate::webhook::deliver(url, &headers, secret.as_deref(), &payload).await;
        });
    });
    let started = start_background(&state, prepared, lang.name(), None, timeout, Some(done))?;
    Ok(Json(AsyncResponse {
        execution_id: started.execution_id,
        status: "queued".into(),
        callback_url,
        message: "Execution queued; the result will be POSTed to callback_url".into(),
        timestamp: now_ts(),
    }))
}

async fn processes(State(state): State<AppState>) -> Json<Value> {
    let processes = state.background.list();
    Json(json!({"count": processes.len(), "processes": processes, "timestamp": now_ts()}))
}

fn kill(state: &AppState, id: &str) -> ApiResult<Json<Value>> {
    let info = state
        .background
        .kill(id)
        .ok_or_else(|| ApiError::process_not_found(id))?;
    Ok(Json(json!({
        "process_id": info.process_id,
        "execution_id": info.execution_id,
        "status": info.status,
        "message": "Process killed",
        "timestamp": now_ts(),
    })))
}

async fn kill_path(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    kill(&state, &id)
}

#[derive(Deserialize)]
struct KillBody {
    process_id: String,
}

async fn kill_body(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<KillBody>,
) -> ApiResult<Json<Value>> {
    kill(&state, &body.process_id)
}
