//! `sandboxes`: one row per sandbox, its state persisted. Deleted rows stay (status `deleted`) but
//! are invisible to the API.

use chrono::{DateTime, Utc};
use lifecycle::SandboxStatus;
use sqlx::{PgConnection, PgExecutor};

use crate::cursor::Cursor;

/// No `Debug`: `token_key` is the secret that signs the sandbox's tokens.
#[derive(Clone)]
pub struct SandboxRow {
    pub id: String,
    /// The client-chosen name, unique among the organization's live sandboxes.
    pub name: Option<String>,
    pub organization_id: i64,
    pub template_id: Option<i64>,
    pub template_name: String,
    pub status: String,
    pub region: String,
    pub vcpu: i32,
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub internet_access: bool,
    pub timeout_seconds: Option<i64>,
    /// Idle seconds after which the sandbox is paused (`None`: never).
    pub auto_pause_seconds: Option<i32>,
    pub token_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl SandboxRow {
    /// The row's state (a name this version does not know reads as `error`).
    pub fn state(&self) -> SandboxStatus {
        SandboxStatus::stored(&self.status)
    }
}

/// What a new row holds.
pub struct NewSandbox<'a> {
    pub id: &'a str,
    pub organization_id: i64,
    pub template_id: i64,
    pub template_name: &'a str,
    pub region: &'a str,
    pub vcpu: i32,
    pub memory_mb: i32,
    pub disk_mb: i32,
    pub internet_access: bool,
    pub timeout_seconds: i64,
    pub token_key: &'a [u8],
    /// Port previews need the sandbox token (see `docs/router.md`).
    pub private_previews: bool,
    pub name: Option<&'a str>,
    pub auto_pause_seconds: Option<i32>,
}

pub async fn insert_creating(
    conn: &mut PgConnection,
    s: &NewSandbox<'_>,
) -> Result<SandboxRow, sqlx::Error> {
    sqlx::query_as!(
        SandboxRow,
        "INSERT INTO sandboxes (id, name, organization_id, template_id, template_name, status, region,
             vcpu, memory_mb, disk_mb, internet_access, timeout_seconds, token_key, expires_at,
             private_previews, auto_pause_seconds)
         VALUES ($1, $13, $2, $3, $4, 'creating', $5, $6, $7, $8, $9, $10, $11,
                 now() + $10::bigint * interval '1 second', $12, $14)
         RETURNING id, name, organization_id, template_id, template_name, status, region, vcpu,
                   memory_mb, disk_mb, internet_access, timeout_seconds, auto_pause_seconds, token_key, created_at,
                   started_at, expires_at",
        s.id,
        s.organization_id,
        s.template_id,
        s.template_name,
        s.region,
        s.vcpu,
        s.memory_mb,
        s.disk_mb,
        s.internet_access,
        s.timeout_seconds,
        s.token_key,
        s.private_previews,
        s.name,
        s.auto_pause_seconds,
    )
    .fetch_one(conn)
    .await
}

/// Sandboxes that count against the live-sandbox cap ([`SandboxStatus::is_live`]).
pub async fn count_live(conn: &mut PgConnection, org_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM sandboxes
           WHERE organization_id = $1 AND status = ANY($2)"#,
        org_id,
        &SandboxStatus::names_where(SandboxStatus::is_live),
    )
    .fetch_one(conn)
    .await
}

/// A sandbox of `org_id` that is not deleted.
pub async fn get(
    db: impl PgExecutor<'_>,
    org_id: i64,
    id: &str,
) -> Result<Option<SandboxRow>, sqlx::Error> {
    sqlx::query_as!(
        SandboxRow,
        "SELECT id, name, organization_id, template_id, template_name, status, region, vcpu, memory_mb,
                disk_mb, internet_access, timeout_seconds, auto_pause_seconds, token_key, created_at, started_at,
                expires_at
         FROM sandboxes
         WHERE id = $1 AND organization_id = $2 AND status <> 'deleted'",
        id,
        org_id,
    )
    .fetch_optional(db)
    .await
}

/// The organization's live sandbox ([`SandboxStatus::is_live`]) named `name`.
pub async fn find_live_by_name(
    db: impl PgExecutor<'_>,
    org_id: i64,
    name: &str,
) -> Result<Option<SandboxRow>, sqlx::Error> {
    sqlx::query_as!(
        SandboxRow,
        "SELECT id, name, organization_id, template_id, template_name, status, region, vcpu,
                memory_mb, disk_mb, internet_access, timeout_seconds, auto_pause_seconds, token_key, created_at,
                started_at, expires_at
         FROM sandboxes
         WHERE organization_id = $1 AND name = $2 AND status = ANY($3)",
        org_id,
        name,
        &SandboxStatus::names_where(SandboxStatus::is_live),
    )
    .fetch_optional(db)
    .await
}

/// Whether `e` is the unique violation of a second live sandbox with one name.
pub fn is_name_taken(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some("sandboxes_org_live_name"))
}

/// What the router needs to route a sandbox's hosts.
#[derive(Debug, Clone)]
pub struct RouteRow {
    pub status: String,
    pub agent_addr: Option<String>,
    pub token_key: Vec<u8>,
    pub previous_token_key: Option<Vec<u8>>,
    pub previous_key_valid_until: Option<DateTime<Utc>>,
    pub preview_epoch: i64,
    pub private_previews: bool,
    /// Paused by the idle pauser: the router resumes it on traffic.
    pub auto_paused: bool,
}

