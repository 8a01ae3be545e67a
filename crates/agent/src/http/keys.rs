//! `POST /_warren/keys`: the control plane installs a new token key after a rotation. Authorized by a
//! key-push token (`Authorization: Bearer wsk1...`) signed with a key the agent accepts now and bound
//! to the new key, so that neither an agent token nor a preview token, nor a push for another key,
//! installs anything. The key is never logged nor echoed.

use api_types::agent::KeyPushRequest;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use sandbox_token::TokenKey;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::state::AppState;

/// The route, which carries its own authorization.
pub fn routes() -> Router<AppState> {
    Router::new().route("/_warren/keys", post(push))
}

async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<KeyPushRequest>,
) -> ApiResult<Json<Value>> {
    let key = TokenKey::from_hex(&req.token_key)
        .map_err(|_| ApiError::bad_request("token_key must be 64 hex characters"))?;
    state.auth.rotate(&headers, key, req.previous_valid_until)?;
    if let (Some(epoch), Ok(desktop)) = (req.preview_epoch, &state.desktop) {
        desktop.vnc.set_epoch(epoch);
    }
    tracing::info!(
        previous_valid_until = req.previous_valid_until,
        "token key rotated"
    );
    Ok(Json(json!({"rotated": true})))
}
