//! `/desktop/clipboard/*`: `text` for the Python SDK, `content` for the TypeScript SDK.

use axum::routing::{get, post};
use axum::{Json, Router};
use desktop::clipboard::SetClipboard;
use serde_json::{Value, json};

use super::{Desk, Done, done};
use crate::error::ApiResult;
use crate::http::extract::ApiJson;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/desktop/clipboard/set", post(set))
        .route("/desktop/clipboard/get", get(read))
        .route("/desktop/clipboard/history", get(history))
}

async fn set(Desk(d): Desk, ApiJson(req): ApiJson<SetClipboard>) -> ApiResult<Done> {
    d.set_clipboard(req).await?;
    Ok(done())
}

async fn read(Desk(d): Desk) -> ApiResult<Json<Value>> {
    let text = d.get_clipboard().await?;
    Ok(Json(json!({"text": text, "content": text})))
}

async fn history(Desk(d): Desk) -> ApiResult<Json<Value>> {
    let history = d.clipboard.history();
    Ok(Json(json!({"count": history.len(), "history": history})))
}
