//! Screenshots (`GET` as the Python SDK sends it, `POST` as the OpenAPI document has it), regions,
//! window captures, and the display's size under its three SDKs' names.

use axum::extract::Query;
use axum::routing::{get, post};
use axum::{Json, Router};
use desktop::screen::{AVAILABLE, DisplayInfo, SetResolution};
use desktop::x11::Rect;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Desk, Png};
use crate::error::ApiResult;
use crate::http::extract::ApiJson;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/desktop/screenshot", get(screenshot).post(screenshot))
        .route("/desktop/screenshot/region", post(region))
        .route("/desktop/x11/capture_window", get(capture_window))
        .route("/desktop/display", get(display))
        .route("/desktop/display/current", get(display))
        .route("/desktop/display/info", get(display))
        .route("/desktop/display/available", get(available))
        .route("/desktop/display/resolutions", get(available))
        .route("/desktop/display/set", post(set))
        .route("/desktop/display/resolution", post(set))
}

async fn screenshot(Desk(d): Desk) -> ApiResult<Png> {
    Ok(Png(d.x.screenshot(None).await?))
}

async fn region(Desk(d): Desk, ApiJson(r): ApiJson<Rect>) -> ApiResult<Png> {
    Ok(Png(d.x.screenshot(Some(r)).await?))
}

#[derive(Deserialize)]
struct WindowQuery {
    window_id: Option<String>,
}

async fn capture_window(Desk(d): Desk, Query(q): Query<WindowQuery>) -> ApiResult<Png> {
    Ok(Png(d.capture_window(q.window_id.as_deref()).await?))
}

async fn display(Desk(d): Desk) -> ApiResult<Json<DisplayInfo>> {
    Ok(Json(d.display_info().await?))
}

async fn available(Desk(d): Desk) -> ApiResult<Json<Value>> {
    let current = d.display_info().await?;
    Ok(Json(json!({"resolutions": AVAILABLE, "current": current})))
}

async fn set(Desk(d): Desk, ApiJson(req): ApiJson<SetResolution>) -> ApiResult<Json<DisplayInfo>> {
    Ok(Json(d.set_resolution(&req).await?))
}
