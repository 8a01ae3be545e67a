//! `/desktop/vnc/*`: start, stop and look at the VNC server. The Python SDK posts `start` with
//! `{display, password?}` and `stop` with `{}`; the TypeScript SDK sends both as GETs without a body.
//! Every answer is the server's status with the browser viewer's links (`desktop::vnc::VncStatus`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use desktop::vnc::{self, PreviewSigner, VncStatus};
use serde::Deserialize;

use super::{Desk, OptionalJson};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/desktop/vnc/start", get(start_get).post(start_post))
        .route("/desktop/vnc/stop", get(stop).post(stop_post))
        .route("/desktop/vnc/status", get(status))
        .route("/desktop/vnc/info", get(status))
}

/// `POST /desktop/vnc/start`.
#[derive(Debug, Default, Deserialize)]
struct StartRequest {
    /// The display to serve; only the sandbox's own (`1`) exists.
    display: Option<i64>,
    /// 1 to 8 printable characters; none: the current one, or a generated one at the first start.
    password: Option<String>,
}

async fn start_post(
    State(state): State<AppState>,
    Desk(desktop): Desk,
    OptionalJson(req): OptionalJson<StartRequest>,
) -> Result<Json<VncStatus>, ApiError> {
    vnc::check_display(&desktop, req.display)?;
    vnc::start(&desktop, req.password).await?;
    Ok(Json(vnc::status(&desktop, signer(&state).as_ref())))
}

async fn start_get(
    State(state): State<AppState>,
    Desk(desktop): Desk,
) -> Result<Json<VncStatus>, ApiError> {
    vnc::start(&desktop, None).await?;
    Ok(Json(vnc::status(&desktop, signer(&state).as_ref())))
}

/// `POST /desktop/vnc/stop`: the body (`{}`) says nothing, but must be JSON when present.
async fn stop_post(
    state: State<AppState>,
    desk: Desk,
    OptionalJson(_): OptionalJson<serde_json::Value>,
) -> Json<VncStatus> {
    stop(state, desk).await
}

async fn stop(State(state): State<AppState>, Desk(desktop): Desk) -> Json<VncStatus> {
    vnc::stop(&desktop).await;
    let mut status = vnc::status(&desktop, signer(&state).as_ref());
    // The supervisor may still be sending SIGTERM; it is stopped as far as anyone should know.
    status.running = false;
    Json(status)
}

async fn status(State(state): State<AppState>, Desk(desktop): Desk) -> Json<VncStatus> {
    Json(vnc::status(&desktop, signer(&state).as_ref()))
}

/// Signs the viewer's links with the current key, valid as long as the router accepts. Never the
/// agent token: a preview token opens port 6080 of this sandbox only, and the epoch revokes it.
fn signer(state: &AppState) -> Option<PreviewSigner> {
    let (sandbox_id, key) = state.auth.current_key()?;
    Some(PreviewSigner {
        sandbox_id,
        key,
        port: api_types::agent::DESKTOP_VIEWER_PORT,
        expires_at: crate::util::unix_now() + state.config.max_token_lifetime,
    })
}
