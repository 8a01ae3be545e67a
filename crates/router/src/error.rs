//! Refusals the router makes itself. They use the agent's envelope (CONTRACT.md §1.6: on a sandbox
//! host the SDKs parse agent errors, whose `error` must be a string), carry stable codes, and are
//! marked with `X-Warren-Router: 1` so they are never mistaken for the agent's or the app's answers.

use api_types::error::AgentErrorBody;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use lifecycle::SandboxStatus;
use serde_json::{Map, Value};

use api_error::chain;

/// The header on every response the router made up.
pub const MARK_HEADER: &str = "x-warren-router";

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("Sandbox not found")]
    NotFound,
    #[error("Sandbox is {0}")]
    NotRunning(SandboxStatus),
    #[error("Invalid or missing token")]
    TokenInvalid,
    #[error("Token expired")]
    TokenExpired,
    #[error("Preview token is bound to another port")]
    TokenWrongPort,
    #[error("sandbox unreachable on port {port}")]
    Unreachable {
        port: u16,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("invalid request target")]
    BadTarget,
    #[error("more than one Host header")]
    DuplicateHost,
    #[error("too many connections to the sandbox (limit {limit})")]
    TooManyConnections { limit: usize },
    #[error("database unavailable")]
    Database(#[source] sqlx::Error),
    #[error("the auto-paused sandbox could not be resumed: {0}")]
    NotResumed(String),
}

impl RouterError {
    fn parts(&self) -> (StatusCode, &'static str, String, Map<String, Value>) {
        let mut details = Map::new();
        let (status, code, message) = match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "SANDBOX_NOT_FOUND",
                "Sandbox not found".to_owned(),
            ),
            Self::NotRunning(status) => {
                details.insert("status".into(), status.as_str().into());
                let hint = match (status, status.in_progress()) {
                    (_, Some(action)) => format!("; a {} is under way", action.verb()),
                    (SandboxStatus::Paused, _) => "; resume it first".into(),
                    (SandboxStatus::Stopped, _) => "; start it first".into(),
                    _ => String::new(),
                };
                (
                    StatusCode::CONFLICT,
                    "SANDBOX_NOT_RUNNING",
                    format!("Sandbox is {status}{hint}"),
                )
            }
            Self::TokenInvalid => (
                StatusCode::UNAUTHORIZED,
                "TOKEN_INVALID",
                "Invalid or missing token".to_owned(),
            ),
            Self::TokenExpired => (
                StatusCode::UNAUTHORIZED,
                "TOKEN_EXPIRED",
                "Token expired".to_owned(),
            ),
            Self::TokenWrongPort => (
                StatusCode::FORBIDDEN,
                "TOKEN_WRONG_PORT",
                "This preview link opens another port of the sandbox".to_owned(),
            ),
            Self::Unreachable { port, .. } => {
                details.insert("port".into(), (*port).into());
                (
                    StatusCode::BAD_GATEWAY,
                    "SANDBOX_UNREACHABLE",
                    format!("Nothing answers on port {port} of the sandbox"),
                )
            }
            Self::TooManyConnections { limit } => {
                details.insert("limit".into(), (*limit).into());
                details.insert("retry_after_seconds".into(), 1.into());
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "TOO_MANY_CONNECTIONS",
                    format!(
                        "Too many requests and WebSockets open to this sandbox at once (at most \
                         {limit}); try again when some have ended"
                    ),
                )
            }
            Self::NotResumed(_) => {
                details.insert("retry_after_seconds".into(), 1.into());
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SANDBOX_NOT_RESUMED",
                    "The sandbox was paused for idleness and could not be resumed now; try again"
                        .to_owned(),
                )
            }
            Self::BadTarget => (
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "Invalid request target".to_owned(),
            ),
            // RFC 9112 §3.2: a request with more than one Host is a 400, whichever each names.
            Self::DuplicateHost => (
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "More than one Host header".to_owned(),
            ),
            Self::Database(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "Service temporarily unavailable".to_owned(),
            ),
        };
        (status, code, message, details)
    }

    /// The response, with `request_id` in the body and in `X-Request-ID`.
    pub fn into_response(self, request_id: String) -> Response {
        let (status, code, message, details) = self.parts();
        if matches!(self, Self::Database(_)) {
            tracing::error!(error.code = code, error.chain = %chain(&self), "router request failed");
        } else {
            tracing::debug!(error.code = code, error.chain = %chain(&self), "router refused a request");
        }
        let body = AgentErrorBody {
            error: message.clone(),
            message,
            code: code.to_owned(),
            details,
            path: None,
            request_id: Some(request_id.clone()),
            timestamp: api_types::timestamp::format(&chrono::Utc::now()),
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = Response::new(Body::from(json));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(MARK_HEADER, HeaderValue::from_static("1"));
        if status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert(api_error::request_id::HEADER, v);
        }
        response
    }
}
