//! `volumes` and `sandbox_volumes`: an organization's volumes, and which sandbox mounts which. A
//! volume row is written before the runtime makes its directory and deleted before the runtime
//! removes it, so a directory without a row is an orphan (the reconciler's).

use chrono::{DateTime, Utc};
use lifecycle::SandboxStatus;
use sqlx::{PgConnection, PgExecutor};

#[derive(Debug, Clone)]
pub struct VolumeRow {
    pub id: String,
    pub organization_id: i64,
    pub name: String,
    pub size_mb: i32,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// MiB of volumes the organization holds (every row, `creating` ones too: reserved).
pub async fn used_mb(conn: &mut PgConnection, org_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(size_mb), 0)::bigint AS "used!" FROM volumes
           WHERE organization_id = $1"#,
        org_id,
    )
    .fetch_one(conn)
    .await
}

/// A `creating` row; a unique violation when the organization has a volume of that name.
pub async fn insert_creating(
    conn: &mut PgConnection,
    id: &str,
    org_id: i64,
    name: &str,
    size_mb: i32,
) -> Result<VolumeRow, sqlx::Error> {
    sqlx::query_as!(
        VolumeRow,
        "INSERT INTO volumes (id, organization_id, name, size_mb, status)
         VALUES ($1, $2, $3, $4, 'creating')
         RETURNING id, organization_id, name, size_mb, status, created_at",
        id,
        org_id,
        name,
        size_mb,
    )
    .fetch_one(conn)
    .await
}

/// `creating` → `ready`, once the runtime made the volume; `None` if the row is gone.
pub async fn mark_ready(
    db: impl PgExecutor<'_>,
    id: &str,
) -> Result<Option<VolumeRow>, sqlx::Error> {
    sqlx::query_as!(
        VolumeRow,
        "UPDATE volumes SET status = 'ready' WHERE id = $1
         RETURNING id, organization_id, name, size_mb, status, created_at",
        id,
    )
    .fetch_optional(db)
    .await
}

/// The organization's volume named or identified by `name_or_id`.
pub async fn find(
    db: impl PgExecutor<'_>,
    org_id: i64,
    name_or_id: &str,
) -> Result<Option<VolumeRow>, sqlx::Error> {
    sqlx::query_as!(
        VolumeRow,
        "SELECT id, organization_id, name, size_mb, status, created_at FROM volumes
         WHERE organization_id = $1 AND (id = $2 OR name = $2)",
        org_id,
        name_or_id,
    )
    .fetch_optional(db)
    .await
}

/// The organization's `ready` volume, locked against a delete (`FOR SHARE`) until the transaction
/// ends: a sandbox create that mounts it.
pub async fn find_for_mount(
    conn: &mut PgConnection,
    org_id: i64,
    name_or_id: &str,
) -> Result<Option<VolumeRow>, sqlx::Error> {
    sqlx::query_as!(
        VolumeRow,
        "SELECT id, organization_id, name, size_mb, status, created_at FROM volumes
         WHERE organization_id = $1 AND (id = $2 OR name = $2) AND status = 'ready'
         FOR SHARE",
        org_id,
        name_or_id,
    )
    .fetch_optional(conn)
    .await
}

/// Like [`find`], the row locked for a delete (`FOR UPDATE`): waits for creates that mount it.
pub async fn find_for_delete(
    conn: &mut PgConnection,
    org_id: i64,
    name_or_id: &str,
) -> Result<Option<VolumeRow>, sqlx::Error> {
    sqlx::query_as!(
        VolumeRow,
        "SELECT id, organization_id, name, size_mb, status, created_at FROM volumes
         WHERE organization_id = $1 AND (id = $2 OR name = $2) FOR UPDATE",
        org_id,
        name_or_id,
    )
    .fetch_optional(conn)
    .await
}

/// The organization's volumes, oldest first.
pub async fn list(db: impl PgExecutor<'_>, org_id: i64) -> Result<Vec<VolumeRow>, sqlx::Error> {
    sqlx::query_as!(
        VolumeRow,
        "SELECT id, organization_id, name, size_mb, status, created_at FROM volumes
         WHERE organization_id = $1 ORDER BY created_at, id",
        org_id,
    )
    .fetch_all(db)
    .await
}

/// `(volume id, sandbox id)` of the live sandboxes ([`SandboxStatus::is_live`]) mounting any of
/// `volume_ids`.
pub async fn mounted_by(
    db: impl PgExecutor<'_>,
    volume_ids: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT m.volume_id, m.sandbox_id FROM sandbox_volumes m
         JOIN sandboxes s ON s.id = m.sandbox_id
         WHERE m.volume_id = ANY($1) AND s.status = ANY($2)
         ORDER BY m.sandbox_id",
        volume_ids,
        &SandboxStatus::names_where(SandboxStatus::is_live),
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.volume_id, r.sandbox_id))
        .collect())
}

pub async fn delete(db: impl PgExecutor<'_>, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM volumes WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Records that `sandbox_id` mounts `volume_id` at `mount_path`.
pub async fn insert_mount(
    conn: &mut PgConnection,
    sandbox_id: &str,
    volume_id: &str,
    mount_path: &str,
    read_only: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sandbox_volumes (sandbox_id, volume_id, mount_path, read_only)
         VALUES ($1, $2, $3, $4)",
        sandbox_id,
        volume_id,
        mount_path,
        read_only,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Ids of every volume row of `candidates` (any organization), for the reconciler.
pub async fn existing(
    db: impl PgExecutor<'_>,
    candidates: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM volumes WHERE id = ANY($1)", candidates)
        .fetch_all(db)
        .await
}

/// Deletes the rows still `creating` after `older_than_seconds` (their create died mid-way); their
/// ids, whose directories the caller removes.
pub async fn delete_abandoned(
    db: impl PgExecutor<'_>,
    older_than_seconds: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "DELETE FROM volumes WHERE status = 'creating'
           AND created_at < now() - $1::bigint * interval '1 second'
         RETURNING id",
        older_than_seconds,
    )
    .fetch_all(db)
    .await
}

/// Whether `e` is the unique violation of a second volume with one name.
pub fn is_name_taken(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some("volumes_org_name"))
}
