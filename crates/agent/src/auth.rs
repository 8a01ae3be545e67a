//! Who may call the agent: `Authorization: Bearer <token>` verified with the sandbox's token keys (the
//! current one, and after a rotation the previous one until its grace deadline), the one-time warm-pool
//! configure step that hands the agent its key, and the key push that installs a new key after a
//! rotation (see `docs/agent.md`). Agent tokens whose expiry lies more than the maximum lifetime ahead
//! are refused even when correctly signed; preview tokens and key pushes are never agent tokens.

use std::sync::RwLock;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sandbox_token::{KeyRing, TokenError, TokenKey};
use secrecy::{ExposeSecret, SecretString};
use subtle_eq::constant_time_eq;

use crate::error::ApiError;
use crate::state::AppState;

/// The sandbox's identity, known at start or after the configure step; its keys change on rotation.
#[derive(Clone)]
pub struct Identity {
    pub sandbox_id: String,
    pub keys: KeyRing,
}

impl Identity {
    pub fn new(sandbox_id: String, key: TokenKey) -> Self {
        Self {
            sandbox_id,
            keys: KeyRing::new(key),
        }
    }
}

/// Identity plus the configure secret, which is spent by its first successful use.
pub struct AuthState {
    identity: RwLock<Option<Identity>>,
    configure_secret: RwLock<Option<SecretString>>,
    /// Longest lifetime (seconds) an agent token may claim.
    max_lifetime: i64,
}

impl AuthState {
    pub fn new(
        identity: Option<Identity>,
        configure_secret: Option<SecretString>,
        max_lifetime: i64,
    ) -> Self {
        Self {
            identity: RwLock::new(identity),
            configure_secret: RwLock::new(configure_secret),
            max_lifetime,
        }
    }

    pub fn sandbox_id(&self) -> Option<String> {
        self.identity
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|i| i.sandbox_id.clone())
    }

    /// The sandbox's id and the key new tokens are signed with (after a rotation, the new one).
    pub fn current_key(&self) -> Option<(String, TokenKey)> {
        self.identity
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|i| (i.sandbox_id.clone(), i.keys.current().clone()))
    }

    /// Checks a bearer token.
    pub fn verify(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let token = bearer(headers).ok_or_else(ApiError::token_invalid)?;
        let guard = self.identity.read().unwrap_or_else(|e| e.into_inner());
        let id = guard.as_ref().ok_or_else(not_configured)?;
        let now = crate::util::unix_now();
        match id
            .keys
            .verify(token, &id.sandbox_id, now, self.max_lifetime)
        {
            Ok(_) => Ok(()),
            Err(TokenError::Expired) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "TOKEN_EXPIRED",
                "Token expired",
            )),
            Err(_) => Err(ApiError::token_invalid()),
        }
    }

    /// Installs `new_key` as the current key if `headers` carry a key push for it signed by a key
    /// the agent accepts now; the signer stays valid until `previous_until` (unix seconds; none, or
    /// a past instant: at once refused).
    pub fn rotate(
        &self,
        headers: &HeaderMap,
        new_key: TokenKey,
        previous_until: Option<i64>,
    ) -> Result<(), ApiError> {
        let push = bearer(headers).ok_or_else(ApiError::token_invalid)?;
        let mut guard = self.identity.write().unwrap_or_else(|e| e.into_inner());
        let id = guard.as_mut().ok_or_else(not_configured)?;
        let now = crate::util::unix_now();
        let signer = id
            .keys
            .verify_key_push(push, &id.sandbox_id, now, &new_key)
            .map_err(|_| ApiError::token_invalid())?
            .clone();
        let mut keys = KeyRing::new(new_key);
        if let Some(until) = previous_until.filter(|u| *u > now) {
            keys = keys.with_previous(signer, until);
        }
        id.keys = keys;
        Ok(())
    }

    /// Consumes the configure secret if `headers` carry it, then installs `identity`.
    pub fn configure(&self, headers: &HeaderMap, identity: Identity) -> Result<(), ApiError> {
        let mut secret = self
            .configure_secret
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let Some(expected) = secret.as_ref().map(ExposeSecret::expose_secret) else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "ALREADY_CONFIGURED",
                "This sandbox cannot be configured (again)",
            ));
        };
        let given = bearer(headers).unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "TOKEN_INVALID",
                "Invalid configure secret",
            ));
        }
        *secret = None;
        *self.identity.write().unwrap_or_else(|e| e.into_inner()) = Some(identity);
        Ok(())
    }
}

