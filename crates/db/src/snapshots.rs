//! `snapshots`: an organization's filesystem snapshots of sandboxes. A row is written (`creating`)
//! before the runtime takes the snapshot and deleted before the runtime removes it, so a snapshot
//! the runtime holds without a row is an orphan (the reconciler's). Only `ready` rows are visible
//! to the API.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

#[derive(Debug, Clone)]
pub struct SnapshotRow {
    pub id: String,
    pub organization_id: i64,
    pub name: Option<String>,
    pub sandbox_id: String,
    pub template_id: Option<i64>,
    pub template_name: String,
    pub size_mb: i32,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// What a new row holds.
pub struct NewSnapshot<'a> {
    pub id: &'a str,
    pub organization_id: i64,
    pub name: Option<&'a str>,
    pub sandbox_id: &'a str,
    pub template_id: Option<i64>,
    pub template_name: &'a str,
    pub size_mb: i32,
}

/// How many snapshots the organization holds and their MiB (every row, `creating` ones too:
/// reserved).
pub async fn usage(conn: &mut PgConnection, org_id: i64) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "count!", COALESCE(sum(size_mb), 0)::bigint AS "mb!"
           FROM snapshots WHERE organization_id = $1"#,
        org_id,
    )
    .fetch_one(conn)
    .await?;
    Ok((row.count, row.mb))
}

pub async fn insert_creating(
    conn: &mut PgConnection,
    s: &NewSnapshot<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO snapshots (id, organization_id, name, sandbox_id, template_id, template_name,
                                size_mb, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'creating')",
        s.id,
        s.organization_id,
        s.name,
        s.sandbox_id,
        s.template_id,
        s.template_name,
        s.size_mb,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// `creating` → `ready`, once the runtime took the snapshot; `None` if the row is gone.
pub async fn mark_ready(
    db: impl PgExecutor<'_>,
    id: &str,
) -> Result<Option<SnapshotRow>, sqlx::Error> {
    sqlx::query_as!(
        SnapshotRow,
        "UPDATE snapshots SET status = 'ready' WHERE id = $1
         RETURNING id, organization_id, name, sandbox_id, template_id, template_name, size_mb,
                   status, created_at",
        id,
    )
    .fetch_optional(db)
    .await
}

/// The organization's `ready` snapshot `id`.
pub async fn find(
    db: impl PgExecutor<'_>,
    org_id: i64,
    id: &str,
) -> Result<Option<SnapshotRow>, sqlx::Error> {
    sqlx::query_as!(
        SnapshotRow,
        "SELECT id, organization_id, name, sandbox_id, template_id, template_name, size_mb, status,
                created_at
         FROM snapshots WHERE organization_id = $1 AND id = $2 AND status = 'ready'",
        org_id,
        id,
    )
    .fetch_optional(db)
    .await
}

/// The organization's snapshot `id` in any status, locked against a delete (`FOR SHARE`) until the
/// transaction ends: a sandbox create that starts from it (a fork's create names its `creating`
/// snapshot).
pub async fn find_for_create(
    conn: &mut PgConnection,
    org_id: i64,
    id: &str,
) -> Result<Option<SnapshotRow>, sqlx::Error> {
    sqlx::query_as!(
        SnapshotRow,
        "SELECT id, organization_id, name, sandbox_id, template_id, template_name, size_mb, status,
                created_at
         FROM snapshots WHERE organization_id = $1 AND id = $2 FOR SHARE",
        org_id,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The organization's `ready` snapshots, oldest first.
pub async fn list(db: impl PgExecutor<'_>, org_id: i64) -> Result<Vec<SnapshotRow>, sqlx::Error> {
    sqlx::query_as!(
        SnapshotRow,
        "SELECT id, organization_id, name, sandbox_id, template_id, template_name, size_mb, status,
                created_at
         FROM snapshots WHERE organization_id = $1 AND status = 'ready' ORDER BY created_at, id",
        org_id,
    )
    .fetch_all(db)
    .await
}

/// Deletes the organization's `ready` snapshot `id` (waiting for creates that start from it);
/// whether there was one.
pub async fn delete_ready(
    db: impl PgExecutor<'_>,
    org_id: i64,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM snapshots WHERE organization_id = $1 AND id = $2 AND status = 'ready'",
        org_id,
        id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes the row `id` whatever its status (a failed or finished snapshot of this process's).
pub async fn delete(db: impl PgExecutor<'_>, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM snapshots WHERE id = $1", id)
        .execute(db)
        .await
        .map(drop)
}

/// Ids of every snapshot row of `candidates` (any organization), for the reconciler.
pub async fn existing(
    db: impl PgExecutor<'_>,
    candidates: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM snapshots WHERE id = ANY($1)", candidates)
        .fetch_all(db)
        .await
}

/// Deletes the rows still `creating` after `older_than_seconds` (their snapshot or fork died
/// mid-way); their ids, whose snapshots the caller removes.
pub async fn delete_abandoned(
    db: impl PgExecutor<'_>,
    older_than_seconds: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "DELETE FROM snapshots WHERE status = 'creating'
           AND created_at < now() - $1::bigint * interval '1 second'
         RETURNING id",
        older_than_seconds,
    )
    .fetch_all(db)
    .await
}

/// What a snapshot (and a fork) needs of the sandbox it is taken of.
pub struct Source {
    pub status: String,
    pub template_id: Option<i64>,
    pub template_name: String,
    pub disk_mb: i32,
    pub internet_access: bool,
    pub timeout_seconds: Option<i64>,
}

/// The organization's sandbox `id` (deleted ones too, for a clear refusal), its row locked
/// (`FOR UPDATE`) until the transaction ends: lifecycle actions, which write their intent with a
/// conditional update of the row, wait for the snapshot to be taken.
pub async fn lock_source(
    conn: &mut PgConnection,
    org_id: i64,
    id: &str,
) -> Result<Option<Source>, sqlx::Error> {
    sqlx::query_as!(
        Source,
        "SELECT status, template_id, template_name, disk_mb, internet_access, timeout_seconds
         FROM sandboxes WHERE id = $1 AND organization_id = $2 FOR UPDATE",
        id,
        org_id,
    )
    .fetch_optional(conn)
    .await
}
