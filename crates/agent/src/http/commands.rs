//! Command routes (CONTRACT.md §3.2): `/commands/run` and `/commands/background`.

use api_types::agent::{BackgroundResponse, CommandRequest, CommandResponse};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use crate::error::ApiResult;
use crate::http::execute::start_background;
use crate::http::extract::ApiJson;
use crate::run::{DEFAULT_TIMEOUT, timeout_of};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/commands/run", post(run))
        .route("/commands/background", post(background))
}

/// Human-readable form of the command, for the response.
pub fn display(req: &CommandRequest) -> String {
    match &req.args {
        Some(args) if req.command == "bash" && args.len() == 2 && args[0] == "-c" => {
            args[1].clone()
        }
        Some(args) => std::iter::once(req.command.as_str())
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        None => req.command.clone(),
    }
}

async fn run(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CommandRequest>,
) -> ApiResult<Json<CommandResponse>> {
    let prepared = state.prepare_command(&req)?;
    let timeout = timeout_of(req.timeout, DEFAULT_TIMEOUT);
    let _permit = state.permit().await?;
    let (pid, out) = state.run_prepared(prepared, timeout, None).await?;
    let mut stderr = out.stderr.clone();
    if out.timed_out {
        stderr.push_str(&format!(
            "\nCommand timed out after {}s\n",
            timeout.as_secs()
        ));
    }
    Ok(Json(CommandResponse {
        success: out.success(),
        exit_code: if out.timed_out { 124 } else { out.exit_code },
        execution_time: out.elapsed,
        truncated: out.truncated,
        stdout: out.stdout,
        stderr,
        command: display(&req),
        pid,
        timestamp: crate::util::now_ts(),
    }))
}

async fn background(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CommandRequest>,
) -> ApiResult<Json<BackgroundResponse>> {
    let prepared = state.prepare_command(&req)?;
    let timeout = timeout_of(req.timeout, 3600);
    start_background(&state, prepared, "command", req.name.clone(), timeout, None).map(Json)
}
