//! Operator commands on organizations and API keys (the `org` and `key` subcommands; tests use them
//! too).

use sqlx::PgPool;

use api_keys as keys;
use db::{self, api_keys::ApiKey, orgs::Org};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("organization {0:?} not found")]
    OrgNotFound(String),
    #[error("organization {0:?} already exists")]
    OrgExists(String),
    #[error("no active API key with id {0:?}")]
    KeyNotFound(String),
    #[error("invalid value: {0}")]
    Invalid(&'static str),
    #[error("database error")]
    Db(#[from] sqlx::Error),
}

/// Creates an organization; `rate_limit` and `max_live_sandboxes` override the config defaults.
pub async fn create_org(
    pool: &PgPool,
    name: &str,
    rate_limit: Option<u32>,
    max_live_sandboxes: Option<u32>,
) -> Result<Org, AdminError> {
    if name.is_empty() || name.len() > 128 {
        return Err(AdminError::Invalid("name must be 1 to 128 bytes"));
    }
    let to_i32 = |v: Option<u32>| v.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
    if rate_limit == Some(0) {
        return Err(AdminError::Invalid("rate limit must be positive"));
    }
    db::orgs::insert(pool, name, to_i32(rate_limit), to_i32(max_live_sandboxes))
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                AdminError::OrgExists(name.to_owned())
            }
            _ => e.into(),
        })
}

async fn org(pool: &PgPool, name: &str) -> Result<Org, AdminError> {
    db::orgs::find_by_name(pool, name)
        .await?
        .ok_or_else(|| AdminError::OrgNotFound(name.to_owned()))
}

/// Creates a key for an organization; returns the stored record and the full key (shown once).
pub async fn create_key(
    pool: &PgPool,
    org_name: &str,
    label: Option<&str>,
) -> Result<(ApiKey, String), AdminError> {
    let org = org(pool, org_name).await?;
    let new = keys::generate();
    let key = db::api_keys::insert(pool, org.id, &new.key_id, label, &new.secret_hash).await?;
    Ok((key, new.full))
}

pub async fn list_keys(pool: &PgPool, org_name: &str) -> Result<Vec<ApiKey>, AdminError> {
    let org = org(pool, org_name).await?;
    Ok(db::api_keys::list_for_org(pool, org.id).await?)
}

/// Revokes a key by its key id (the part after `wrn_`). Every replica refuses it from its next
/// request: authentication reads the database on every request.
pub async fn revoke_key(pool: &PgPool, key_id: &str) -> Result<(), AdminError> {
    if db::api_keys::revoke(pool, key_id).await? {
        Ok(())
    } else {
        Err(AdminError::KeyNotFound(key_id.to_owned()))
    }
}
