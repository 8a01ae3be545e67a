//! Who may pass, and what the app behind a port never sees.
//!
//! - Agent hosts need the agent token as `Authorization: Bearer` (the agent checks it again).
//! - Port previews are public unless the sandbox was created with `private_previews: true`, or the
//!   port is the desktop viewer's ([`DESKTOP_VIEWER_PORT`], always private, see
//!   [`needs_preview_token`]); then they need a preview token (`POST /v1/sandboxes/{id}/preview-links`), never the agent token, as a
//!   bearer token, a `?warren_preview=` query parameter or the `warren_preview` cookie (an
//!   `Authorization` that is no Warren token is the app's own and left alone). A valid
//!   `?warren_preview=` sets that cookie so a browser keeps access to the preview's other pages.
//! - On every preview request, private or public, [`strip`] removes Warren credentials (that query
//!   parameter, that cookie, a bearer agent or preview token) before the request reaches the app.
//!
//! Tokens verify with the sandbox's key ring (the previous key until its grace deadline) and are
//! refused when their expiry lies beyond the maximum token lifetime.

use api_types::agent::DESKTOP_VIEWER_PORT;
use http::{HeaderMap, HeaderValue, Uri, header};
use sandbox_token::{PreviewTarget, TokenError};

use super::error::RouterError;
use super::host::{SandboxHost, Target};
use super::routes::Running;

/// The cookie and the query parameter a private preview accepts its preview token in.
pub const PREVIEW_PARAM: &str = "warren_preview";

/// Checks the agent token of a request to the agent host.
pub fn check_agent(
    headers: &HeaderMap,
    host: &SandboxHost,
    route: &Running,
    max_lifetime: i64,
) -> Result<(), RouterError> {
    let token = bearer(headers).ok_or(RouterError::TokenInvalid)?;
    let now = chrono::Utc::now().timestamp();
    route
        .keys
        .verify(token, host.id(), now, max_lifetime)
        .map(drop)
        .map_err(refusal)
}

/// Whether a request to a port preview must carry a preview token ([`check_preview`]): when the
/// sandbox has private previews, and always for the desktop viewer's port
/// ([`DESKTOP_VIEWER_PORT`]), whatever `private_previews` says: whoever reaches the viewer sees the
/// screen and drives the mouse and keyboard, so it is never public (docs/security.md).
pub fn needs_preview_token(host: &SandboxHost, route: &Running) -> bool {
    match host.target {
        Target::Agent => false,
        Target::Port(port) => route.private_previews || port == DESKTOP_VIEWER_PORT,
    }
}

/// Checks the preview token of a request to a private preview; `Ok(Some(cookie))` when it came from
/// the query and should be set as a cookie.
pub fn check_preview(
    headers: &HeaderMap,
    uri: &Uri,
    host: &SandboxHost,
    route: &Running,
    max_lifetime: i64,
    secure: bool,
) -> Result<Option<HeaderValue>, RouterError> {
    // A bearer token that is no Warren credential is the app's own: it is neither checked nor stripped.
    let warren_bearer = bearer(headers).filter(|t| sandbox_token::is_sandbox_credential(t));
    let (token, from_query) = match warren_bearer {
        Some(t) => (t, false),
        None => match query_token(uri) {
            Some(t) => (t, true),
            None => (
                cookie_token(headers).ok_or(RouterError::TokenInvalid)?,
                false,
            ),
        },
    };
    let target = PreviewTarget {
        sandbox_id: host.id(),
        port: host.port(),
        epoch: route.preview_epoch,
    };
    let now = chrono::Utc::now().timestamp();
    let claims = route
        .keys
        .verify_preview(token, target, now, max_lifetime)
        .map_err(refusal)?;
    if !from_query {
        return Ok(None);
    }
    let secure = if secure { "; Secure" } else { "" };
    let max_age = claims.expires_at - now;
    let cookie = format!(
        "{PREVIEW_PARAM}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    );
    Ok(HeaderValue::from_str(&cookie).ok())
}

fn refusal(e: TokenError) -> RouterError {
    match e {
        TokenError::Expired => RouterError::TokenExpired,
        TokenError::WrongPort => RouterError::TokenWrongPort,
        _ => RouterError::TokenInvalid,
    }
}

/// Removes Warren credentials from a preview request: the `warren_preview` query parameter and cookie,
/// and an `Authorization` header carrying an agent or preview token. Anything else is left as is.
pub fn strip(headers: &mut HeaderMap, uri: &mut Uri) {
    if bearer(headers).is_some_and(sandbox_token::is_sandbox_credential) {
        headers.remove(header::AUTHORIZATION);
    }
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| {
            let Ok(v) = v.to_str() else {
                return Some(v.clone());
            };
            let kept: Vec<&str> = v
                .split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty() && preview_value(c).is_none())
                .collect();
            (!kept.is_empty()).then(|| HeaderValue::from_str(&kept.join("; ")).ok())?
        })
        .collect();
    headers.remove(header::COOKIE);
    for c in cookies {
        headers.append(header::COOKIE, c);
    }
    if let Some(query) = uri.query()
        && query.split('&').any(|p| preview_value(p).is_some())
    {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| preview_value(p).is_none())
            .collect();
        let path_and_query = if kept.is_empty() {
            uri.path().to_owned()
        } else {
            format!("{}?{}", uri.path(), kept.join("&"))
        };
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = path_and_query.parse().ok();
        if let Ok(stripped) = Uri::from_parts(parts) {
            *uri = stripped;
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(sandbox_token::from_authorization)
}

/// The value of a `warren_preview=` query or (trimmed) cookie pair.
fn preview_value(pair: &str) -> Option<&str> {
    pair.strip_prefix(PREVIEW_PARAM)?.strip_prefix('=')
}

fn query_token(uri: &Uri) -> Option<&str> {
    uri.query()?.split('&').find_map(preview_value)
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| preview_value(c.trim()))
}

#[cfg(test)]
mod tests;
