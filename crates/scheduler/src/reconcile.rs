//! The reconciler: makes Postgres and the runtime agree, on the leader replica, when it becomes
//! leader and every `reconcile.interval_seconds`.
//!
//! Postgres is the truth about ownership; the runtime is the truth about what exists. One pass:
//! 1. reads the database clock (`since`), then lists the runtime, then reads every row that may own a
//!    runtime sandbox in one statement. Rows are always written before the runtime is asked to make a
//!    sandbox, so a listed sandbox without a row is an orphan, never a create in flight;
//! 2. destroys orphans, and sandboxes whose row is `deleted` or `error`;
//! 3. marks `running`/`paused`/`stopped` rows whose sandbox vanished `error` (only rows unchanged since
//!    `since`: later ones may belong to sandboxes made after the list), and `running`/`paused` rows
//!    whose sandbox exited `stopped` (only rows unchanged for longer than a create may take, so a start
//!    in flight is left alone);
//! 4. marks `creating` rows older than a create may take (and not being created in this process)
//!    `error`, destroying whatever the runtime holds for them;
//! 5. finishes actions a request left half done (a row in `pausing`, `resuming`, `stopping` or
//!    `starting` for longer than a create may take, and not under way in this process): records the
//!    target when the runtime already shows it, else drives the runtime there ([`actions::drive`]);
//!    a `starting` sandbox found running or paused is stopped and started again, so that its route
//!    points at an address confirmed by this start;
//! 6. drops pool rows whose sandbox vanished or exited, or that stayed `starting` too long;
//! 7. removes what the runtime kept ready for processes that are gone (a crashed replica's spare
//!    network holders: `SandboxRuntime::sweep`);
//! 8. removes volumes without a row and those a crashed create left `creating`
//!    ([`crate::volumes::reconcile`]);
//! 9. likewise snapshots without a row and those a crashed snapshot or fork left `creating`
//!    ([`crate::snapshots::reconcile`]).
//!
//! Every correction is conditional on the status it read, so a request that changed the row meanwhile
//! wins, and two reconcilers (a leadership hand-over) do no harm. There are no retries inside a pass:
//! the next pass is the retry.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use lifecycle::{Action, PoolStatus, SandboxStatus as S};
use runtime::RuntimeState;

use crate::Scheduler;
use crate::actions;
use crate::create::{create_timeout, destroy_quietly};
use api_error::{ApiError, chain};
use db::{self, reconcile::Owned, reconcile::Owner};

/// Slack added to the create timeout before a `creating` row counts as abandoned.
pub(crate) const STALE_SLACK: Duration = Duration::from_secs(5);

/// Ids of the sandboxes this process is creating right now.
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashSet<String>>);

impl InFlight {
    /// Records a create until the guard is dropped.
    pub fn begin(&self, id: &str) -> InFlightGuard<'_> {
        self.lock().insert(id.to_owned());
        InFlightGuard {
            set: self,
            id: id.to_owned(),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.lock().contains(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct InFlightGuard<'a> {
    set: &'a InFlight,
    id: String,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.set.lock().remove(&self.id);
    }
}

/// What one pass changed, by sandbox id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Runtime sandboxes removed: orphans, and those of deleted or failed rows.
    pub destroyed: Vec<String>,
    /// Rows moved to `error`.
    pub failed: Vec<String>,
    /// Rows moved to `stopped`.
    pub stopped: Vec<String>,
    /// Rows whose half-done action was finished (they reached its target or went back).
    pub finished: Vec<String>,
    /// Pool rows dropped.
    pub unpooled: Vec<String>,
    /// What the runtime kept ready for processes that are gone, removed (spare network holders).
    pub swept: Vec<String>,
    /// Volumes without a row, or left `creating` by a create that died, removed.
    pub volumes: Vec<String>,
    /// Snapshots without a row, or left `creating` by a snapshot or fork that died, removed.
    pub snapshots: Vec<String>,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// How many of each kind, by the names `/metrics` uses.
    pub fn counts(&self) -> [(&'static str, usize); 8] {
        [
            ("destroyed", self.destroyed.len()),
            ("failed", self.failed.len()),
            ("stopped", self.stopped.len()),
            ("finished", self.finished.len()),
            ("unpooled", self.unpooled.len()),
            ("swept", self.swept.len()),
            ("volumes", self.volumes.len()),
            ("snapshots", self.snapshots.len()),
        ]
    }
}

#[derive(Clone)]
pub struct Reconciler {
    state: Scheduler,
}

impl Reconciler {
    pub fn new(state: Scheduler) -> Self {
        Self { state }
    }

