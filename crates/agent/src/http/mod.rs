//! The HTTP surface: one router, one middleware stack.
//!
//! Layers, outermost first: request id + metrics + error envelope (`request_id.rs`) → catch-panic →
//! minimum body rate → body limit → per-route token check (everything but `/health`, the
//! configure step and the key push, which carry their own authorization).

pub mod activity;
pub mod commands;
pub mod desktop;
pub mod env;
pub mod execute;
pub mod extract;
pub mod files;
pub mod health;
pub mod keys;
pub mod listing;
pub mod misc;
pub mod processes;
pub mod request_id;
pub mod transfer;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest JSON body (a base64 `/files/write` is the big one); uploads have their own limit.
const JSON_BODY_LIMIT: usize = 256 << 20;

pub fn router(state: AppState) -> Router {
    let body_rate = state.config.body_rate;
    let protected = Router::new()
        .merge(health::routes())
        .merge(activity::routes())
        .merge(execute::routes())
        .merge(commands::routes())
        .merge(files::routes())
        .merge(transfer::routes(state.config.max_upload))
        .merge(env::routes())
        .merge(misc::routes())
        .merge(desktop::routes())
        .merge(processes::routes())
        .merge(crate::ws::routes(&state))
        .route_layer(from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ));
    Router::new()
        .merge(health::public_routes())
        .merge(misc::configure_routes())
        .merge(keys::routes())
        .merge(protected)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(from_fn(move |req, next| {
            body_rate.enforce(req, next, too_slow)
        }))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(from_fn_with_state(state.clone(), request_id::layer))
        .with_state(state)
}

fn too_slow() -> Response {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "REQUEST_TIMEOUT",
        "The request body arrived too slowly (WARREN_AGENT_BODY_MIN_RATE)",
    )
    .into_response()
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("handle the request", "handler panicked").into_response()
}
