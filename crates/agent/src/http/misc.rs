//! The smaller routes: system process list, Jupyter sessions, cache, and the warm-pool
//! configure step.

use api_types::agent::ConfigureRequest;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use sandbox_token::TokenKey;
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::state::AppState;
use crate::util::now_ts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/processes", get(system_processes))
        .route("/jupyter/sessions", get(jupyter_sessions))
        .route("/cache/stats", get(cache_stats))
        .route("/cache/clear", post(cache_clear))
}

/// Routes that carry their own authorization.
pub fn configure_routes() -> Router<AppState> {
    Router::new().route("/_warren/configure", post(configure))
}

async fn system_processes() -> Json<Value> {
    let processes = tokio::task::spawn_blocking(crate::procs::system::list)
        .await
        .unwrap_or_default();
    Json(json!({"count": processes.len(), "processes": processes, "timestamp": now_ts()}))
}

async fn jupyter_sessions(State(state): State<AppState>) -> Json<Value> {
    let s = state.kernel.session().await;
    let sessions: Vec<Value> = s
        .pid
        .map(|pid| {
            json!({
                "kernel_id": s.kernel_id, "id": s.kernel_id, "name": "python3",
                "execution_state": if s.busy { "busy" } else { "idle" },
                "connections": 1, "last_activity": s.last_activity, "pid": pid,
            })
        })
        .into_iter()
        .collect();
    Json(json!({"sessions": sessions, "count": sessions.len(), "timestamp": now_ts()}))
}

async fn cache_stats(State(state): State<AppState>) -> Json<Value> {
    let s = state.toolchains.stats();
    let lookups = s.hits + s.misses;
    let hit_rate = if lookups == 0 {
        0.0
    } else {
        s.hits as f64 / lookups as f64
    };
    Json(json!({
        "hits": s.hits, "misses": s.misses, "hit_rate": hit_rate, "size": s.size, "count": s.size,
        "cache": {"size": s.size, "max_size": crate::lang::Language::ALL.len(),
                  "total_hits": s.hits, "ttl": 0},
        "timestamp": now_ts(),
    }))
}

async fn cache_clear(State(state): State<AppState>) -> Json<Value> {
    let removed = state.toolchains.clear();
    Json(json!({"message": "Cache cleared", "entries_removed": removed, "success": true}))
}

async fn configure(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ConfigureRequest>,
) -> ApiResult<Json<Value>> {
    let key = TokenKey::from_hex(&req.token_key)
        .map_err(|_| ApiError::bad_request("token_key must be 64 hex characters"))?;
    if req.sandbox_id.is_empty() {
        return Err(ApiError::missing("sandbox_id"));
    }
    crate::env::check_vars(&req.env_vars)?;
    state
        .auth
        .configure(&headers, Identity::new(req.sandbox_id.clone(), key))?;
    state.env.merge(req.env_vars);
    if let Ok(desktop) = &state.desktop {
        desktop.vnc.set_link(req.viewer_base, req.preview_epoch);
    }
    tracing::info!(sandbox.id = %req.sandbox_id, "agent configured");
    Ok(Json(
        json!({"configured": true, "sandbox_id": req.sandbox_id}),
    ))
}
