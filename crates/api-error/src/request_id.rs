//! `X-Request-ID`: taken from the client when it sent a sane one, otherwise generated; echoed on every
//! response and available to error envelopes through a task-local.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue};

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id, or `"unknown"` outside a request.
pub fn current() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "unknown".into())
}

fn from_client(value: Option<&HeaderValue>) -> Option<String> {
    let v = value?.to_str().ok()?;
    let sane = !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    sane.then(|| v.to_owned())
}

/// The client's id when it sent a sane one, else a new one.
pub fn of(headers: &HeaderMap) -> String {
    of_value(headers.get(HEADER))
}

/// The same from the client's `X-Request-ID` value, if any.
pub fn of_value(value: Option<&HeaderValue>) -> String {
    from_client(value).unwrap_or_else(|| format!("req_{}", uuid::Uuid::new_v4().simple()))
}

/// Middleware: runs the rest of the stack inside the request id's scope and sets the header.
pub async fn layer(req: Request, next: Next) -> Response {
    let id = of(req.headers());
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, v);
    }
    response
}
