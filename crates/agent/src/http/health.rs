//! Health, info and metrics routes (CONTRACT.md §3.0). `/health` is the only route without a token.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::metrics;
use crate::state::AppState;
use crate::util::now_ts;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The open route.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/info", get(info))
        .route("/ping", get(ping))
        .route("/system", get(system))
        .route("/metrics", get(snapshot))
        .route("/metrics/snapshot", get(snapshot))
        .route("/metrics/prometheus", get(prometheus))
}

fn uptime_human(secs: u64) -> String {
    format!("{}h{}m{}s", secs / 3600, secs / 60 % 60, secs % 60)
}

fn features(state: &AppState) -> Value {
    let langs = state.toolchains.languages();
    let python = langs.contains(&"python");
    json!({
        "code_execution": true, "file_operations": true, "terminal_access": true,
        "websocket_streaming": true, "rich_output": python, "background_jobs": true,
        "ipython_kernel": python, "system_metrics": true, "desktop": state.desktop.is_ok(),
        "languages": langs,
    })
}

async fn health(State(state): State<AppState>) -> Response {
    let ready = state.ready.load(Ordering::Relaxed);
    let secs = state.started.elapsed().as_secs();
    let body = json!({
        "status": if ready { "healthy" } else { "starting" },
        "agent": "warren-agent",
        "version": VERSION,
        "uptime": uptime_human(secs),
        "uptime_seconds": secs,
        "go_version": "n/a",
        "vm_id": state.auth.sandbox_id().unwrap_or_default(),
        "configured": state.auth.sandbox_id().is_some(),
        "features": features(&state),
        "active_streams": state.active_streams.load(Ordering::Relaxed),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn info(State(state): State<AppState>) -> Json<Value> {
    let endpoints = json!({
        "health": "GET /health", "info": "GET /info", "execute": "POST /execute",
        "execute_background": "POST /execute/background", "execute_async": "POST /execute/async",
        "execute_stream": "GET /execute/stream", "processes": "GET /execute/processes",
        "commands": "POST /commands/run", "commands_stream": "GET /commands/stream",
        "files_read": "GET /files/read", "files_write": "POST /files/write",
        "files_upload": "POST /files/upload", "files_download": "GET /files/download",
        "files_watch": "GET /files/watch", "env": "GET /env", "terminal": "GET /terminal",
        "metrics": "GET /metrics/snapshot",
    });
    Json(json!({
        "vm_id": state.auth.sandbox_id().unwrap_or_default(),
        "agent": "warren-agent",
        "agent_version": VERSION,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "go_version": "n/a",
        "vm_ip": state.config.listen.ip().to_string(),
        "vm_port": state.config.listen.port().to_string(),
        "start_time": state.started_at,
        "uptime": state.started.elapsed().as_secs_f64(),
        "endpoints": endpoints,
        "features": features(&state),
    }))
}

async fn ping() -> Json<Value> {
    Json(json!({"status": "ok", "message": "pong", "timestamp": now_ts()}))
}

async fn system(State(state): State<AppState>) -> Json<Value> {
    let mut v = metrics::system_json(&state.config.workspace);
    v["hostname"] = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
        .into();
    v["os"] = std::env::consts::OS.into();
    v["arch"] = std::env::consts::ARCH.into();
    v["uptime_seconds"] = state.started.elapsed().as_secs().into();
    v["timestamp"] = now_ts().into();
    Json(v)
}

fn snapshot_json(state: &AppState) -> Value {
    let m = &state.metrics;
    let requests = m.requests.load(Ordering::Relaxed);
    let errors = m.errors.load(Ordering::Relaxed);
    let cache = state.toolchains.stats();
    let lookups = cache.hits + cache.misses;
    json!({
        "uptime_seconds": state.started.elapsed().as_secs(),
        "total_requests": requests, "requests_total": requests,
        "total_errors": errors, "error_count": errors,
        "avg_duration_ms": m.avg_duration_ms(),
        "total_executions": m.executions.load(Ordering::Relaxed),
        "active_executions": m.active_executions.load(Ordering::Relaxed),
        "active_streams": state.active_streams.load(Ordering::Relaxed),
        "agent_rss_bytes": metrics::own_rss(),
        "system": metrics::system_json(&state.config.workspace),
        "process": {"count": crate::procs::system::list().len(),
                    "running": state.background.list().iter()
                        .filter(|p| p.status == api_types::agent::ProcessStatus::Running).count()},
        "cache": {"size": cache.size, "hits": cache.hits, "misses": cache.misses,
                  "hit_rate": if lookups == 0 { 0.0 } else { cache.hits as f64 / lookups as f64 }},
        "timestamp": now_ts(),
    })
}

async fn snapshot(State(state): State<AppState>) -> Json<Value> {
    Json(snapshot_json(&state))
}

async fn prometheus(State(state): State<AppState>) -> Response {
    let s = snapshot_json(&state);
    let n = |v: &Value| v.as_f64().unwrap_or(0.0);
    let body = format!(
        "# TYPE warren_agent_requests_total counter\nwarren_agent_requests_total {}\n\
         # TYPE warren_agent_errors_total counter\nwarren_agent_errors_total {}\n\
         # TYPE warren_agent_executions_total counter\nwarren_agent_executions_total {}\n\
         # TYPE warren_agent_active_executions gauge\nwarren_agent_active_executions {}\n\
         # TYPE warren_agent_uptime_seconds gauge\nwarren_agent_uptime_seconds {}\n\
         # TYPE warren_agent_resident_memory_bytes gauge\nwarren_agent_resident_memory_bytes {}\n\
         # TYPE warren_system_memory_used_bytes gauge\nwarren_system_memory_used_bytes {}\n",
        n(&s["total_requests"]),
        n(&s["total_errors"]),
        n(&s["total_executions"]),
        n(&s["active_executions"]),
        n(&s["uptime_seconds"]),
        n(&s["agent_rss_bytes"]),
        n(&s["system"]["memory"]["used"]),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
