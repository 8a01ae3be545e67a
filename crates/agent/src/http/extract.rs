//! Extractors that reject in the agent's envelope: JSON bodies (any content type, `INVALID_JSON`,
//! `MISSING_PARAMETER`) and the `path` query parameter.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body parsed with the agent's error codes.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "INVALID_REQUEST", e.body_text()))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON document, classifying the failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                let msg = e.to_string();
                match msg
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next())
                {
                    Some(field) => ApiError::missing(field),
                    None => ApiError::bad_request(format!("Invalid request body: {msg}")),
                }
            }
            _ => ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                format!("Invalid JSON: {e}"),
            ),
        }
    })
}

/// The `path` query parameter, required.
pub struct PathQuery(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        query_param(parts.uri.query().unwrap_or(""), "path")
            .filter(|p| !p.is_empty())
            .map(PathQuery)
            .ok_or_else(|| ApiError::missing("path"))
    }
}

/// Reads one parameter of a query string (percent-decoded; `+` kept, since PyAsync does not encode).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = hex_pair(bytes[i + 1], bytes[i + 2])
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(hi: u8, lo: u8) -> Option<u8> {
    let d = |c: u8| (c as char).to_digit(16);
    Some((d(hi)? * 16 + d(lo)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            query_param("a=1&path=%2Ftmp%2Fx+y", "path").unwrap(),
            "/tmp/x+y"
        );
        assert_eq!(query_param("path=/w/a b", "path").unwrap(), "/w/a b");
        assert_eq!(query_param("x=1", "path"), None);
        assert_eq!(query_param("path=%zz", "path").unwrap(), "%zz");
    }

    #[test]
    fn json_errors_are_classified() {
        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[expect(dead_code)]
            code: String,
        }
        assert_eq!(parse_json::<T>(b"{").unwrap_err().code, "INVALID_JSON");
        assert_eq!(
            parse_json::<T>(b"{}").unwrap_err().code,
            "MISSING_PARAMETER"
        );
        assert_eq!(
            parse_json::<T>(b"{\"code\":1}").unwrap_err().code,
            "INVALID_REQUEST"
        );
    }
}
