//! Leadership: the reconciler and the warm-pool refill run on one replica at a time.
//!
//! A replica leads while it holds a session-level Postgres advisory lock on a connection of its own
//! (not from the pool, so the lock lives exactly as long as that connection). Followers try
//! `pg_try_advisory_lock` every `reconcile.leader_retry_seconds`; when the leader dies, Postgres
//! drops its connection and its lock, and the next follower to try takes over. The leader pings its
//! connection at the same period and steps down if it fails. The expiry reaper runs on every replica
//! (it claims rows with `SKIP LOCKED`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::{Connection as _, PgConnection};
use tokio::task::JoinSet;

use crate::app::pool::PoolRefill;
use crate::app::reconcile::Reconciler;
use crate::error::chain;
use crate::state::AppState;

/// Advisory-lock key of the leader.
const LEADER_LOCK: i64 = 0x5741_5252_454e_0002;

/// Competes for leadership forever; leads whenever it holds the lock.
pub async fn run_forever(state: AppState) {
    let retry = Duration::from_secs(state.settings.reconcile.leader_retry_seconds.into());
    loop {
        match try_lock(&state).await {
            Ok(Some(conn)) => lead(&state, conn, retry).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error.chain = %chain(&e), "cannot compete for leadership"),
        }
        tokio::time::sleep(retry).await;
    }
}

/// A connection holding the leader lock, or `None` when another replica holds it.
async fn try_lock(state: &AppState) -> Result<Option<PgConnection>, sqlx::Error> {
    let options = state.settings.database.connect_options()?;
    let mut conn = PgConnection::connect_with(&options).await?;
    let got = sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock($1) AS "got!""#, LEADER_LOCK)
        .fetch_one(&mut conn)
        .await?;
    if got {
        return Ok(Some(conn));
    }
    let _ = conn.close().await;
    Ok(None)
}

/// Runs the leader's tasks until the lock's connection fails.
async fn lead(state: &AppState, mut conn: PgConnection, ping_every: Duration) {
    tracing::info!("this replica leads: running the reconciler and the warm-pool refill");
    state.leader.store(true, Ordering::SeqCst);
    let mut work = JoinSet::new();
    work.spawn(Reconciler::new(state.clone()).run_forever());
    work.spawn(PoolRefill::new(state.clone()).run_forever());
    let mut tick = tokio::time::interval(ping_every);
    loop {
        tick.tick().await;
        if let Err(e) = conn.ping().await {
            tracing::warn!(error.chain = %chain(&e), "lost the leader lock's connection; stepping down");
            break;
        }
    }
    work.abort_all();
    state.leader.store(false, Ordering::SeqCst);
}
