//! `organizations`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

#[derive(Debug, Clone)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub rate_limit: Option<i32>,
    pub max_live_sandboxes: Option<i32>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    name: &str,
    rate_limit: Option<i32>,
    max_live_sandboxes: Option<i32>,
) -> Result<Org, sqlx::Error> {
    sqlx::query_as!(
        Org,
        "INSERT INTO organizations (name, rate_limit, max_live_sandboxes) VALUES ($1, $2, $3)
         RETURNING id, name, rate_limit, max_live_sandboxes, created_at",
        name,
        rate_limit,
        max_live_sandboxes,
    )
    .fetch_one(db)
    .await
}

pub async fn find_by_name(db: impl PgExecutor<'_>, name: &str) -> Result<Option<Org>, sqlx::Error> {
    sqlx::query_as!(
        Org,
        "SELECT id, name, rate_limit, max_live_sandboxes, created_at
         FROM organizations WHERE name = $1",
        name,
    )
    .fetch_optional(db)
    .await
}

/// Locks the organization's row for the rest of the transaction (serialising sandbox creation, so
/// the live-sandbox cap holds under concurrency) and returns its cap override.
pub async fn lock_for_create(
    conn: &mut PgConnection,
    org_id: i64,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT max_live_sandboxes FROM organizations WHERE id = $1 FOR UPDATE",
        org_id,
    )
    .fetch_one(conn)
    .await
}