fn not_configured() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "TOKEN_INVALID",
        "This sandbox is not configured yet",
    )
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(sandbox_token::from_authorization)
}

/// Route layer: refuses requests without a valid token.
pub async fn require_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    state.auth.verify(req.headers())?;
    Ok(next.run(req).await)
}

mod subtle_eq {
    /// Compares without an early exit on the first differing byte.
    pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use sandbox_token::{DEFAULT_MAX_LIFETIME_SECONDS as MAX, PreviewClaims};

    fn auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn configure_once_then_tokens_verify() {
        let state = AuthState::new(None, Some("s3cret".into()), MAX);
        let key = TokenKey::generate();
        let token = key.sign("sbx", crate::util::unix_now() + 60);
        assert_eq!(
            state
                .verify(&auth(&format!("Bearer {token}")))
                .unwrap_err()
                .code,
            "TOKEN_INVALID"
        );
        let identity = Identity::new("sbx".into(), key.clone());
        assert_eq!(
            state
                .configure(&auth("Bearer wrong"), identity.clone())
                .unwrap_err()
                .code,
            "TOKEN_INVALID"
        );
        state
            .configure(&auth("Bearer s3cret"), identity.clone())
            .unwrap();
        state.verify(&auth(&format!("Bearer {token}"))).unwrap();
        assert_eq!(
            state
                .configure(&auth("Bearer s3cret"), identity)
                .unwrap_err()
                .code,
            "ALREADY_CONFIGURED"
        );
        let old = key.sign("sbx", 10);
        assert_eq!(
            state
                .verify(&auth(&format!("Bearer {old}")))
                .unwrap_err()
                .code,
            "TOKEN_EXPIRED"
        );
    }

    fn code(state: &AuthState, token: &str) -> Option<&'static str> {
        state
            .verify(&auth(&format!("Bearer {token}")))
            .err()
            .map(|e| e.code)
    }

    #[test]
    fn preview_tokens_and_overlong_tokens_are_refused() {
        let key = TokenKey::generate();
        let state = AuthState::new(Some(Identity::new("sbx".into(), key.clone())), None, MAX);
        let now = crate::util::unix_now();
        let preview = key.sign_preview(&PreviewClaims {
            sandbox_id: "sbx".into(),
            port: None,
            epoch: 0,
            expires_at: now + 60,
        });
        assert_eq!(code(&state, &preview), Some("TOKEN_INVALID"));
        let push = key.sign_key_push("sbx", now + 60, &TokenKey::generate());
        assert_eq!(code(&state, &push), Some("TOKEN_INVALID"));
        assert_eq!(
            code(&state, &key.sign("sbx", 4_102_444_800)),
            Some("TOKEN_INVALID")
        );
        assert_eq!(code(&state, &key.sign("sbx", now + 60)), None);
    }

    #[test]
    fn key_pushes_rotate_with_a_grace_period() {
        let old = TokenKey::generate();
        let state = AuthState::new(Some(Identity::new("sbx".into(), old.clone())), None, MAX);
        let now = crate::util::unix_now();
        let old_token = old.sign("sbx", now + 600);
        let new = TokenKey::generate();
        let stranger = TokenKey::generate().sign_key_push("sbx", now + 60, &new);
        let refused = state.rotate(&auth(&format!("Bearer {stranger}")), new.clone(), None);
        assert_eq!(refused.unwrap_err().code, "TOKEN_INVALID");
        let agent_token_as_push =
            state.rotate(&auth(&format!("Bearer {old_token}")), new.clone(), None);
        assert_eq!(agent_token_as_push.unwrap_err().code, "TOKEN_INVALID");

        let push = old.sign_key_push("sbx", now + 60, &new);
        state
            .rotate(
                &auth(&format!("Bearer {push}")),
                new.clone(),
                Some(now + 300),
            )
            .unwrap();
        assert_eq!(code(&state, &old_token), None, "old key within its grace");
        assert_eq!(code(&state, &new.sign("sbx", now + 600)), None);

        let newest = TokenKey::generate();
        let push = new.sign_key_push("sbx", now + 60, &newest);
        state
            .rotate(&auth(&format!("Bearer {push}")), newest.clone(), None)
            .unwrap();
        assert_eq!(code(&state, &old_token), Some("TOKEN_INVALID"));
        assert_eq!(
            code(&state, &new.sign("sbx", now + 600)),
            Some("TOKEN_INVALID")
        );
        assert_eq!(code(&state, &newest.sign("sbx", now + 600)), None);
    }
}
