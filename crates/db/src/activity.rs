//! Traffic to sandboxes, for auto-pause (docs/auto-pause.md): each replica notes the sandboxes its
//! router and API served in memory ([`Activity::touch`], a set insert) and writes them to
//! `sandboxes.last_active_at` every [`FLUSH_EVERY`] in one statement; the idle pauser reads the
//! sandboxes whose idle time has passed.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::{PgExecutor, PgPool};

/// How often a replica writes what it served: a sandbox's `last_active_at` is at most this late.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The sandboxes served since the last flush.
#[derive(Default)]
pub struct Activity {
    touched: Mutex<HashSet<String>>,
}

impl Activity {
    /// Notes traffic to sandbox `id`.
    pub fn touch(&self, id: &str) {
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        if !touched.contains(id) {
            touched.insert(id.to_owned());
        }
    }

    /// Writes what was served since the last flush (put back when the write fails).
    pub async fn flush(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let ids: Vec<String> = {
            let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
            touched.drain().collect()
        };
        if ids.is_empty() {
            return Ok(());
        }
        if let Err(e) = mark_active(pool, &ids).await {
            let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
            touched.extend(ids);
            return Err(e);
        }
        Ok(())
    }

    /// Flushes every [`FLUSH_EVERY`], forever.
    pub async fn flush_forever(&self, pool: PgPool) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.flush(&pool).await {
                tracing::warn!(error = %e, "writing sandbox activity failed; retrying");
            }
        }
    }
}

/// Sets `last_active_at` of sandboxes `ids` to now.
pub async fn mark_active(db: impl PgExecutor<'_>, ids: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sandboxes SET last_active_at = now() WHERE id = ANY($1) AND status <> 'deleted'",
        ids,
    )
    .execute(db)
    .await
    .map(drop)
}

/// A running sandbox with auto-pause whose idle time has passed.
#[derive(Debug, Clone)]
pub struct IdleRow {
    pub id: String,
    pub organization_id: i64,
    pub agent_addr: Option<String>,
    pub token_key: Vec<u8>,
}

/// Up to `limit` running sandboxes idle for longer than their `auto_pause_seconds`.
pub async fn idle(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<IdleRow>, sqlx::Error> {
    sqlx::query_as!(
        IdleRow,
        "SELECT id, organization_id, agent_addr, token_key FROM sandboxes
         WHERE status = 'running' AND auto_pause_seconds IS NOT NULL
           AND last_active_at < now() - make_interval(secs => auto_pause_seconds)
         ORDER BY last_active_at LIMIT $1",
        limit,
    )
    .fetch_all(db)
    .await
}

/// Starts the idle pause of a running sandbox: `pausing`, marked as the idle pauser's (the router
/// resumes such a sandbox on traffic). `false` when it no longer runs.
pub async fn begin_idle_pause(db: impl PgExecutor<'_>, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE sandboxes SET status = 'pausing', auto_paused = true
         WHERE id = $1 AND status = 'running'",
        id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves a sandbox's deadline on by the time it spent paused (auto-pause with the clock stopped).
pub async fn add_paused_time(db: impl PgExecutor<'_>, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sandboxes SET expires_at = expires_at + (now() - paused_at)
         WHERE id = $1 AND status = 'paused' AND paused_at IS NOT NULL AND expires_at IS NOT NULL",
        id,
    )
    .execute(db)
    .await
    .map(drop)
}

/// The organization and state of sandbox `id` while the idle pauser's pause holds it (`pausing` or
/// `paused`).
pub async fn auto_paused(
    db: impl PgExecutor<'_>,
    id: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT organization_id, status FROM sandboxes
         WHERE id = $1 AND auto_paused AND status IN ('pausing', 'paused')",
        id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.organization_id, r.status)))
}

/// The channel on which router-only replicas ask for a resume (payload: the sandbox id).
pub const WAKE_CHANNEL: &str = "warren_wake";

/// Asks the replicas with the runtime to resume auto-paused sandbox `id`.
pub async fn request_wake(db: impl PgExecutor<'_>, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_notify($1, $2)", WAKE_CHANNEL, id)
        .execute(db)
        .await
        .map(drop)
}
