//! Per-sandbox credentials, all signed with the sandbox's [`TokenKey`] (a random 32-byte key the control
//! plane keeps in Postgres and hands to the agent when the sandbox starts, at the pool's configure step,
//! or by a key push after a rotation). Three kinds, each with its own prefix and MAC domain, so that
//! none is ever taken for another:
//!
//! ```text
//! agent token    wst1.{sandbox_id}.{expires}.{mac("wst1|{sandbox_id}|{expires}")}
//! preview token  wsp1.{sandbox_id}.{port}.{epoch}.{expires}.{mac("wsp1|{sandbox_id}|{port}|{epoch}|{expires}")}
//! key push       wsk1.{sandbox_id}.{expires}.{mac("wsk1|{sandbox_id}|{expires}|{new key as hex}")}
//! ```
//!
//! `mac` is base64url(HMAC-SHA256(key, ..)), `expires` unix seconds. The agent token opens the agent
//! host; the preview token opens the sandbox's port previews only (`port` 0: every port), while the
//! sandbox's preview `epoch` still equals the one it carries; the key push authorizes the agent route
//! that installs a new key. The agent and the router verify with a [`KeyRing`]: the current key, plus
//! the previous one until its grace deadline after a rotation. A token whose expiry lies further ahead
//! than the verifier's maximum lifetime is refused even when correctly signed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const AGENT_PREFIX: &str = "wst1";
const PREVIEW_PREFIX: &str = "wsp1";
const KEY_PUSH_PREFIX: &str = "wsk1";
const KEY_LEN: usize = 32;

/// The longest lifetime a token may claim unless a verifier is configured otherwise: 7 days.
pub const DEFAULT_MAX_LIFETIME_SECONDS: i64 = 7 * 24 * 3600;

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
    #[error("token lifetime exceeds the maximum")]
    TooLong,
    #[error("preview token is bound to another port")]
    WrongPort,
    #[error("preview token was revoked")]
    Revoked,
    #[error("token key must be {KEY_LEN} bytes of hex")]
    BadKey,
}

/// What a valid agent token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sandbox_id: String,
    /// Expiry, unix seconds.
    pub expires_at: i64,
}

/// What a preview token says (and, to sign one, what it should say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewClaims {
    pub sandbox_id: String,
    /// The one port it opens; `None`: every port of the sandbox.
    pub port: Option<u16>,
    /// The sandbox's preview epoch when it was issued; bumping the epoch revokes it.
    pub epoch: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
}

/// Where a preview request goes, to check a preview token against.
#[derive(Debug, Clone, Copy)]
pub struct PreviewTarget<'a> {
    pub sandbox_id: &'a str,
    pub port: u16,
    /// The sandbox's current preview epoch.
    pub epoch: i64,
}

impl TokenKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// Parses the hex form produced by [`TokenKey::to_hex`].
    pub fn from_hex(s: &str) -> Result<Self, TokenError> {
        let bytes = hex::decode(s.trim()).map_err(|_| TokenError::BadKey)?;
        Self::from_bytes(&bytes)
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

    /// The MAC of `fields` joined with `|`.
    fn mac(&self, fields: &[&str]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(fields.join("|").as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// `fields` joined with `.`, then the MAC.
    fn seal(&self, fields: &[&str]) -> String {
        let sig = URL_SAFE_NO_PAD.encode(self.mac(fields));
        format!("{}.{sig}", fields.join("."))
    }

    /// Whether `sig` (base64url) is the MAC of `fields`.
    fn signed(&self, fields: &[&str], sig: &[u8]) -> bool {
        self.mac(fields).ct_eq(sig).into()
    }

    /// Signs an agent token for `sandbox_id` valid until `expires_at` (unix seconds).
    pub fn sign(&self, sandbox_id: &str, expires_at: i64) -> String {
        self.seal(&[AGENT_PREFIX, sandbox_id, &expires_at.to_string()])
    }

    /// Verifies an agent token against this key alone, with the default maximum lifetime.
    pub fn verify(&self, token: &str, sandbox_id: &str, now: i64) -> Result<Claims, TokenError> {
        KeyRing::new(self.clone()).verify(token, sandbox_id, now, DEFAULT_MAX_LIFETIME_SECONDS)
    }

    /// Signs a preview token.
    pub fn sign_preview(&self, claims: &PreviewClaims) -> String {
        let port = claims.port.unwrap_or(0).to_string();
        let (epoch, expires) = (claims.epoch.to_string(), claims.expires_at.to_string());
        self.seal(&[PREVIEW_PREFIX, &claims.sandbox_id, &port, &epoch, &expires])
    }

    /// Signs the authorization of pushing `new_key` to the agent of `sandbox_id`.
    pub fn sign_key_push(&self, sandbox_id: &str, expires_at: i64, new_key: &TokenKey) -> String {
        let sig = URL_SAFE_NO_PAD.encode(self.mac(&[
            KEY_PUSH_PREFIX,
            sandbox_id,
            &expires_at.to_string(),
            &new_key.to_hex(),
        ]));
        format!("{KEY_PUSH_PREFIX}.{sandbox_id}.{expires_at}.{sig}")
    }
}

/// The token of an `Authorization` header value, `Bearer <token>`, as agents and the router take it.
pub fn from_authorization(value: &str) -> Option<&str> {
    value.strip_prefix("Bearer ").map(str::trim)
}

/// Whether `token` has the shape of a Warren sandbox credential (agent or preview token), which must
/// never reach an app behind a preview port.
pub fn is_sandbox_credential(token: &str) -> bool {
    [AGENT_PREFIX, PREVIEW_PREFIX, KEY_PUSH_PREFIX]
        .iter()
        .any(|p| token.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
}

mod ring;
#[cfg(test)]
mod tests;

pub use ring::KeyRing;
