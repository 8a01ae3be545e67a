//! Who may call the agent: `Authorization: Bearer <token>` verified with the sandbox's token key, and
//! the one-time warm-pool configure step that hands the agent that key (see `docs/agent.md`).

use std::sync::RwLock;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sandbox_token::{TokenError, TokenKey};
use secrecy::{ExposeSecret, SecretString};
use subtle_eq::constant_time_eq;

use crate::error::ApiError;
use crate::state::AppState;

/// The sandbox's identity, known at start or after the configure step.
#[derive(Clone)]
pub struct Identity {
    pub sandbox_id: String,
    pub key: TokenKey,
}

/// Identity plus the configure secret, which is spent by its first successful use.
pub struct AuthState {
    identity: RwLock<Option<Identity>>,
    configure_secret: RwLock<Option<SecretString>>,
}

impl AuthState {
    pub fn new(identity: Option<Identity>, configure_secret: Option<SecretString>) -> Self {
        Self {
            identity: RwLock::new(identity),
            configure_secret: RwLock::new(configure_secret),
        }
    }

    pub fn sandbox_id(&self) -> Option<String> {
        self.identity
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|i| i.sandbox_id.clone())
    }

    /// Checks a bearer token.
    pub fn verify(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let token = bearer(headers).ok_or_else(ApiError::token_invalid)?;
        let guard = self.identity.read().unwrap_or_else(|e| e.into_inner());
        let id = guard.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "TOKEN_INVALID",
                "This sandbox is not configured yet",
            )
        })?;
        match id
            .key
            .verify(token, &id.sandbox_id, crate::util::unix_now())
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

    fn auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn configure_once_then_tokens_verify() {
        let state = AuthState::new(None, Some("s3cret".into()));
        let key = TokenKey::generate();
        let token = key.sign("sbx", crate::util::unix_now() + 60);
        assert_eq!(
            state
                .verify(&auth(&format!("Bearer {token}")))
                .unwrap_err()
                .code,
            "TOKEN_INVALID"
        );
        let identity = Identity {
            sandbox_id: "sbx".into(),
            key: key.clone(),
        };
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
}
