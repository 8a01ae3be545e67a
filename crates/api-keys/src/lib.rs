//! API keys: `wrn_<key_id>_<secret>`, 16 and 64 hex digits. The key id is stored in clear and used for
//! lookup; only the SHA-256 of the secret is stored, and it is compared in constant time. The secret
//! has 256 bits of entropy, so a fast hash is enough.

use http::{HeaderMap, header};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "wrn_";
const KEY_ID_LEN: usize = 16;
const SECRET_LEN: usize = 64;

/// The key a request presents: `X-API-Key`, else `Authorization: Bearer` (the API, `/mcp`).
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    let api_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    api_key.or_else(|| {
        let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    })
}

/// A key split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    pub key_id: &'a str,
    pub secret: &'a str,
}

/// A freshly generated key: the full string (shown once) and what is stored.
pub struct NewKey {
    pub full: String,
    pub key_id: String,
    pub secret_hash: Vec<u8>,
}

pub fn generate() -> NewKey {
    let mut rng = rand::thread_rng();
    let mut id = [0u8; KEY_ID_LEN / 2];
    let mut secret = [0u8; SECRET_LEN / 2];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let key_id = hex::encode(id);
    let secret = hex::encode(secret);
    NewKey {
        full: format!("{PREFIX}{key_id}_{secret}"),
        secret_hash: hash_secret(&secret),
        key_id,
    }
}

/// Splits a presented key; `None` when it cannot be a Warren key (refused without a lookup).
pub fn parse(key: &str) -> Option<ParsedKey<'_>> {
    let rest = key.strip_prefix(PREFIX)?;
    let (key_id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(key_id, KEY_ID_LEN) && hex(secret, SECRET_LEN)).then_some(ParsedKey { key_id, secret })
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn secret_matches(secret: &str, stored_hash: &[u8]) -> bool {
    hash_secret(secret).ct_eq(stored_hash).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn key_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(presented(&h), Some("abc"));
        h.insert("x-api-key", HeaderValue::from_static("def"));
        assert_eq!(presented(&h), Some("def"));
        h.insert("x-api-key", HeaderValue::from_static(""));
        assert_eq!(presented(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented(&h), None);
    }

    #[test]
    fn generated_keys_parse_and_match() {
        let k = generate();
        let p = parse(&k.full).expect("parses");
        assert_eq!(p.key_id, k.key_id);
        assert!(secret_matches(p.secret, &k.secret_hash));
        assert!(!secret_matches(&"0".repeat(64), &k.secret_hash));
    }

    #[test]
    fn malformed_keys_are_refused() {
        let k = generate();
        for bad in [
            "",
            "wrn_",
            "sk_abc",
            &k.full[..k.full.len() - 1],
            &k.full.replace("wrn_", "wrx_"),
            &format!("{}0", k.full),
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
