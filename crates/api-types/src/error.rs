//! The two error envelopes of CONTRACT.md §1.6.
//!
//! The control plane's `error` is an **object** (the Python SDK reads `error.message`, `error.code`,
//! `error.details`), with the same message, code and request id repeated at the top level for the JS SDK
//! and the docs. The agent's `error` is a **string** (the Python agent client uses it as the exception
//! message) with an UPPER_SNAKE `code` beside it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The inner object of a control-plane error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControlErrorObject {
    pub message: String,
    pub code: String,
    pub request_id: String,
    /// Machine-readable context, per code (`docs/api.md`); often empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: Map<String, Value>,
}

/// A control-plane error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControlErrorBody {
    pub error: ControlErrorObject,
    pub message: String,
    pub code: String,
    pub request_id: String,
    /// Seconds until a rate-limited client may retry (429 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ControlErrorBody {
    pub fn new(
        code: &str,
        message: impl Into<String>,
        request_id: impl Into<String>,
        details: Map<String, Value>,
    ) -> Self {
        let message = message.into();
        let request_id = request_id.into();
        let retry_after = details.get("retry_after_seconds").and_then(Value::as_u64);
        Self {
            error: ControlErrorObject {
                message: message.clone(),
                code: code.to_owned(),
                request_id: request_id.clone(),
                details,
            },
            message,
            code: code.to_owned(),
            request_id,
            retry_after,
        }
    }
}

/// An agent error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentErrorBody {
    /// The message, as a string (never an object: see the module docs).
    pub error: String,
    pub message: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
    /// Repeated from `details.path` for the JS SDK's `FileNotFoundError`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub timestamp: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_envelope_shape() {
        let mut details = Map::new();
        details.insert("retry_after_seconds".into(), 7.into());
        let body =
            ControlErrorBody::new("RATE_LIMIT_EXCEEDED", "Too many requests", "req_1", details);
        insta::assert_json_snapshot!(body, @r###"
        {
          "error": {
            "message": "Too many requests",
            "code": "RATE_LIMIT_EXCEEDED",
            "request_id": "req_1",
            "details": {
              "retry_after_seconds": 7
            }
          },
          "message": "Too many requests",
          "code": "RATE_LIMIT_EXCEEDED",
          "request_id": "req_1",
          "retry_after": 7
        }
        "###);
    }
}
