//! `idempotency_keys`: the sandbox each `Idempotency-Key` of a create made, with a hash of the
//! request that made it, until the key expires.

use sqlx::{PgConnection, PgExecutor};

/// What a key made.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub request_hash: Vec<u8>,
    pub sandbox_id: String,
}

/// The organization's key, unless it expired.
pub async fn find(
    db: impl PgExecutor<'_>,
    org_id: i64,
    key: &str,
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as!(
        KeyRow,
        "SELECT request_hash, sandbox_id FROM idempotency_keys
         WHERE organization_id = $1 AND key = $2 AND expires_at > now()",
        org_id,
        key,
    )
    .fetch_optional(db)
    .await
}

/// Records that `key` made `sandbox_id` (replacing an expired key); `false` when a live key of
/// that name exists (a concurrent create with the same key committed first).
pub async fn claim(
    conn: &mut PgConnection,
    org_id: i64,
    key: &str,
    request_hash: &[u8],
    sandbox_id: &str,
    ttl_seconds: i64,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query_scalar!(
        r#"INSERT INTO idempotency_keys (organization_id, key, request_hash, sandbox_id, expires_at)
           VALUES ($1, $2, $3, $4, now() + $5::bigint * interval '1 second')
           ON CONFLICT (organization_id, key) DO UPDATE
               SET request_hash = EXCLUDED.request_hash, sandbox_id = EXCLUDED.sandbox_id,
                   expires_at = EXCLUDED.expires_at
               WHERE idempotency_keys.expires_at <= now()
           RETURNING 1 AS "one!""#,
        org_id,
        key,
        request_hash,
        sandbox_id,
        ttl_seconds,
    )
    .fetch_optional(conn)
    .await?;
    Ok(claimed.is_some())
}

/// Forgets the key a failed create claimed, so that a retry creates again.
pub async fn forget(
    db: impl PgExecutor<'_>,
    org_id: i64,
    key: &str,
    sandbox_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM idempotency_keys
         WHERE organization_id = $1 AND key = $2 AND sandbox_id = $3",
        org_id,
        key,
        sandbox_id,
    )
    .execute(db)
    .await
    .map(drop)
}

/// Deletes expired keys; how many.
pub async fn delete_expired(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM idempotency_keys WHERE expires_at <= now()")
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
