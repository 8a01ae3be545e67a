//! Shared assertions and snapshot redaction.

use reqwest::Response;
use serde_json::Value;

/// Keys whose values change from run to run; replaced by `"[key]"` (nulls kept, to pin the shape).
const VOLATILE: &[&str] = &[
    "id",
    "request_id",
    "created_at",
    "updated_at",
    "expires_at",
    "started_at",
    "token_expires_at",
    "auth_token",
    "public_host",
    "direct_url",
    "next_cursor",
];

pub fn redacted(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if VOLATILE.contains(&k.as_str()) && !v.is_null() && !v.is_object() {
                        Value::String(format!("[{k}]"))
                    } else {
                        redacted(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redacted).collect()),
        v => v.clone(),
    }
}

/// Status and JSON body; asserts the body is JSON and `X-Request-ID` is present.
pub async fn status_json(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    assert!(
        r.headers().contains_key("x-request-id"),
        "no X-Request-ID on {status}"
    );
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        ct.starts_with("application/json"),
        "content type {ct:?} on {status}"
    );
    let body: Value = r.json().await.expect("JSON body");
    (status, body)
}

/// Asserts an error envelope with this status and code, with request ids matching the header.
pub async fn assert_error(r: Response, status: u16, code: &str) -> Value {
    let header_id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (got, body) = status_json(r).await;
    assert_eq!(got, status, "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["error"]["code"], code);
    assert_eq!(body["error"]["message"], body["message"]);
    assert!(body["error"]["details"].is_object());
    assert_eq!(body["request_id"].as_str(), header_id.as_deref());
    assert_eq!(body["error"]["request_id"], body["request_id"]);
    body
}
