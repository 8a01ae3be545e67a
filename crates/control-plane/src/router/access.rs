//! Who may pass: agent hosts need the sandbox token as `Authorization: Bearer` (the agent checks it
//! again); port previews of a sandbox created with `private_previews: true` accept it as a bearer token,
//! a `?token=` query parameter or the `warren_token` cookie, and a valid `?token=` sets that cookie so a
//! browser keeps access to the preview's other pages and assets.

use http::{HeaderMap, HeaderValue, Uri, header};
use sandbox_token::{TokenError, TokenKey};

use super::error::RouterError;
use super::host::SandboxHost;

/// The cookie a private preview accepts the token in.
pub const COOKIE: &str = "warren_token";

/// Checks the token; `Ok(Some(cookie))` when it came from `?token=` and should be set as a cookie.
pub fn check(
    headers: &HeaderMap,
    uri: &Uri,
    host: &SandboxHost,
    key: &TokenKey,
    preview: bool,
    secure: bool,
) -> Result<Option<HeaderValue>, RouterError> {
    let (token, from_query) = match bearer(headers) {
        Some(t) => (t, false),
        None if preview => match query_token(uri) {
            Some(t) => (t, true),
            None => (
                cookie_token(headers).ok_or(RouterError::TokenInvalid)?,
                false,
            ),
        },
        None => return Err(RouterError::TokenInvalid),
    };
    match key.verify(token, host.id(), chrono::Utc::now().timestamp()) {
        Ok(_) => {}
        Err(TokenError::Expired) => return Err(RouterError::TokenExpired),
        Err(_) => return Err(RouterError::TokenInvalid),
    }
    if !from_query {
        return Ok(None);
    }
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}");
    Ok(HeaderValue::from_str(&cookie).ok())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(sandbox_token::from_authorization)
}

fn query_token(uri: &Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> SandboxHost {
        super::super::host::parse("3000-abcdefgh1234.s.test", "s.test").unwrap()
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn token_sources() {
        let key = TokenKey::generate();
        let token = key.sign("abcdefgh1234", chrono::Utc::now().timestamp() + 60);
        let plain: Uri = "/".parse().unwrap();
        let bearer = headers(&[(header::AUTHORIZATION, &format!("Bearer {token}"))]);
        assert_eq!(
            check(&bearer, &plain, &host(), &key, false, false).unwrap(),
            None
        );

        let query: Uri = format!("/x?a=1&token={token}").parse().unwrap();
        assert!(
            matches!(
                check(&HeaderMap::new(), &query, &host(), &key, false, false),
                Err(RouterError::TokenInvalid)
            ),
            "agent hosts take bearer tokens only"
        );
        let cookie = check(&HeaderMap::new(), &query, &host(), &key, true, true)
            .unwrap()
            .unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.starts_with(&format!("warren_token={token};")) && cookie.ends_with("Secure"),
            "{cookie}"
        );

        let jar = headers(&[(header::COOKIE, &format!("a=b; warren_token={token}"))]);
        assert_eq!(
            check(&jar, &plain, &host(), &key, true, false).unwrap(),
            None
        );

        let other = TokenKey::generate().sign("abcdefgh1234", chrono::Utc::now().timestamp() + 60);
        let wrong = headers(&[(header::AUTHORIZATION, &format!("Bearer {other}"))]);
        assert!(matches!(
            check(&wrong, &plain, &host(), &key, true, false),
            Err(RouterError::TokenInvalid)
        ));
        let old = key.sign("abcdefgh1234", 10);
        let expired = headers(&[(header::AUTHORIZATION, &format!("Bearer {old}"))]);
        assert!(matches!(
            check(&expired, &plain, &host(), &key, false, false),
            Err(RouterError::TokenExpired)
        ));
        assert!(matches!(
            check(&HeaderMap::new(), &plain, &host(), &key, true, false),
            Err(RouterError::TokenInvalid)
        ));
    }
}
