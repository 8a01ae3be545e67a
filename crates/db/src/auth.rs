//! Authentication and rate limiting in one statement, so a request costs at most one round trip.
//!
//! The statement looks the key up by its key id, and — only when the presented secret's hash matches,
//! so a wrong secret cannot spend an organization's budget — takes up to `want` tokens from the
//! organization's bucket in the UNLOGGED `rate_limit_buckets` table (shared by every replica), gives
//! back the `give_back` tokens a replica leased earlier and did not spend, and refreshes
//! `last_used_at` at most once a minute. The caller still compares the hash in constant time: that
//! comparison is the authoritative one. [`crate::auth_cache`] calls it when a key is not cached or its
//! leased tokens are spent.
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
    /// Tokens left in the bucket after this grant.
    pub tokens: Option<f64>,
    pub capacity: Option<f64>,
    pub refill_per_sec: Option<f64>,
    /// Tokens granted (0: refused). `None` (like the fields above) when the secret did not match.
    pub granted: Option<i32>,
}

/// What one call asks of the bucket.
#[derive(Debug, Clone, Copy)]
pub struct Take {
    /// The limit of an organization without an override.
    pub default_limit: i32,
    pub window_seconds: f64,
    /// Tokens wanted (at least 1); fewer are granted when fewer are left.
    pub want: i32,
    /// Unspent tokens of an earlier grant, returned to the bucket first.
    pub give_back: i32,
}

/// Runs the statement. `None` when no unrevoked key has this key id.
pub async fn authenticate_and_take(
    db: impl PgExecutor<'_>,
    key_id: &str,
    secret_hash: &[u8],
    take: Take,
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
        (organization_id, capacity, refill_per_sec, tokens, refilled_at, last_granted)
    SELECT organization_id, capacity, capacity / $4, capacity - LEAST($5, floor(capacity)), now(),
           LEAST($5, floor(capacity))::int4
    FROM key WHERE secret_hash = $2
    ON CONFLICT (organization_id) DO UPDATE SET
        capacity = EXCLUDED.capacity,
        refill_per_sec = EXCLUDED.refill_per_sec,
        refilled_at = GREATEST(b.refilled_at, now()),
        (tokens, last_granted) = (
            SELECT available - granted, granted::int4
            FROM (SELECT LEAST(EXCLUDED.capacity, b.tokens + $6 + GREATEST(0,
                      EXTRACT(EPOCH FROM now() - b.refilled_at)::float8) * EXCLUDED.refill_per_sec)
                      AS available) a,
                 LATERAL (SELECT GREATEST(0, LEAST($5, floor(a.available))) AS granted) g
        )
    RETURNING tokens, capacity, refill_per_sec, last_granted
)
SELECT key.id AS "api_key_id!", key.organization_id AS "organization_id!",
       key.secret_hash AS "secret_hash!", bucket.tokens AS "tokens?", bucket.capacity AS "capacity?",
       bucket.refill_per_sec AS "refill_per_sec?", bucket.last_granted AS "granted?"
FROM key LEFT JOIN bucket ON true
"#,
        key_id,
        secret_hash,
        take.default_limit,
        take.window_seconds,
        f64::from(take.want),
        f64::from(take.give_back),
    )
    .fetch_optional(db)
    .await
}
