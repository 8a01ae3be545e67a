//! The warm pool: sandboxes started ahead of demand for the templates `pool.templates` names, so a
//! create is served by a database write and the agent's configure step.
//!
//! The refill runs on the leader replica. For each missing pooled sandbox it admits the sandbox
//! against the host's capacity and writes a `starting` row in one transaction, asks the runtime to
//! start it, then marks the row `ready`; on failure it drops the row and the sandbox. A create claims
//! a ready row in its own transaction (`db::pool::claim`), which also `NOTIFY`s the refill, so the
//! pool is topped up at once on whichever replica leads; a periodic pass catches everything else.

use std::time::Duration;

use anyhow::Context as _;
use runtime::{PooledSpec, Resources, SandboxRuntime};
use sandbox_token::TokenKey;
use sqlx::postgres::PgListener;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::Scheduler;
use crate::capacity::Ask;
use crate::create::{by_deadline, create_timeout, destroy_quietly};
use api_error::{ApiError, chain};
use db::ids;
use db::{self, pool::NewPooled, pool::PooledTemplate};

#[derive(Clone)]
pub struct PoolRefill {
    state: Scheduler,
}

impl PoolRefill {
    pub fn new(state: Scheduler) -> Self {
        Self { state }
    }

    /// One pass: starts, concurrently, the pooled sandboxes each configured template lacks, as far as
    /// capacity allows. Returns the ids it made ready.
    pub async fn refill_once(&self) -> anyhow::Result<Vec<String>> {
        let sizes = &self.state.settings.pool.templates;
        let Some(runtime) = self.state.runtime.clone() else {
            return Ok(Vec::new());
        };
        if sizes.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = sizes.keys().cloned().collect();
        let mut starts = JoinSet::new();
        for template in db::pool::templates(&self.state.pool, &names).await? {
            let size = sizes.get(&template.name).copied().unwrap_or_default();
            for _ in template.pooled..i64::from(size) {
                let Some(spec) = self.reserve(&template).await? else {
                    break;
                };
                starts.spawn(start(self.state.clone(), runtime.clone(), spec));
            }
        }
        let mut ready = Vec::new();
        let mut failed = None;
        while let Some(done) = starts.join_next().await {
            match done.context("pool start task")? {
                Ok(id) => ready.push(id),
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(ready),
        }
    }

    /// Admits a pooled sandbox of `template` and writes its `starting` row; `None` when capacity is
    /// short (a pooled sandbox never displaces a requested one).
    async fn reserve(&self, template: &PooledTemplate) -> anyhow::Result<Option<PooledSpec>> {
        let id = ids::new_sandbox_id();
        let configure_secret = TokenKey::generate().to_hex();
        let mut tx = self.state.pool.begin().await?;
        match self
            .state
            .capacity
            .admit(
                &mut tx,
                Ask {
                    org_id: None,
                    vcpu: template.vcpu,
                    memory_mb: template.memory_mb,
                    disk_mb: template.disk_gb.saturating_mul(1024),
                },
            )
            .await
        {
            Ok(()) => {}
            Err(ApiError::CapacityExceeded { resource, .. }) => {
                tracing::debug!(template = %template.name, resource, "no capacity for the warm pool");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        let row = NewPooled {
            id: &id,
            template_id: template.id,
            configure_secret: &configure_secret,
            vcpu: template.vcpu,
            memory_mb: template.memory_mb,
        };
        db::pool::insert_starting(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(Some(PooledSpec {
            sandbox_id: id,
            template: template.name.clone(),
            image: template.image.clone(),
            isolation: db::templates::isolation(&template.isolation),
            resources: Resources {
                vcpu: template.vcpu.unsigned_abs(),
                memory_mb: template.memory_mb.unsigned_abs(),
                disk_mb: template.disk_gb.saturating_mul(1024).unsigned_abs(),
            },
            configure_secret,
        }))
    }

    /// Refills when a claim notifies, and every `reconcile.interval_seconds` anyway.
    pub async fn run_forever(self) {
        let every = Duration::from_secs(self.state.settings.reconcile.interval_seconds.into());
        let mut listener = match self.listen().await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error.chain = %chain(e.as_ref()), "pool refill cannot LISTEN; polling only");
                None
            }
        };
        loop {
            match self.refill_once().await {
                Ok(ready) if !ready.is_empty() => tracing::debug!(?ready, "warm pool refilled"),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error.chain = %chain(e.as_ref()), "warm pool refill failed")
                }
            }
            let wake = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(drop),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                woke = wake => if let Err(e) = woke {
                    tracing::warn!(error.chain = %chain(&e), "pool refill LISTEN failed");
                    tokio::time::sleep(every).await;
                },
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    async fn listen(&self) -> anyhow::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.state.pool).await?;
        listener.listen(db::pool::REFILL_CHANNEL).await?;
        Ok(listener)
    }
}

/// Starts one reserved pooled sandbox; on failure drops its row and whatever the runtime made.
async fn start(
    state: Scheduler,
    runtime: std::sync::Arc<dyn SandboxRuntime>,
    spec: PooledSpec,
) -> anyhow::Result<String> {
    let id = spec.sandbox_id.clone();
    let deadline = Instant::now() + create_timeout(&state);
    match by_deadline(deadline, runtime.create_pooled(&spec)).await {
        Ok(pooled) => {
            let addr = pooled.agent_addr.to_string();
            if !db::pool::mark_ready(&state.pool, &id, &addr).await? {
                // The row went away meanwhile (its template was deleted, or the reconciler gave up).
                destroy_quietly(&state, &id).await;
            }
            Ok(id)
        }
        Err(e) => {
            db::pool::delete(&state.pool, &id).await?;
            destroy_quietly(&state, &id).await;
            Err(anyhow::Error::new(e).context(format!("start pooled sandbox {id}")))
        }
    }
}
