//! `pool_sandboxes`: warm sandboxes that belong to nobody yet. A row is written (`starting`) before
//! the runtime starts the sandbox, and a claim turns it into a `sandboxes` row with the same id in
//! one transaction, so the reconciler always finds a row for every container Warren made.

use sqlx::{PgConnection, PgExecutor};

/// A ready pooled sandbox taken by a create.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub configure_secret: String,
    pub agent_addr: String,
}

pub struct NewPooled<'a> {
    pub id: &'a str,
    pub template_id: i64,
    pub configure_secret: &'a str,
    pub vcpu: i32,
    pub memory_mb: i32,
}

pub async fn insert_starting(
    conn: &mut PgConnection,
    p: &NewPooled<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO pool_sandboxes (id, template_id, configure_secret, status, vcpu, memory_mb)
         VALUES ($1, $2, $3, 'starting', $4, $5)",
        p.id,
        p.template_id,
        p.configure_secret,
        p.vcpu,
        p.memory_mb,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a started pooled sandbox ready; `false` when its row is gone (template deleted meanwhile).
pub async fn mark_ready(
    db: impl PgExecutor<'_>,
    id: &str,
    agent_addr: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE pool_sandboxes SET status = 'ready', agent_addr = $2, updated_at = now()
         WHERE id = $1 AND status = 'starting'",
        id,
        agent_addr,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a pool row whatever its status; `false` when there was none.
pub async fn delete(db: impl PgExecutor<'_>, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM pool_sandboxes WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the oldest ready sandbox of a template started with these resources, if any. Concurrent
/// claims skip each other's rows. Wakes the refill (`NOTIFY`, delivered at commit).
pub async fn claim(
    conn: &mut PgConnection,
    template_id: i64,
    vcpu: i32,
    memory_mb: i32,
) -> Result<Option<Claimed>, sqlx::Error> {
    let claimed = sqlx::query_as!(
        Claimed,
        r#"DELETE FROM pool_sandboxes
           WHERE id = (SELECT id FROM pool_sandboxes
                       WHERE template_id = $1 AND vcpu = $2 AND memory_mb = $3 AND status = 'ready'
                       ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING id, configure_secret, agent_addr AS "agent_addr!""#,
        template_id,
        vcpu,
        memory_mb,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if claimed.is_some() {
        sqlx::query!("SELECT pg_notify($1, '')", REFILL_CHANNEL)
            .execute(conn)
            .await?;
    }
    Ok(claimed)
}

/// A pooled sandbox evicted to make room for a requested one.
#[derive(Debug, Clone)]
pub struct Evicted {
    pub id: String,
    pub vcpu: i32,
    pub memory_mb: i32,
}

/// Deletes the oldest ready pool row (any template) and returns it.
pub async fn evict_oldest(conn: &mut PgConnection) -> Result<Option<Evicted>, sqlx::Error> {
    sqlx::query_as!(
        Evicted,
        "DELETE FROM pool_sandboxes
         WHERE id = (SELECT id FROM pool_sandboxes WHERE status = 'ready'
                     ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, vcpu, memory_mb",
    )
    .fetch_optional(conn)
    .await
}

/// The `LISTEN` channel a claim notifies.
pub const REFILL_CHANNEL: &str = "warren_pool_refill";

/// A template the pool keeps warm sandboxes of.
#[derive(Debug, Clone)]
pub struct PooledTemplate {
    pub id: i64,
    pub name: String,
    pub image: String,
    /// `container` or `gvisor`: read it with [`super::templates::isolation`].
    pub isolation: String,
    pub vcpu: i32,
    pub memory_mb: i32,
    pub disk_gb: i32,
    /// Pool rows of this template (starting or ready).
    pub pooled: i64,
}

/// The active built-in templates named in `names`, with how many pooled sandboxes each has.
pub async fn templates(
    db: impl PgExecutor<'_>,
    names: &[String],
) -> Result<Vec<PooledTemplate>, sqlx::Error> {
    sqlx::query_as!(
        PooledTemplate,
        r#"SELECT t.id, t.name, t.image, t.isolation, t.vcpu, t.memory_mb, t.disk_gb,
                  (SELECT count(*) FROM pool_sandboxes p WHERE p.template_id = t.id) AS "pooled!"
           FROM templates t
           WHERE t.organization_id IS NULL AND t.status = 'active' AND t.name = ANY($1)
           ORDER BY t.id"#,
        names,
    )
    .fetch_all(db)
    .await
}
