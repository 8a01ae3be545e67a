//! `/desktop/*`: the union of the paths `openapi_agent.json`, the Python SDK (`hopx_ai/desktop.py`)
//! and the TypeScript SDK (`@hopx-ai/sdk`) send (docs/desktop.md has the table). An image without the
//! display stack answers every one of them 501 `DESKTOP_NOT_AVAILABLE` with the programs it lacks.

mod clipboard;
mod debug;
mod input;
mod recording;
mod screen;
mod vnc;
mod windows;
mod x11;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::routing::any;
use desktop::Desktop;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::http::extract::parse_json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(vnc::routes())
        .merge(input::routes())
        .merge(screen::routes())
        .merge(windows::routes())
        .merge(clipboard::routes())
        .merge(recording::routes())
        .merge(x11::routes())
        .merge(debug::routes())
        .route("/desktop", any(unknown))
        .route("/desktop/{*rest}", any(unknown))
}

/// The desktop of this sandbox, once its display answers; 501 when the image has none.
pub struct Desk(pub Desktop);

impl FromRequestParts<AppState> for Desk {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let desktop = available(state)?;
        desktop.ready(crate::desktop::READY_WAIT).await?;
        Ok(Self(desktop))
    }
}

/// The desktop, or 501 with what the image lacks.
pub fn available(state: &AppState) -> Result<Desktop, ApiError> {
    state
        .desktop
        .clone()
        .map_err(|missing| desktop::DesktopError::not_available(missing).into())
}

/// What an operation with nothing to report answers.
pub type Done = axum::Json<serde_json::Value>;

pub fn done() -> Done {
    axum::Json(serde_json::json!({"success": true}))
}

/// A PNG image.
pub struct Png(pub Vec<u8>);

impl axum::response::IntoResponse for Png {
    fn into_response(self) -> axum::response::Response {
        use axum::http::header;
        (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            self.0,
        )
            .into_response()
    }
}

/// A JSON body that may be absent (the TypeScript SDK posts some routes without one): empty is
/// `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "INVALID_REQUEST", e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// A desktop path no SDK sends: 501 without the stack, else 404.
async fn unknown(state: axum::extract::State<AppState>, uri: axum::http::Uri) -> ApiError {
    match available(&state) {
        Err(e) => e,
        Ok(_) => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("No desktop operation at {}", uri.path()),
        ),
    }
}
