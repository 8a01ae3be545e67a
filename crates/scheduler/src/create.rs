//! `POST /v1/sandboxes`: validate, answer a sandbox made before when the `name` or the
//! `Idempotency-Key` names one ([`crate::idempotent`]), else reserve a row under the organization's
//! cap and the host's capacity (or claim a warm-pool sandbox) with its volumes, ask the runtime, and
//! answer once the sandbox is running (or has failed).

use std::sync::Arc;
use std::time::Duration;

use api_types::agent::DESKTOP_VIEWER_PORT;
use api_types::control::CreateSandbox;
use lifecycle::SandboxStatus as S;
use runtime::{
    PooledSandbox, Resources, RuntimeError, RuntimeSandbox, SandboxRuntime, SandboxSpec,
};
use sandbox_token::TokenKey;
use tokio::time::Instant;

use crate::Scheduler;
use crate::capacity::Ask;
use crate::create_request::{Wanted, validate};
use crate::idempotent::{self, Created, Idempotency};
use crate::metrics::SchedulerMetrics;
use crate::{create_source, mounts};
use api_error::ApiError;
use db::ids;
use db::pool::Claimed;
use db::{self, sandboxes::NewSandbox, sandboxes::SandboxRow};

/// Creates a sandbox, or answers the one made before by this `name` or `idempotency` key.
///
/// One transaction checks the organization's cap, then either claims a warm-pool sandbox of the
/// template (its id becomes the sandbox's id) or admits a new one against the host's capacity, and
/// writes the `creating` row with its volume mounts, name and idempotency key; the runtime is asked
/// only after the commit, so every container Warren makes has a row first.
pub async fn create(
    state: &Scheduler,
    org_id: i64,
    req: &CreateSandbox,
    idempotency: Option<&Idempotency>,
) -> Result<Created, ApiError> {
    let wanted = validate(state, req)?;
    // Twice at most: a create that loses a race to a sandbox of its name or key answers that one.
    for _ in 0..2 {
        if let Some(i) = idempotency
            && let Some(prior) = idempotent::replay(state, org_id, i).await?
        {
            return Ok(prior);
        }
        if let Some(name) = &req.name
            && let Some(prior) = idempotent::by_name(state, org_id, name).await?
        {
            return Ok(prior);
        }
        if let Some(created) = create_new(state, org_id, req, &wanted, idempotency).await? {
            return Ok(created);
        }
    }
    Err(ApiError::InvalidTransition(
        "The sandbox of this name or key changed meanwhile; retry".into(),
    ))
}

