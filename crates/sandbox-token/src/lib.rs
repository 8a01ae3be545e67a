//! Per-sandbox agent tokens.
//!
//! The control plane gives every sandbox a random 32-byte [`TokenKey`] (handed to the agent when the
//! sandbox starts, or at the pool's configure step) and signs tokens with it:
//!
//! ```text
//! wst1.{sandbox_id}.{expires_unix}.{base64url(HMAC-SHA256(key, "wst1|{sandbox_id}|{expires_unix}"))}
//! ```
//!
//! The agent and the router verify a token with the key alone, without calling the control plane, and
//! `token/refresh` simply signs a new expiry with the same key. The SDKs treat the token as opaque.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "wst1";
const KEY_LEN: usize = 32;

/// The secret a sandbox's tokens are signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey([u8; KEY_LEN]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// Why a token or key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token was issued for another sandbox")]
    WrongSandbox,
    #[error("token expired")]
    Expired,
    #[error("token key must be {KEY_LEN} bytes of hex")]
    BadKey,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sandbox_id: String,
    /// Expiry, unix seconds.
    pub expires_at: i64,
}

impl TokenKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// Parses the hex form produced by [`TokenKey::to_hex`].
    pub fn from_hex(s: &str) -> Result<Self, TokenError> {
        let bytes = hex::decode(s.trim()).map_err(|_| TokenError::BadKey)?;
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| TokenError::BadKey)?;
        Ok(Self(arr))
    }

    /// Builds a key from raw bytes (as stored in the database).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenError> {
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| TokenError::BadKey)?;
        Ok(Self(arr))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn mac(&self, sandbox_id: &str, expires_at: i64) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{PREFIX}|{sandbox_id}|{expires_at}").as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Signs a token for `sandbox_id` valid until `expires_at` (unix seconds).
    pub fn sign(&self, sandbox_id: &str, expires_at: i64) -> String {
        let sig = URL_SAFE_NO_PAD.encode(self.mac(sandbox_id, expires_at));
        format!("{PREFIX}.{sandbox_id}.{expires_at}.{sig}")
    }

    /// Verifies `token` for `sandbox_id` at time `now` (unix seconds).
    pub fn verify(&self, token: &str, sandbox_id: &str, now: i64) -> Result<Claims, TokenError> {
        let claims = self.verify_signature(token)?;
        if claims.sandbox_id != sandbox_id {
            return Err(TokenError::WrongSandbox);
        }
        if claims.expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Checks the signature only, returning what the token claims.
    pub fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = parse(token)?;
        let sig = token.rsplit('.').next().ok_or(TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        let expected = self.mac(&claims.sandbox_id, claims.expires_at);
        if expected.ct_eq(sig.as_slice()).into() {
            Ok(claims)
        } else {
            Err(TokenError::BadSignature)
        }
    }
}

/// The token of an `Authorization` header value, `Bearer <token>`, as agents and the router take it.
pub fn from_authorization(value: &str) -> Option<&str> {
    value.strip_prefix("Bearer ").map(str::trim)
}

/// Reads the claims of a token without checking its signature (to find which key to verify it with).
pub fn parse(token: &str) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(PREFIX), Some(id), Some(exp), Some(_sig), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenError::Malformed);
    };
    if id.is_empty() {
        return Err(TokenError::Malformed);
    }
    let expires_at = exp.parse().map_err(|_| TokenError::Malformed)?;
    Ok(Claims {
        sandbox_id: id.to_owned(),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn signed_token_verifies() {
        let key = TokenKey::generate();
        let token = key.sign("abc123", 2_000);
        let claims = key.verify(&token, "abc123", 1_000).unwrap();
        assert_eq!(claims.expires_at, 2_000);
        assert_eq!(claims.sandbox_id, "abc123");
    }

    #[test]
    fn bearer_header_values() {
        assert_eq!(from_authorization("Bearer wst1.a.1.x "), Some("wst1.a.1.x"));
        assert_eq!(from_authorization("Basic abc"), None);
        assert_eq!(from_authorization("bearer abc"), None);
    }

    #[test]
    fn refusals() {
        let key = TokenKey::generate();
        let token = key.sign("abc123", 2_000);
        assert_eq!(
            key.verify(&token, "other", 1_000),
            Err(TokenError::WrongSandbox)
        );
        assert_eq!(
            key.verify(&token, "abc123", 2_000),
            Err(TokenError::Expired)
        );
        let other = TokenKey::generate();
        assert_eq!(
            other.verify(&token, "abc123", 1_000),
            Err(TokenError::BadSignature)
        );
        let forged = token.replace(".2000.", ".9000.");
        assert_eq!(
            key.verify(&forged, "abc123", 1_000),
            Err(TokenError::BadSignature)
        );
        assert_eq!(key.verify("nope", "abc123", 0), Err(TokenError::Malformed));
    }

    #[test]
    fn key_round_trips_through_hex() {
        let key = TokenKey::generate();
        assert_eq!(TokenKey::from_hex(&key.to_hex()).unwrap(), key);
        assert_eq!(TokenKey::from_hex("abcd"), Err(TokenError::BadKey));
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_verify(s in ".*") {
            let key = TokenKey::generate();
            prop_assert!(key.verify(&s, "abc", 0).is_err());
        }
    }
}
