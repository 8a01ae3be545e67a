//! Custom templates: the build queue. A build is a row of `template_builds` (`pending`, then
//! `building`, then `active` or `failed`) owned by the replica that accepted it, whose uploads are
//! on its disk: that replica claims it and runs it, up to `templates.max_concurrent_builds` at once,
//! and renews its lease meanwhile. Admission counts the table, so every replica sees one queue of
//! `templates.max_queued_builds` waiting builds. The leader fails builds whose lease expired and
//! forgets unused uploads ([`housekeeping`]). See `docs/templates.md`.

pub mod context;
pub mod housekeeping;
pub mod images;
pub mod log;
mod runner;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime::ImageBuilder;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument as _;

use api_error::ApiError;
use context::UploadStore;
use db::template_builds::{self, Attempt};
use settings::Settings;
use template_spec::{BuildSpec, RegistryCredentials};

/// One accepted build.
pub struct Job {
    pub template_id: i64,
    pub spec: BuildSpec,
    pub credentials: Option<RegistryCredentials>,
    /// `(files_hash, path)` of each upload the COPY steps read.
    pub uploads: Vec<(String, PathBuf)>,
}

/// The builds of this replica. Cheap to clone.
#[derive(Clone)]
pub struct Builds {
    pub uploads: UploadStore,
    /// The runtime's image builder; `None` when it has none (builds fail, saying so).
    images: Option<Arc<dyn ImageBuilder>>,
    limits: Arc<Limits>,
    /// This replica's id, the owner of the builds it accepts: fresh per process.
    replica: Arc<str>,
    /// Builds accepted here and not claimed yet (their spec and credentials stay in memory).
    accepted: Arc<Mutex<HashMap<Attempt, (Job, Instant)>>>,
    /// Wakes the worker: a build was accepted.
    wake: Arc<Notify>,
}

/// What of `[templates]` the builds work with.
struct Limits {
    timeout: Duration,
    max_concurrent: usize,
    max_queued: i64,
    lease: Duration,
    housekeeping_every: Duration,
    upload_ttl_seconds: f64,
    log_chunk_bytes: usize,
    log_max_chunks: usize,
}

impl Builds {
    pub fn new(settings: &Settings, images: Option<Arc<dyn ImageBuilder>>) -> Self {
        let t = &settings.templates;
        Self {
            uploads: UploadStore::new(t.upload_dir.clone()),
            images,
            limits: Arc::new(Limits {
                timeout: Duration::from_secs(t.build_timeout_seconds.into()),
                max_concurrent: t.max_concurrent_builds as usize,
                max_queued: t.max_queued_builds.into(),
                lease: Duration::from_secs(t.build_lease_seconds.into()),
                housekeeping_every: Duration::from_secs(t.housekeeping_interval_seconds.into()),
                upload_ttl_seconds: t.upload_ttl_seconds.into(),
                log_chunk_bytes: t.log_chunk_bytes as usize,
                log_max_chunks: t.log_max_chunks as usize,
            }),
            replica: uuid::Uuid::new_v4().simple().to_string().into(),
            accepted: Default::default(),
            wake: Default::default(),
        }
    }

    /// The owner id of the builds this replica accepts.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The lease of a build, in seconds, as the queries take it.
    pub fn lease_seconds(&self) -> f64 {
        self.limits.lease.as_secs_f64()
    }

    /// Whether one more build may be accepted here, or 503 `BUILD_QUEUE_FULL`: it may when this
    /// replica has a free slot, or fewer than `max_queued_builds` builds of all replicas wait.
    /// Holds a lock until `tx` ends, so the build must be started in it.
    pub async fn admit(&self, tx: &mut PgConnection) -> Result<(), ApiError> {
        let concurrent = self.limits.max_concurrent as i64;
        let (mine, waiting) = template_builds::queue(tx, &self.replica, concurrent).await?;
        if admits(mine, waiting, concurrent, self.limits.max_queued) {
            Ok(())
        } else {
            Err(ApiError::BuildQueueFull)
        }
    }

    /// Hands this replica's worker `job`, started as `attempt` in a transaction not committed yet
    /// (so the job is known before its row can be claimed); [`Builds::accepted`] once committed.
    pub fn accept(&self, attempt: Attempt, job: Job) {
        self.lock().insert(attempt, (job, Instant::now()));
    }

    /// The transaction that started `attempt` committed: the worker may claim it.
    pub fn accepted(&self) {
        self.wake.notify_one();
    }

