//! `GET /health`: open, no database call (CONTRACT.md §2.1 #1).

use api_types::control::Health;
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    operation_id = "health",
    summary = "Liveness; no authentication, no database call",
    security(()),
    responses((status = 200, description = "Serving", body = Health))
)]
async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
