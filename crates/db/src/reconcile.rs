//! The reconciler's view of Postgres and its conditional corrections. Every correction names the
//! status it expects, so a request that changed the row meanwhile wins.

use chrono::{DateTime, Utc};
use lifecycle::{PoolStatus, SandboxStatus};
use sqlx::PgExecutor;

/// One row that may own a runtime sandbox.
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: String,
    /// A sandbox status, or a [`PoolStatus`] for a pool row.
    pub status: String,
    pub pooled: bool,
    pub created_at: DateTime<Utc>,
    /// When the status last changed.
    pub changed_at: DateTime<Utc>,
}

/// What owns a runtime sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    Sandbox(SandboxStatus),
    Pooled(PoolStatus),
}

impl Owner {
    /// The owner's state; a name this version does not know reads as a failed sandbox.
    pub fn state(&self) -> Owned {
        let pooled = self.pooled.then(|| self.status.parse().ok()).flatten();
        match pooled {
            Some(p) => Owned::Pooled(p),
            None => Owned::Sandbox(SandboxStatus::stored(&self.status)),
        }
    }
}

/// The database clock: the reconciler reads it *before* listing the runtime, so any row that changed
/// later is left for the next pass.
pub async fn now(db: impl PgExecutor<'_>) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(db)
        .await
}

/// Live sandboxes, sandboxes with the given ids (whatever their status), and every pool row, in one
/// statement (one snapshot, so a claim moving a row between the tables is seen on exactly one side).
pub async fn owners(db: impl PgExecutor<'_>, listed: &[String]) -> Result<Vec<Owner>, sqlx::Error> {
    sqlx::query_as!(
        Owner,
        r#"SELECT id AS "id!", status AS "status!", false AS "pooled!", created_at AS "created_at!",
                  status_changed_at AS "changed_at!"
           FROM sandboxes
           WHERE status = ANY($2) OR id = ANY($1)
           UNION ALL
           SELECT id, status, true, created_at, updated_at FROM pool_sandboxes"#,
        listed,
        &SandboxStatus::names_where(SandboxStatus::is_live),
    )
    .fetch_all(db)
    .await
}

/// Moves a sandbox from `from` to `to` with a reason; `false` when it was no longer `from`.
pub async fn correct(
    db: impl PgExecutor<'_>,
    id: &str,
    from: SandboxStatus,
    to: SandboxStatus,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE sandboxes SET status = $3, status_reason = $4 WHERE id = $1 AND status = $2",
        id,
        from.as_str(),
        to.as_str(),
        reason,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a pool row if it still has `status`; `false` when it was claimed or changed meanwhile.
pub async fn drop_pooled(
    db: impl PgExecutor<'_>,
    id: &str,
    status: PoolStatus,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM pool_sandboxes WHERE id = $1 AND status = $2",
        id,
        status.as_str(),
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