/// Makes a new sandbox; `None` when one of the same name or idempotency key was committed first.
pub(crate) async fn create_new(
    state: &Scheduler,
    org_id: i64,
    req: &CreateSandbox,
    wanted: &Wanted<'_>,
    idempotency: Option<&Idempotency>,
) -> Result<Option<Created>, ApiError> {
    let began = Instant::now();
    let template = create_source::template(state, org_id, wanted).await?;
    let runtime = state.runtime.clone().ok_or(ApiError::RuntimeUnavailable)?;
    // Before the row exists, so the create ends within the timeout of the row's `created_at`.
    let deadline = Instant::now() + create_timeout(state);

    let key = TokenKey::generate();
    let disk_mb = template.disk_gb.saturating_mul(1024);
    let mut tx = state.pool.begin().await?;
    let cap = db::orgs::lock_for_create(&mut tx, org_id).await?.map_or(
        i64::from(state.settings.limits.max_live_sandboxes),
        i64::from,
    );
    // The organization's creates are serialized from here on: a sandbox of this name committed
    // before is seen.
    if let Some(name) = &req.name
        && db::sandboxes::find_live_by_name(&mut *tx, org_id, name)
            .await?
            .is_some()
    {
        return Ok(None);
    }
    let current = db::sandboxes::count_live(&mut tx, org_id).await?;
    if current >= cap {
        return Err(ApiError::SandboxLimit {
            limit: cap,
            current,
        });
    }
    let requested = req.volumes.as_deref().unwrap_or_default();
    let volumes = mounts::reserve(&mut tx, org_id, requested).await?;
    create_source::lock(&mut tx, org_id, wanted).await?;
    // A pooled sandbox has the template's shape: internet access, no per-request resources, no
    // volumes (mounts are made with the container), the image's files (not a snapshot's).
    let poolable = wanted.internet_access
        && volumes.is_empty()
        && wanted.snapshot.is_none()
        && template.organization_id.is_none()
        && state.settings.pool.templates.contains_key(&template.name);
    let claimed = if poolable {
        let claimed =
            db::pool::claim(&mut tx, template.id, template.vcpu, template.memory_mb).await?;
        let outcome = if claimed.is_some() { "hit" } else { "miss" };
        state.metrics.pool_claim(outcome);
        claimed
    } else {
        None
    };
    let ask = Ask {
        org_id: Some(org_id),
        vcpu: template.vcpu,
        memory_mb: template.memory_mb,
        disk_mb,
    };
    let evicted = match claimed {
        Some(_) => {
            state.capacity.admit_claim(&mut tx, ask).await?;
            Vec::new()
        }
        None => state.capacity.admit_evicting(&mut tx, ask).await?,
    };
    let id = claimed
        .as_ref()
        .map_or_else(ids::new_sandbox_id, |c| c.id.clone());
    let new = NewSandbox {
        id: &id,
        organization_id: org_id,
        template_id: template.id,
        template_name: &template.name,
        region: &state.settings.sandboxes.region,
        vcpu: template.vcpu,
        memory_mb: template.memory_mb,
        disk_mb,
        internet_access: wanted.internet_access,
        timeout_seconds: wanted.timeout_seconds,
        token_key: key.as_bytes(),
        private_previews: req.private_previews.unwrap_or(false),
        name: req.name.as_deref(),
        auto_pause_seconds: wanted.auto_pause_seconds,
    };
    match db::sandboxes::insert_creating(&mut tx, &new).await {
        Err(e) if db::sandboxes::is_name_taken(&e) => return Ok(None),
        other => other?,
    };
    mounts::record(&mut tx, &id, &volumes).await?;
    if let Some(i) = idempotency {
        let ttl = i64::from(state.settings.sandboxes.idempotency_ttl_seconds);
        if !db::idempotency::claim(&mut tx, org_id, &i.key, &i.request_hash, &id, ttl).await? {
            return Ok(None);
        }
    }
    tx.commit().await?;

    let spec = SandboxSpec {
        sandbox_id: id.clone(),
        template: template.name.clone(),
        image: template.image.clone(),
        isolation: db::templates::isolation(&template.isolation),
        resources: Resources {
            vcpu: template.vcpu.unsigned_abs(),
            memory_mb: template.memory_mb.unsigned_abs(),
            disk_mb: disk_mb.unsigned_abs(),
        },
        env_vars: wanted.env_vars.clone(),
        internet_access: wanted.internet_access,
        token_key_hex: key.to_hex(),
        viewer_base: Some(crate::views::public_host(
            &state.settings.router,
            state.listen_port,
            &format!("{DESKTOP_VIEWER_PORT}-{id}"),
        )),
        // The column's value for a row just inserted; preview-link revocation bumps it later.
        preview_epoch: 0,
        volumes,
        snapshot_id: wanted.snapshot.map(str::to_owned),
    };
    let admitted = Instant::now();
    // Finish in a task of its own, so a client that hangs up mid-create (the handler future is then
    // dropped) leaves neither a row stuck in `creating` nor an orphan in the runtime. A create that
    // failed forgets its idempotency key, so that a retry creates again.
    let state = state.clone();
    let key_used = idempotency.map(|i| i.key.clone());
    let finishing = tokio::spawn(async move {
        destroy_all_quietly(&state, &evicted).await;
        let finished = finish(state.clone(), runtime, spec, claimed, deadline).await;
        if finished.is_err()
            && let Some(key) = key_used
            && let Err(e) = db::idempotency::forget(&state.pool, org_id, &key, &id).await
        {
            tracing::warn!(sandbox.id = %id, error.chain = %api_error::chain(&e), "idempotency key not forgotten");
        }
        finished
    });
    let row = finishing.await.map_err(ApiError::internal)??;
    tracing::debug!(
        sandbox.id = %row.id,
        admit_ms = (admitted - began).as_secs_f64() * 1000.0,
        runtime_and_record_ms = admitted.elapsed().as_secs_f64() * 1000.0,
        "created"
    );
    Ok(Some(Created {
        row,
        key,
        created: true,
    }))
}

