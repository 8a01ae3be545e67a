//! `/desktop/windows` (Python) and `/desktop/windows/list` (TypeScript, OpenAPI), and the window
//! operations.

use axum::routing::{get, post};
use axum::{Json, Router};
use desktop::windows::{Resize, WindowRef};
use serde_json::{Value, json};

use super::{Desk, Done, done};
use crate::error::ApiResult;
use crate::http::extract::ApiJson;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/desktop/windows", get(list))
        .route("/desktop/windows/list", get(list))
        .route("/desktop/windows/focus", post(focus))
        .route("/desktop/windows/close", post(close))
        .route("/desktop/windows/minimize", post(minimize))
        .route("/desktop/windows/resize", post(resize))
}

async fn list(Desk(d): Desk) -> ApiResult<Json<Value>> {
    let windows = d.windows().await?;
    Ok(Json(json!({"count": windows.len(), "windows": windows})))
}

async fn focus(Desk(d): Desk, ApiJson(req): ApiJson<WindowRef>) -> ApiResult<Done> {
    d.focus_window(&req).await?;
    Ok(done())
}

async fn close(Desk(d): Desk, ApiJson(req): ApiJson<WindowRef>) -> ApiResult<Done> {
    d.close_window(&req).await?;
    Ok(done())
}

async fn minimize(Desk(d): Desk, ApiJson(req): ApiJson<WindowRef>) -> ApiResult<Done> {
    d.minimize_window(&req).await?;
    Ok(done())
}

async fn resize(Desk(d): Desk, ApiJson(req): ApiJson<Resize>) -> ApiResult<Done> {
    d.resize_window(&req).await?;
    Ok(done())
}
