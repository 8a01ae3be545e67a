//! Global environment routes (CONTRACT.md §3.4). PUT replaces, PATCH merges, DELETE clears; the
//! variables apply to every later execution, command, stream and terminal.

use api_types::agent::EnvBody;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::env::check_vars;
use crate::error::ApiResult;
use crate::http::extract::ApiJson;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/env", get(get_all).put(put).patch(patch).delete(clear))
}

fn current(state: &AppState) -> Json<Value> {
    let vars = state.env.get_all();
    Json(json!({"env_vars": vars, "count": vars.len(), "timestamp": crate::util::now_ts()}))
}

async fn get_all(State(state): State<AppState>) -> Json<Value> {
    current(&state)
}

async fn put(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EnvBody>,
) -> ApiResult<Json<Value>> {
    check_vars(&body.env_vars)?;
    state.env.replace(body.env_vars);
    Ok(current(&state))
}

async fn patch(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EnvBody>,
) -> ApiResult<Json<Value>> {
    check_vars(&body.env_vars)?;
    if body.merge == Some(false) {
        state.env.replace(body.env_vars);
    } else {
        state.env.merge(body.env_vars);
    }
    Ok(current(&state))
}

async fn clear(State(state): State<AppState>) -> Json<Value> {
    state.env.replace(Default::default());
    current(&state)
}
