//! [`KeyRing`]: verifying each kind of credential with the current key, and after a rotation with the
//! previous one until its grace deadline.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{
    AGENT_PREFIX, Claims, DEFAULT_MAX_LIFETIME_SECONDS, KEY_PUSH_PREFIX, PREVIEW_PREFIX,
    PreviewClaims, PreviewTarget, TokenError, TokenKey,
};

/// The keys a sandbox's tokens verify with: the current one, and after a rotation the previous one
/// until its grace deadline (unix seconds). Debug shows no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    current: TokenKey,
    previous: Option<(TokenKey, i64)>,
}

impl KeyRing {
    pub fn new(current: TokenKey) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    /// The ring with `previous` also accepted until `until` (unix seconds).
    pub fn with_previous(mut self, previous: TokenKey, until: i64) -> Self {
        self.previous = Some((previous, until));
        self
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> &TokenKey {
        &self.current
    }

    /// The previous key and its deadline, while it still verifies at `now`.
    pub fn previous(&self, now: i64) -> Option<(&TokenKey, i64)> {
        self.previous
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(k, until)| (k, *until))
    }

    /// The key among those valid at `now` under which `sig` is the MAC of `fields`.
    fn signer(&self, fields: &[&str], sig: &str, now: i64) -> Result<&TokenKey, TokenError> {
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        std::iter::once(&self.current)
            .chain(self.previous(now).map(|(k, _)| k))
            .find(|k| k.signed(fields, &sig))
            .ok_or(TokenError::BadSignature)
    }

    /// Verifies an agent token for `sandbox_id` at `now`, refusing expiries more than `max_lifetime`
    /// seconds ahead.
    pub fn verify(
        &self,
        token: &str,
        sandbox_id: &str,
        now: i64,
        max_lifetime: i64,
    ) -> Result<Claims, TokenError> {
        let [id, exp, sig] = split(token, AGENT_PREFIX)?;
        let expires_at = number(exp)?;
        self.signer(&[AGENT_PREFIX, id, exp], sig, now)?;
        check_common(id, sandbox_id, expires_at, now, max_lifetime)?;
        Ok(Claims {
            sandbox_id: id.to_owned(),
            expires_at,
        })
    }

    /// Verifies a preview token for a request to `target` at `now`.
    pub fn verify_preview(
        &self,
        token: &str,
        target: PreviewTarget<'_>,
        now: i64,
        max_lifetime: i64,
    ) -> Result<PreviewClaims, TokenError> {
        let [id, port, epoch, exp, sig] = split(token, PREVIEW_PREFIX)?;
        let claims = PreviewClaims {
            sandbox_id: id.to_owned(),
            port: Some(number(port)?).filter(|p| *p != 0),
            epoch: number(epoch)?,
            expires_at: number(exp)?,
        };
        self.signer(&[PREVIEW_PREFIX, id, port, epoch, exp], sig, now)?;
        check_common(id, target.sandbox_id, claims.expires_at, now, max_lifetime)?;
        if claims.epoch != target.epoch {
            return Err(TokenError::Revoked);
        }
        if claims.port.is_some_and(|p| p != target.port) {
            return Err(TokenError::WrongPort);
        }
        Ok(claims)
    }

    /// Verifies a key push's authorization for installing `new_key` on `sandbox_id`; returns the key
    /// that signed it (the agent keeps it as the previous key during the grace period).
    pub fn verify_key_push(
        &self,
        token: &str,
        sandbox_id: &str,
        now: i64,
        new_key: &TokenKey,
    ) -> Result<&TokenKey, TokenError> {
        let [id, exp, sig] = split(token, KEY_PUSH_PREFIX)?;
        let expires_at = number(exp)?;
        let signer = self.signer(&[KEY_PUSH_PREFIX, id, exp, &new_key.to_hex()], sig, now)?;
        check_common(
            id,
            sandbox_id,
            expires_at,
            now,
            DEFAULT_MAX_LIFETIME_SECONDS,
        )?;
        Ok(signer)
    }
}

fn check_common(
    id: &str,
    sandbox_id: &str,
    expires_at: i64,
    now: i64,
    max_lifetime: i64,
) -> Result<(), TokenError> {
    if id != sandbox_id {
        return Err(TokenError::WrongSandbox);
    }
    if expires_at <= now {
        return Err(TokenError::Expired);
    }
    if expires_at - now > max_lifetime {
        return Err(TokenError::TooLong);
    }
    Ok(())
}

/// The `N` dot-separated fields after `prefix` (the last one the MAC); ids are never empty.
fn split<'a, const N: usize>(token: &'a str, prefix: &str) -> Result<[&'a str; N], TokenError> {
    let rest = token
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('.'))
        .ok_or(TokenError::Malformed)?;
    let mut parts = rest.split('.');
    let fields: [&str; N] = std::array::from_fn(|_| parts.next().unwrap_or_default());
    if parts.next().is_some() || fields.iter().any(|f| f.is_empty()) {
        return Err(TokenError::Malformed);
    }
    Ok(fields)
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, TokenError> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Malformed);
    }
    s.parse().map_err(|_| TokenError::Malformed)
}