/// `runtime.create_timeout_seconds`.
pub fn create_timeout(state: &Scheduler) -> Duration {
    Duration::from_secs(state.settings.runtime.create_timeout_seconds.into())
}

/// Runs a runtime operation, failing it as `Unavailable` if `deadline` passes first.
pub async fn by_deadline<T>(
    deadline: Instant,
    op: impl Future<Output = Result<T, RuntimeError>>,
) -> Result<T, RuntimeError> {
    tokio::time::timeout_at(deadline, op)
        .await
        .unwrap_or_else(|elapsed| Err(RuntimeError::Unavailable(Box::new(elapsed))))
}

/// Makes the sandbox exist: hands it the claimed pooled sandbox, or (without one, or when the claim
/// fails) creates it cold.
async fn make(
    runtime: &dyn SandboxRuntime,
    metrics: &SchedulerMetrics,
    spec: &SandboxSpec,
    claimed: Option<Claimed>,
    deadline: Instant,
) -> Result<RuntimeSandbox, RuntimeError> {
    let id = spec.sandbox_id.as_str();
    if let Some(c) = claimed {
        let handed = match c.agent_addr.parse() {
            Ok(agent_addr) => {
                let pooled = PooledSandbox {
                    sandbox_id: c.id,
                    agent_addr,
                    configure_secret: c.configure_secret,
                };
                by_deadline(deadline, runtime.claim(&pooled, spec)).await
            }
            Err(e) => Err(RuntimeError::Failed(Box::new(e))),
        };
        match handed {
            Ok(ready) => return Ok(ready),
            Err(e) => {
                tracing::warn!(sandbox.id = %id, error.chain = %api_error::chain(&e), "warm-pool claim failed; creating cold");
                metrics.pool_claim("failed");
                by_deadline(deadline, runtime.destroy(id)).await?;
            }
        }
    }
    by_deadline(deadline, runtime.create(spec)).await
}

/// Asks the runtime for the sandbox and records the outcome: `running`; `error` (and cleanup) when
/// the runtime failed; nothing visible (`deleted`) when the runtime is unreachable.
async fn finish(
    state: Scheduler,
    runtime: Arc<dyn SandboxRuntime>,
    spec: SandboxSpec,
    claimed: Option<Claimed>,
    deadline: Instant,
) -> Result<SandboxRow, ApiError> {
    let id = spec.sandbox_id.as_str();
    let _in_flight = state.in_flight.begin(id);
    match make(runtime.as_ref(), &state.metrics, &spec, claimed, deadline).await {
        Ok(ready) => {
            let addr = ready.agent_addr.to_string();
            let row =
                db::sandboxes::transition(&state.pool, id, S::Creating, S::Running, Some(&addr))
                    .await?;
            match row {
                Some(row) => Ok(row),
                None => {
                    // Deleted (or reaped) while it was being created: undo.
                    destroy_quietly(&state, id).await;
                    Err(ApiError::SandboxNotFound)
                }
            }
        }
        Err(e) => {
            tracing::warn!(sandbox.id = %id, error.chain = %api_error::chain(&e), "runtime create failed");
            let to = match e {
                RuntimeError::Unavailable(_) => S::Deleted,
                _ => S::Error,
            };
            db::sandboxes::transition(&state.pool, id, S::Creating, to, None).await?;
            // In the background: the answer must not wait for a runtime that does not answer (the
            // reconciler removes whatever this cleanup cannot).
            let (state, id) = (state.clone(), id.to_owned());
            tokio::spawn(async move { destroy_quietly(&state, &id).await });
            Err(e.into())
        }
    }
}
/// Removes warm-pool sandboxes evicted to make room (their rows are gone already).
pub async fn destroy_all_quietly(state: &Scheduler, ids: &[String]) {
    for id in ids {
        tracing::info!(sandbox.id = %id, "evicting a warm-pool sandbox to make room");
        destroy_quietly(state, id).await;
    }
}

/// Asks the runtime to remove a sandbox, logging (not returning) failures: the row is already
/// `deleted` or `error`, and reconciliation removes leftovers.
pub async fn destroy_quietly(state: &Scheduler, id: &str) {
    if let Some(runtime) = &state.runtime
        && let Err(e) = runtime.destroy(id).await
    {
        tracing::warn!(sandbox.id = %id, error.chain = %api_error::chain(&e), "runtime destroy failed");
    }
}
