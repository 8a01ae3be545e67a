//! The HTTP layer: one module per resource, assembled and wrapped in middleware here.

pub mod auth;
mod credentials;
pub mod extract;
mod health;
mod mcp;
pub mod openapi;
mod sandbox_actions;
mod sandboxes;
mod snapshots;
mod template_build;
mod template_uploads;
mod templates;
mod volumes;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::metrics;
use crate::state::AppState;
use api_error::ApiError;
use api_error::request_id;

/// The whole API. Middleware, outermost first: request id (so every response, errors and panics
/// included, carries `X-Request-ID`) → trace → catch-panic → minimum body rate → body limit → (on
/// matched routes) metrics → (on `/v1` and `/mcp`) auth + rate limit.
pub fn router(state: AppState) -> Router {
    let body_rate = state.settings.server.body_rate();
    let v1 = Router::new()
        .merge(sandboxes::routes())
        .merge(sandbox_actions::routes())
        .merge(credentials::routes())
        .merge(templates::routes())
        .merge(template_build::routes())
        .merge(template_uploads::routes())
        .merge(volumes::routes())
        .merge(snapshots::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::layer));
    let api = Router::new()
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(template_uploads::public_routes())
        .merge(v1)
        .merge(mcp::routes(&state))
        .route("/metrics", get(metrics::serve))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::layer,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.server.max_body_bytes))
        .layer(middleware::from_fn(move |req, next| {
            body_rate.enforce(req, next, || ApiError::BodyTooSlow.into_response())
        }))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn(request_id::layer))
        .with_state(state);
    // Before routing: the SDKs' template builder sends `{base_url}/v1/...` as is, so a base URL
    // with a trailing slash gives `//v1/...` (CONTRACT.md §1.3).
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .map_request(collapse_leading_slashes)
            .service(api),
    )
}

fn collapse_leading_slashes(mut req: axum::extract::Request) -> axum::extract::Request {
    let uri = req.uri();
    if uri.path().starts_with("//") {
        let pq = uri.path_and_query().map_or("", |pq| pq.as_str());
        let fixed = format!("/{}", pq.trim_start_matches('/'));
        if let Ok(pq) = fixed.parse::<http::uri::PathAndQuery>() {
            let mut parts = uri.clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
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
