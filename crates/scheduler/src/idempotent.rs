//! Creates answered by a sandbox made before: the organization's live sandbox of the requested
//! `name`, or the sandbox an earlier create with the same `Idempotency-Key` and body made (until the
//! key expires, `sandboxes.idempotency_ttl_seconds`). Postgres decides races: a partial unique index
//! on live names and the key's primary key, each written in the create's transaction.

use std::time::Duration;

use api_error::ApiError;
use api_types::control::CreateSandbox;
use db::sandboxes::SandboxRow;
use lifecycle::SandboxStatus;
use sandbox_token::TokenKey;
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use crate::Scheduler;
use crate::create::create_timeout;

/// How often a create answered by a sandbox still being made reads its row.
const SETTLE_POLL: Duration = Duration::from_millis(100);
/// Longest `Idempotency-Key` accepted.
const MAX_KEY: usize = 255;

/// What a create answers: the sandbox, its token key, and whether this request made it.
pub struct Created {
    pub row: SandboxRow,
    pub key: TokenKey,
    pub created: bool,
}

/// An `Idempotency-Key` presented with a create, with the hash of the request it came with.
pub struct Idempotency {
    pub key: String,
    pub request_hash: Vec<u8>,
}

impl Idempotency {
    /// The key (1–255 visible ASCII characters) of `req`. The hash is over the request as parsed:
    /// unknown fields and key order do not change it.
    pub fn new(key: &str, req: &CreateSandbox) -> Result<Self, ApiError> {
        if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::InvalidRequest(
                "Idempotency-Key must have 1 to 255 visible ASCII characters".into(),
            ));
        }
        let body = serde_json::to_vec(req).map_err(ApiError::internal)?;
        Ok(Self {
            key: key.to_owned(),
            request_hash: Sha256::digest(&body).to_vec(),
        })
    }
}

/// The sandbox an earlier create with this key made; 422 `IDEMPOTENCY_KEY_REUSED` when that
/// create had another body. `None` when the key is new (or expired).
pub async fn replay(
    state: &Scheduler,
    org_id: i64,
    idempotency: &Idempotency,
) -> Result<Option<Created>, ApiError> {
    let Some(made) = db::idempotency::find(&state.pool, org_id, &idempotency.key).await? else {
        return Ok(None);
    };
    if made.request_hash != idempotency.request_hash {
        return Err(ApiError::IdempotencyKeyReused);
    }
    existing(state, org_id, &made.sandbox_id).await.map(Some)
}

/// The organization's live sandbox named `name`, if there is one.
pub async fn by_name(
    state: &Scheduler,
    org_id: i64,
    name: &str,
) -> Result<Option<Created>, ApiError> {
    match db::sandboxes::find_live_by_name(&state.pool, org_id, name).await? {
        Some(row) => existing(state, org_id, &row.id).await.map(Some),
        None => Ok(None),
    }
}

/// A sandbox an earlier create made, once that create is over: while the row is `creating` this
/// waits, up to the create timeout. A deleted sandbox is 404, as a get would answer.
async fn existing(state: &Scheduler, org_id: i64, id: &str) -> Result<Created, ApiError> {
    let deadline = Instant::now() + create_timeout(state);
    loop {
        let row = db::sandboxes::get(&state.pool, org_id, id)
            .await?
            .ok_or(ApiError::SandboxNotFound)?;
        if row.state() != SandboxStatus::Creating {
            let key = TokenKey::from_bytes(&row.token_key).map_err(ApiError::internal)?;
            return Ok(Created {
                row,
                key,
                created: false,
            });
        }
        if Instant::now() >= deadline {
            return Err(ApiError::InvalidTransition(
                "A create of this sandbox is still under way; retry".into(),
            ));
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_the_parsed_request_and_keys_are_checked() {
        let parse = |s: &str| serde_json::from_str::<CreateSandbox>(s).unwrap();
        let a = parse(r#"{"template_name":"base","env_vars":{"A":"1","B":"2"}}"#);
        let b = parse(r#"{"env_vars":{"B":"2","A":"1"},"template_name":"base","extra":1}"#);
        let c = parse(r#"{"template_name":"base","env_vars":{"A":"1"}}"#);
        let hash = |r: &CreateSandbox| Idempotency::new("k", r).unwrap().request_hash;
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&c));
        for bad in ["", "a b", "é", &"k".repeat(256)] {
            assert!(Idempotency::new(bad, &a).is_err(), "{bad:?}");
        }
    }
}