/// The route of any organization's sandbox; `None` when there is no such id or it is deleted.
pub async fn route(db: impl PgExecutor<'_>, id: &str) -> Result<Option<RouteRow>, sqlx::Error> {
    sqlx::query_as!(
        RouteRow,
        "SELECT status, agent_addr, token_key, previous_token_key, previous_key_valid_until,
                preview_epoch, private_previews, auto_paused
         FROM sandboxes WHERE id = $1 AND status <> 'deleted'",
        id,
    )
    .fetch_optional(db)
    .await
}

/// Filters of `GET /v1/sandboxes`.
pub struct ListFilter<'a> {
    /// The states to list (those the API shows as the status asked for); `None`: every state.
    pub states: Option<&'a [SandboxStatus]>,
    pub region: Option<&'a str>,
    pub after: Option<&'a Cursor>,
    /// Rows to fetch (the page size plus one, to know whether there is more).
    pub fetch: i64,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    org_id: i64,
    f: &ListFilter<'_>,
) -> Result<Vec<SandboxRow>, sqlx::Error> {
    let states = f.states.map(SandboxStatus::names);
    sqlx::query_as!(
        SandboxRow,
        "SELECT id, name, organization_id, template_id, template_name, status, region, vcpu, memory_mb,
                disk_mb, internet_access, timeout_seconds, auto_pause_seconds, token_key, created_at, started_at,
                expires_at
         FROM sandboxes
         WHERE organization_id = $1 AND status <> 'deleted'
           AND ($2::text[] IS NULL OR status = ANY($2))
           AND ($3::text IS NULL OR region = $3)
           AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::text))
         ORDER BY created_at DESC, id DESC
         LIMIT $6",
        org_id,
        states.as_deref(),
        f.region,
        f.after.map(|c| c.created_at),
        f.after.map(|c| c.id.as_str()),
        f.fetch,
    )
    .fetch_all(db)
    .await
}

/// Moves a sandbox from `from` to `to`, only if it is still `from`. A new agent address (create,
/// start) also records the start time. `None` when the status changed meanwhile.
pub async fn transition(
    db: impl PgExecutor<'_>,
    id: &str,
    from: SandboxStatus,
    to: SandboxStatus,
    agent_addr: Option<&str>,
) -> Result<Option<SandboxRow>, sqlx::Error> {
    sqlx::query_as!(
        SandboxRow,
        "UPDATE sandboxes SET status = $3,
             agent_addr = COALESCE($4, agent_addr),
             started_at = CASE WHEN $4::text IS NULL THEN started_at ELSE now() END,
             auto_paused = auto_paused AND $3 IN ('pausing', 'paused'),
             paused_at = CASE WHEN $3 = 'paused' THEN now()
                              WHEN $3 = 'pausing' THEN paused_at END
         WHERE id = $1 AND status = $2
         RETURNING id, name, organization_id, template_id, template_name, status, region, vcpu,
                   memory_mb, disk_mb, internet_access, timeout_seconds, auto_pause_seconds, token_key, created_at,
                   started_at, expires_at",
        id,
        from.as_str(),
        to.as_str(),
        agent_addr,
    )
    .fetch_optional(db)
    .await
}

/// Marks a sandbox of `org_id` deleted; `false` when there was none to delete.
pub async fn mark_deleted(
    db: impl PgExecutor<'_>,
    org_id: i64,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE sandboxes SET status = 'deleted', deleted_at = now()
         WHERE id = $1 AND organization_id = $2 AND status <> 'deleted'",
        id,
        org_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks up to `batch` expired sandboxes deleted and returns their ids; with `spare_auto_paused`
/// (their clock stops while paused) not those the idle pauser paused. `SKIP LOCKED` lets several
/// replicas reap at once without waiting on each other.
pub async fn reap_expired(
    db: impl PgExecutor<'_>,
    batch: i64,
    spare_auto_paused: bool,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE sandboxes SET status = 'deleted', deleted_at = now()
         WHERE id IN (SELECT id FROM sandboxes
                      WHERE status <> 'deleted' AND expires_at <= now()
                        AND NOT ($2 AND auto_paused AND status = 'paused')
                      ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id",
        batch,
        spare_auto_paused,
    )
    .fetch_all(db)
    .await
}

/// Sets a new timeout counted from now.
pub async fn set_timeout(
    db: impl PgExecutor<'_>,
    org_id: i64,
    id: &str,
    seconds: i64,
) -> Result<Option<SandboxRow>, sqlx::Error> {
    sqlx::query_as!(
        SandboxRow,
        "UPDATE sandboxes SET timeout_seconds = $3, expires_at = now() + $3::bigint * interval '1 second'
         WHERE id = $1 AND organization_id = $2 AND status <> 'deleted'
         RETURNING id, name, organization_id, template_id, template_name, status, region, vcpu,
                   memory_mb, disk_mb, internet_access, timeout_seconds, auto_pause_seconds, token_key, created_at,
                   started_at, expires_at",
        id,
        org_id,
        seconds,
    )
    .fetch_optional(db)
    .await
}