    /// The transaction that started `attempt` failed: the job is dropped.
    pub fn forget(&self, attempt: Attempt) {
        self.lock().remove(&attempt);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Attempt, (Job, Instant)>> {
        self.accepted.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This replica's worker, for as long as the server runs (dropping it aborts the builds, whose
    /// leases then expire): claims the builds accepted here while a slot is free, and renews their
    /// leases every third of a lease. Each build ends `active` or `failed`, never stuck.
    pub async fn work(self, pool: PgPool) {
        let mut running = JoinSet::new();
        let mut live: HashMap<tokio::task::Id, (Attempt, watch::Sender<bool>)> = HashMap::new();
        let mut renew = tokio::time::interval(self.limits.lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                _ = renew.tick() => self.renew(&pool, &live).await,
                Some(ended) = running.join_next_with_id(), if !running.is_empty() => {
                    let id = match &ended {
                        Ok((id, ())) => *id,
                        Err(e) => e.id(),
                    };
                    if let Some((attempt, _)) = live.remove(&id)
                        && ended.is_err()
                    {
                        tracing::error!(template.id = attempt.template_id, "a template build panicked");
                        self.record_failure(&pool, attempt, "the build crashed").await;
                    }
                }
            }
            self.claim(&pool, &mut running, &mut live).await;
        }
    }

    /// Starts the pending builds of this replica that fit in its free slots.
    async fn claim(
        &self,
        pool: &PgPool,
        running: &mut JoinSet<()>,
        live: &mut HashMap<tokio::task::Id, (Attempt, watch::Sender<bool>)>,
    ) {
        let free = self.limits.max_concurrent.saturating_sub(running.len());
        if free == 0 || self.lock().is_empty() {
            return;
        }
        let lease = self.lease_seconds();
        let claimed = match template_builds::claim(pool, &self.replica, free as i64, lease).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %api_error::chain(&e), "claiming template builds");
                return;
            }
        };
        for attempt in claimed {
            let Some((job, _)) = self.lock().remove(&attempt) else {
                self.record_failure(pool, attempt, "the build's request was lost by its server")
                    .await;
                continue;
            };
            let (stale, stale_rx) = watch::channel(false);
            let span = tracing::info_span!("template_build", template.id = attempt.template_id);
            let build = self.clone().run(pool.clone(), attempt, job, stale_rx);
            let handle = running.spawn(build.instrument(span));
            live.insert(handle.id(), (attempt, stale));
        }
    }

    /// Renews the leases of this replica's builds; a running build found stale is told to stop,
    /// an accepted one is dropped.
    async fn renew(
        &self,
        pool: &PgPool,
        live: &HashMap<tokio::task::Id, (Attempt, watch::Sender<bool>)>,
    ) {
        let waiting: Vec<(Attempt, Instant)> =
            self.lock().iter().map(|(a, (_, t))| (*a, *t)).collect();
        let mut attempts: Vec<Attempt> = live.values().map(|(a, _)| *a).collect();
        attempts.extend(waiting.iter().map(|(a, _)| *a));
        if attempts.is_empty() {
            return;
        }
        let current = match template_builds::renew(pool, &attempts, self.lease_seconds()).await {
            Ok(current) => current,
            Err(e) => {
                tracing::warn!(error = %api_error::chain(&e), "renewing the leases of template builds");
                return;
            }
        };
        for (attempt, stale) in live.values() {
            if !current.contains(attempt) {
                let _ = stale.send(true);
            }
        }
        // An accepted build whose row is not current (failed, replaced, deleted, or its start
        // never committed), once its transaction must have ended.
        for (attempt, at) in waiting {
            if !current.contains(&attempt) && at.elapsed() > self.limits.lease {
                self.forget(attempt);
            }
        }
    }
}

/// Whether a build may be accepted by a replica running or holding `mine` builds, when `waiting`
/// builds of all replicas wait for a slot: it starts at once, or it waits in the shared queue.
fn admits(mine: i64, waiting: i64, max_concurrent: i64, max_queued: i64) -> bool {
    mine < max_concurrent || waiting < max_queued
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_is_admitted_into_a_free_slot_or_the_shared_queue() {
        // One replica: 2 run and 1 waits, as many as slots and places together.
        assert!(admits(0, 0, 2, 1));
        assert!(admits(2, 0, 2, 1));
        assert!(!admits(3, 1, 2, 1));
        // Another replica with a free slot takes a build though the queue is full...
        assert!(admits(1, 1, 2, 1));
        // ...and none once its slots are taken and others' builds fill the queue.
        assert!(!admits(2, 1, 2, 1));
        // No queue: only free slots.
        assert!(admits(1, 0, 2, 0) && !admits(2, 0, 2, 0));
    }
}
