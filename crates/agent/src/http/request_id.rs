//! The outermost middleware: a request id on every response (`X-Request-ID`, echoed when the client
//! sent one), request metrics, and the agent's error envelope on every error a layer below produced
//! without it (unknown route, wrong method, body too large, refused WebSocket upgrade).

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(|| crate::util::new_id("req"), str::to_owned);
    let started = Instant::now();
    let mut res = REQUEST_ID
        .scope(id.clone(), async move {
            let res = next.run(req).await;
            if res.status().as_u16() >= 400 && !is_json(&res) {
                envelope_for(res.status()).into_response()
            } else {
                res
            }
        })
        .await;
    state.metrics.record_request(
        started.elapsed().as_micros() as u64,
        res.status().as_u16() >= 400,
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn envelope_for(status: StatusCode) -> ApiError {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("NOT_FOUND", "No such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => ("METHOD_NOT_ALLOWED", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "Request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("INVALID_REQUEST", "Unsupported content type"),
        s if s.is_client_error() => ("INVALID_REQUEST", "Invalid request"),
        _ => ("INTERNAL_ERROR", "Internal error"),
    };
    ApiError::new(status, code, message)
}
