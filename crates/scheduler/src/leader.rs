//! Leadership: the reconciler, the warm-pool refill and the tasks the server adds (the template
//! housekeeping) run on one replica at a time.
//!
//! A replica leads while it holds a session-level Postgres advisory lock on a connection of its own
//! (not from the pool, so the lock lives exactly as long as that connection). Followers try
//! `pg_try_advisory_lock` every `reconcile.leader_retry_seconds`; when the leader dies, Postgres
//! drops its connection and its lock, and the next follower to try takes over. The leader pings its
//! connection at the same period and steps down if it fails. The expiry reaper runs on every replica
//! (it claims rows with `SKIP LOCKED`). The leader supervises its tasks: when one ends (returns or
//! panics) it steps down and releases the lock, so that leadership, and the task, start again.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::{Connection as _, PgConnection};
use tokio::task::JoinSet;

use crate::Scheduler;
use crate::idle::IdlePauser;
use crate::pool::PoolRefill;
use crate::reconcile::Reconciler;
use api_error::chain;

/// Advisory-lock key of the leader.
const LEADER_LOCK: i64 = 0x5741_5252_454e_0002;

/// A task the leader runs beside the reconciler and the pool refill, made afresh each time this
/// replica leads: its name and how to start it.
pub type LeaderTask = (&'static str, Box<dyn Fn() -> Task + Send + Sync>);

/// Competes for leadership forever; leads whenever it holds the lock, running `extra` too.
pub async fn run_forever(state: Scheduler, extra: Vec<LeaderTask>) {
    let retry = Duration::from_secs(state.settings.reconcile.leader_retry_seconds.into());
    loop {
        match try_lock(&state).await {
            Ok(Some(conn)) => lead(&state, conn, retry, &extra).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error.chain = %chain(&e), "cannot compete for leadership"),
        }
        tokio::time::sleep(retry).await;
    }
}

/// A connection holding the leader lock, or `None` when another replica holds it.
async fn try_lock(state: &Scheduler) -> Result<Option<PgConnection>, sqlx::Error> {
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

/// Runs the leader's tasks until the lock's connection fails or one of them ends, then steps down:
/// the lock is released with its connection, so this replica (or another) leads again after
/// `reconcile.leader_retry_seconds`, with fresh tasks.
async fn lead(
    state: &Scheduler,
    mut conn: PgConnection,
    ping_every: Duration,
    extra: &[LeaderTask],
) {
    let names: Vec<&str> = extra.iter().map(|(name, _)| *name).collect();
    tracing::info!(
        also = ?names,
        "this replica leads: running the reconciler and the warm-pool refill"
    );
    state.leader.store(true, Ordering::SeqCst);
    state.metrics.leadership("acquired");
    let mut tasks: Vec<(&'static str, Task)> = vec![
        (
            "reconciler",
            Box::pin(Reconciler::new(state.clone()).run_forever()),
        ),
        (
            "pool refill",
            Box::pin(PoolRefill::new(state.clone()).run_forever()),
        ),
        (
            "idle pauser",
            Box::pin(IdlePauser::new(state.clone()).run_forever()),
        ),
    ];
    tasks.extend(extra.iter().map(|(name, start)| (*name, start())));
    let pinging = async {
        let mut tick = tokio::time::interval(ping_every);
        loop {
            tick.tick().await;
            if let Err(e) = conn.ping().await {
                return e;
            }
        }
    };
    // Whichever ends first drops the other: the tasks are aborted with their JoinSet.
    tokio::select! {
        e = pinging => {
            state.metrics.leadership("lock_lost");
            tracing::warn!(error.chain = %chain(&e), "lost the leader lock's connection; stepping down");
        }
        Ended { task, panicked } = supervise(tasks) => {
            state.metrics.leadership("task_ended");
            tracing::error!(task, panicked, "a leader task ended; stepping down so that leadership restarts it");
        }
    }
    let _ = conn.close().await;
    state.leader.store(false, Ordering::SeqCst);
}

/// A leader task: runs until the process ends, unless it fails.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The first of the leader's tasks to end.
#[derive(Debug, PartialEq, Eq)]
struct Ended {
    task: &'static str,
    panicked: bool,
}

/// Runs `tasks` until one ends (returns or panics); dropping the future aborts them all.
async fn supervise(tasks: Vec<(&'static str, Task)>) -> Ended {
    let mut work = JoinSet::new();
    let mut names = HashMap::new();
    for (name, task) in tasks {
        names.insert(work.spawn(task).id(), name);
    }
    let (id, panicked) = match work.join_next_with_id().await {
        Some(Ok((id, ()))) => (id, false),
        Some(Err(e)) => (e.id(), e.is_panic()),
        None => {
            return Ended {
                task: "none",
                panicked: false,
            };
        }
    };
    Ended {
        task: names.get(&id).copied().unwrap_or("a leader task"),
        panicked,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    fn forever() -> Task {
        Box::pin(std::future::pending())
    }

    #[tokio::test]
    async fn a_task_that_panics_or_returns_is_named_and_the_others_are_aborted() {
        let tasks: Vec<(&'static str, Task)> = vec![
            ("steady", forever()),
            ("fragile", Box::pin(async { panic!("boom") })),
        ];
        let ended = supervise(tasks).await;
        assert_eq!(
            ended,
            Ended {
                task: "fragile",
                panicked: true
            }
        );

        // The survivor is aborted: its guard is dropped.
        let dropped = Arc::new(AtomicBool::new(false));
        struct Guard(Arc<AtomicBool>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let guard = Guard(dropped.clone());
        let survivor: Task = Box::pin(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let tasks: Vec<(&'static str, Task)> =
            vec![("survivor", survivor), ("done", Box::pin(async {}))];
        let ended = supervise(tasks).await;
        assert_eq!(
            ended,
            Ended {
                task: "done",
                panicked: false
            }
        );
        for _ in 0..100 {
            if dropped.load(Ordering::SeqCst) {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(dropped.load(Ordering::SeqCst), "the other task still runs");
    }
}