    /// One pass (see the module docs).
    pub async fn run_once(&self) -> anyhow::Result<Report> {
        let mut report = Report::default();
        let Some(runtime) = &self.state.runtime else {
            return Ok(report);
        };
        let pool = &self.state.pool;
        let since = db::reconcile::now(pool).await?;
        let listed: HashMap<String, RuntimeState> = runtime
            .list()
            .await
            .context("list the runtime's sandboxes")?
            .into_iter()
            .map(|s| (s.sandbox_id, s.state))
            .collect();
        let ids: Vec<String> = listed.keys().cloned().collect();
        let owners: HashMap<String, Owner> = db::reconcile::owners(pool, &ids)
            .await?
            .into_iter()
            .map(|o| (o.id.clone(), o))
            .collect();
        let stale = since - (create_timeout(&self.state) + STALE_SLACK);

        for (id, state) in &listed {
            let Some(owner) = owners.get(id) else {
                tracing::warn!(sandbox.id = %id, "removing a sandbox nobody owns");
                self.destroy(id, &mut report.destroyed).await;
                continue;
            };
            let exited = *state == RuntimeState::Stopped;
            let abandoned = owner.changed_at < stale && !self.state.in_flight.contains(id);
            match owner.state() {
                Owned::Sandbox(S::Deleted | S::Error) => {
                    self.destroy(id, &mut report.destroyed).await;
                }
                Owned::Sandbox(from @ (S::Running | S::Paused))
                    if exited && owner.changed_at < stale =>
                {
                    self.correct(
                        id,
                        from,
                        S::Stopped,
                        "its processes exited",
                        &mut report.stopped,
                    )
                    .await?;
                }
                Owned::Sandbox(via) if abandoned => {
                    if let Some(action) = via.in_progress() {
                        self.finish(id, action, *state, &mut report).await;
                    }
                }
                Owned::Pooled(PoolStatus::Ready) if exited => {
                    self.unpool(id, PoolStatus::Ready, &mut report).await?;
                }
                _ => {}
            }
        }
        for owner in owners.values() {
            let id = owner.id.as_str();
            let vanished = !listed.contains_key(id);
            match owner.state() {
                Owned::Sandbox(S::Creating)
                    if owner.created_at < stale && !self.state.in_flight.contains(id) =>
                {
                    let reason = "the create did not finish (server restart or runtime timeout)";
                    if self
                        .correct(id, S::Creating, S::Error, reason, &mut report.failed)
                        .await?
                        && !vanished
                    {
                        self.destroy(id, &mut report.destroyed).await;
                    }
                }
                Owned::Sandbox(from)
                    if from != S::Creating
                        && from.is_live()
                        && vanished
                        && owner.changed_at < since =>
                {
                    let reason = "its sandbox vanished from the runtime";
                    self.correct(id, from, S::Error, reason, &mut report.failed)
                        .await?;
                }
                Owned::Pooled(PoolStatus::Ready) if vanished && owner.changed_at < since => {
                    self.unpool(id, PoolStatus::Ready, &mut report).await?;
                }
                Owned::Pooled(PoolStatus::Starting) if owner.created_at < stale => {
                    self.unpool(id, PoolStatus::Starting, &mut report).await?;
                }
                _ => {}
            }
        }
        report.swept = runtime
            .sweep()
            .await
            .context("sweep what gone processes left")?;
        report.volumes = crate::volumes::reconcile(&self.state)
            .await
            .context("reconcile volumes")?;
        report.snapshots = crate::snapshots::reconcile(&self.state)
            .await
            .context("reconcile snapshots")?;
        Ok(report)
    }

