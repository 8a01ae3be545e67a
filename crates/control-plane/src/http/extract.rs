//! Extractors whose refusals use the error envelope: a JSON body that tolerates an empty body, a
//! query string and the authenticated caller.
//!
//! They also refuse NUL bytes, in any JSON string (keys included), query value or path parameter:
//! every one of them ends up in Postgres text (which cannot hold NUL), a Docker call or a file
//! name, so this is the one place that keeps them out (400 `INVALID_REQUEST`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use api_error::ApiError;

/// A JSON body, parsed whatever the `Content-Type`. An empty body reads as `{}`; malformed JSON
/// (non-UTF-8 included) is `INVALID_JSON`, well-formed JSON of the wrong shape `INVALID_REQUEST`,
/// and a body over `server.max_body_bytes` `PAYLOAD_TOO_LARGE`. Unknown fields are ignored.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::InvalidRequest("could not read the request body".into())
            }
        })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let parsed = serde_json::from_slice(text).map(JsonBody).map_err(|e| {
            if e.is_data() {
                ApiError::InvalidRequest(format!("Invalid request body: {e}"))
            } else {
                ApiError::InvalidJson(e.to_string())
            }
        })?;
        // A NUL can only be written `\u0000` in JSON; look closer only when that text is there.
        if contains_bytes(text, br"\u0000") {
            let value: serde_json::Value =
                serde_json::from_slice(text).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
            if let Some(at) = nul_at(&value, String::new()) {
                return Err(ApiError::InvalidRequest(format!(
                    "Invalid request body: {at} holds a NUL character"
                )));
            }
        }
        Ok(parsed)
    }
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Where (a JSON pointer; `/` for the root) the first string holding NUL is, if any.
fn nul_at(v: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    let shown = |at: String| if at.is_empty() { "/".to_owned() } else { at };
    match v {
        Value::String(s) if s.contains('\0') => Some(shown(at)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, format!("{at}/{i}"))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            if k.contains('\0') {
                Some(format!("a key of {}", shown(at.clone())))
            } else {
                nul_at(item, format!("{at}/{k}"))
            }
        }),
        _ => None,
    }
}

/// Refuses a NUL (`%00` once decoded) in `part` of the URI.
fn refuse_nul(part: &str, what: &str) -> Result<(), ApiError> {
    if part.contains("%00") {
        return Err(ApiError::InvalidRequest(format!(
            "Invalid {what}: NUL characters are not allowed"
        )));
    }
    Ok(())
}

/// A query string; a value of the wrong type is `INVALID_REQUEST`.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        refuse_nul(parts.uri.query().unwrap_or_default(), "query string")?;
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| {
                ApiError::InvalidRequest(format!("Invalid query string: {}", e.body_text()))
            })
    }
}

/// The organization the request's API key belongs to (set by the auth middleware).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub organization_id: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .copied()
            .ok_or(ApiError::MissingApiKey)
    }
}

/// A path parameter; an undecodable one is `INVALID_REQUEST`.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        refuse_nul(parts.uri.path(), "path")?;
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| ApiPath(p))
            .map_err(|e| ApiError::InvalidRequest(format!("Invalid path: {}", e.body_text())))
    }
}
