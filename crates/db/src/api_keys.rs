//! `api_keys`: stored as key id + SHA-256 of the secret.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: i64,
    pub key_id: String,
    pub organization_id: i64,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    org_id: i64,
    key_id: &str,
    name: Option<&str>,
    secret_hash: &[u8],
) -> Result<ApiKey, sqlx::Error> {
    sqlx::query_as!(
        ApiKey,
        "INSERT INTO api_keys (organization_id, key_id, name, secret_hash) VALUES ($1, $2, $3, $4)
         RETURNING id, key_id, organization_id, name, created_at, last_used_at, revoked_at",
        org_id,
        key_id,
        name,
        secret_hash,
    )
    .fetch_one(db)
    .await
}

pub async fn list_for_org(
    db: impl PgExecutor<'_>,
    org_id: i64,
) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as!(
        ApiKey,
        "SELECT id, key_id, organization_id, name, created_at, last_used_at, revoked_at
         FROM api_keys WHERE organization_id = $1 ORDER BY id",
        org_id,
    )
    .fetch_all(db)
    .await
}

/// Revokes a key by its key id; `false` when no unrevoked key has that id.
pub async fn revoke(db: impl PgExecutor<'_>, key_id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL",
        key_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
