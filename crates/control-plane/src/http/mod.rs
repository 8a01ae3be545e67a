//! The HTTP layer: one module per resource, assembled and wrapped in middleware here.

pub mod auth;
pub mod extract;
mod health;
mod sandbox_actions;
mod sandboxes;
mod templates;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::request_id;
use crate::state::AppState;

/// The whole API. Middleware, outermost first: request id (so every response, errors and panics
/// included, carries `X-Request-ID`) → trace → catch-panic → body limit → (on `/v1`) auth + rate limit.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .merge(sandboxes::routes())
        .merge(sandbox_actions::routes())
        .merge(templates::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::layer));
    Router::new()
        .merge(health::routes())
        .merge(v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.server.max_body_bytes))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn(request_id::layer))
        .with_state(state)
}

/// What a router-only server (`router.mode = "router"`) answers on hosts that are not sandboxes:
/// `/health`, else 404.
pub fn health_router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .fallback(not_found)
        .layer(middleware::from_fn(request_id::layer))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
}
