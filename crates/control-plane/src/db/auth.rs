//! Authentication and rate limiting in one statement, so a request costs one round trip.
//!
//! The statement looks the key up by its key id, and — only when the presented secret's hash matches,
//! so a wrong secret cannot spend an organization's budget — takes a token from the organization's
//! bucket in the UNLOGGED `rate_limit_buckets` table (shared by every replica), and refreshes
//! `last_used_at` at most once a minute. The caller still compares the hash in constant time: that
//! comparison is the authoritative one.
//!
//! Token bucket: capacity = the org's limit, refilled at `limit / window` tokens per second. Concurrent
//! updates of one bucket serialise on its row lock; `GREATEST` guards against a transaction whose
//! `now()` is older than the bucket's last refill.

use sqlx::PgExecutor;

#[derive(Debug, Clone)]
pub struct AuthRow {
    pub api_key_id: i64,
    pub organization_id: i64,
    pub secret_hash: Vec<u8>,
    pub tokens: Option<f64>,
    pub capacity: Option<f64>,
    pub refill_per_sec: Option<f64>,
    pub allowed: Option<bool>,
}

/// Runs the statement. `None` when no unrevoked key has this key id.
pub async fn authenticate_and_take(
    db: impl PgExecutor<'_>,
    key_id: &str,
    secret_hash: &[u8],
    default_limit: i32,
    window_seconds: f64,
) -> Result<Option<AuthRow>, sqlx::Error> {
    sqlx::query_as!(
        AuthRow,
        r#"
WITH key AS (
    SELECT k.id, k.organization_id, k.secret_hash,
           COALESCE(o.rate_limit, $3)::float8 AS capacity
    FROM api_keys k JOIN organizations o ON o.id = k.organization_id
    WHERE k.key_id = $1 AND k.revoked_at IS NULL
),
touch AS (
    UPDATE api_keys SET last_used_at = now()
    WHERE id = (SELECT id FROM key WHERE secret_hash = $2)
      AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
),
bucket AS (
    INSERT INTO rate_limit_buckets AS b
        (organization_id, capacity, refill_per_sec, tokens, refilled_at, last_allowed)
    SELECT organization_id, capacity, capacity / $4, capacity - 1, now(), true
    FROM key WHERE secret_hash = $2
    ON CONFLICT (organization_id) DO UPDATE SET
        capacity = EXCLUDED.capacity,
        refill_per_sec = EXCLUDED.refill_per_sec,
        tokens = LEAST(EXCLUDED.capacity, b.tokens + GREATEST(0,
                     EXTRACT(EPOCH FROM now() - b.refilled_at)::float8) * EXCLUDED.refill_per_sec)
                 - CASE WHEN LEAST(EXCLUDED.capacity, b.tokens + GREATEST(0,
                     EXTRACT(EPOCH FROM now() - b.refilled_at)::float8) * EXCLUDED.refill_per_sec) >= 1
                   THEN 1 ELSE 0 END,
        refilled_at = GREATEST(b.refilled_at, now()),
        last_allowed = LEAST(EXCLUDED.capacity, b.tokens + GREATEST(0,
                     EXTRACT(EPOCH FROM now() - b.refilled_at)::float8) * EXCLUDED.refill_per_sec) >= 1
    RETURNING tokens, capacity, refill_per_sec, last_allowed
)
SELECT key.id AS "api_key_id!", key.organization_id AS "organization_id!",
       key.secret_hash AS "secret_hash!", bucket.tokens AS "tokens?", bucket.capacity AS "capacity?",
       bucket.refill_per_sec AS "refill_per_sec?", bucket.last_allowed AS "allowed?"
FROM key LEFT JOIN bucket ON true
"#,
        key_id,
        secret_hash,
        default_limit,
        window_seconds,
    )
    .fetch_optional(db)
    .await
}