    /// Finishes `action`, left half done, on a sandbox the runtime shows as `actual`.
    async fn finish(&self, id: &str, action: Action, actual: RuntimeState, report: &mut Report) {
        let Some(runtime) = &self.state.runtime else {
            return;
        };
        let shown = match actual {
            RuntimeState::Running => S::Running,
            RuntimeState::Paused => S::Paused,
            RuntimeState::Stopped => S::Stopped,
        };
        let driven: Result<_, ApiError> = if action == Action::Start {
            // Started afresh, so that the route points at an address confirmed by this start.
            async {
                if shown != S::Stopped {
                    runtime.stop(id).await?;
                }
                actions::drive(&self.state, runtime.as_ref(), id, action, S::Stopped).await
            }
            .await
        } else if shown == action.to() || shown == S::Stopped {
            // Done already, or overtaken (the processes exited): record what the runtime shows.
            let reason = "finished a half-done action";
            let recorded = self.correct(id, action.via(), shown, reason, &mut report.finished);
            if let Err(e) = recorded.await {
                tracing::warn!(sandbox.id = %id, error.chain = %chain(&e), "could not record a half-done action; next pass");
            }
            return;
        } else {
            actions::drive(&self.state, runtime.as_ref(), id, action, shown).await
        };
        match driven {
            Ok(_) => {
                tracing::warn!(sandbox.id = %id, action = action.verb(), "finished a half-done action");
                report.finished.push(id.to_owned());
            }
            Err(e) => {
                tracing::warn!(sandbox.id = %id, action = action.verb(), error.chain = %chain(&e), "could not finish a half-done action; next pass");
            }
        }
    }

    async fn destroy(&self, id: &str, destroyed: &mut Vec<String>) {
        destroy_quietly(&self.state, id).await;
        destroyed.push(id.to_owned());
    }

    /// Moves a row from `from` to `to`; `true` (and noted in `into`) if nobody changed it meanwhile.
    async fn correct(
        &self,
        id: &str,
        from: S,
        to: S,
        reason: &str,
        into: &mut Vec<String>,
    ) -> Result<bool, sqlx::Error> {
        let done = db::reconcile::correct(&self.state.pool, id, from, to, reason).await?;
        if done {
            self.state.routes.changed(id, to);
            tracing::warn!(sandbox.id = %id, from = from.as_str(), to = to.as_str(), reason, "reconciled a sandbox");
            into.push(id.to_owned());
        }
        Ok(done)
    }

    /// Drops a pool row that still has `status`, and whatever the runtime holds for it.
    async fn unpool(
        &self,
        id: &str,
        status: PoolStatus,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        if db::reconcile::drop_pooled(&self.state.pool, id, status).await? {
            tracing::warn!(sandbox.id = %id, status = status.as_str(), "dropped a broken warm-pool sandbox");
            destroy_quietly(&self.state, id).await;
            report.unpooled.push(id.to_owned());
        }
        Ok(())
    }

    /// Runs forever, one pass per `reconcile.interval_seconds` (the first at once).
    pub async fn run_forever(self) {
        let every = Duration::from_secs(self.state.settings.reconcile.interval_seconds.into());
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.run_once().await {
                Ok(report) => {
                    self.state.metrics.reconciled(Some(&report.counts()));
                    if !report.is_empty() {
                        tracing::info!(?report, "reconciled");
                    }
                }
                Err(e) => {
                    self.state.metrics.reconciled(None);
                    tracing::warn!(error.chain = %chain(e.as_ref()), "reconcile pass failed");
                }
            }
        }
    }
}
