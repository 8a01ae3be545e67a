//! `/desktop/debug/{logs,processes}`: the display stack's log and its supervised programs.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::Desk;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/desktop/debug/logs", get(logs))
        .route("/desktop/debug/processes", get(processes))
}

async fn logs(Desk(d): Desk) -> Json<Value> {
    let logs = d.logs.lines();
    Json(json!({"count": logs.len(), "logs": logs}))
}

async fn processes(Desk(d): Desk) -> Json<Value> {
    let processes = d.stack.statuses();
    Json(json!({"count": processes.len(), "processes": processes}))
}
