//! `/desktop/x11/{ocr,find_element,wait_for,get_bounds}`: text on the screen.

use axum::routing::post;
use axum::{Json, Router};
use desktop::ocr::{FindRequest, OcrRequest};
use serde_json::{Value, json};

use super::{Desk, OptionalJson};
use crate::error::ApiResult;
use crate::http::extract::ApiJson;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/desktop/x11/ocr", post(ocr))
        .route("/desktop/x11/find_element", post(find_element))
        .route("/desktop/x11/wait_for", post(wait_for))
        .route("/desktop/x11/get_bounds", post(get_bounds))
}

async fn ocr(Desk(d): Desk, OptionalJson(req): OptionalJson<OcrRequest>) -> ApiResult<Json<Value>> {
    let text = d.ocr(&req).await?;
    let language = req.language.unwrap_or_else(|| "eng".into());
    Ok(Json(json!({"text": text, "language": language})))
}

async fn find_element(Desk(d): Desk, ApiJson(req): ApiJson<FindRequest>) -> ApiResult<Json<Value>> {
    let element = d.find_element(&req.text).await?;
    Ok(Json(
        json!({"found": element.is_some(), "element": element}),
    ))
}

async fn wait_for(Desk(d): Desk, ApiJson(req): ApiJson<FindRequest>) -> ApiResult<Json<Value>> {
    let element = d.wait_for(&req).await?;
    Ok(Json(json!({"found": true, "element": element})))
}

async fn get_bounds(Desk(d): Desk, ApiJson(req): ApiJson<FindRequest>) -> ApiResult<Json<Value>> {
    let e = d.bounds(&req.text).await?;
    Ok(Json(json!({
        "found": true, "text": e.text, "x": e.x, "y": e.y, "width": e.width, "height": e.height,
        "confidence": e.confidence,
    })))
}
