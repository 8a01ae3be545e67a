//! Everything done to an existing sandbox: the lifecycle actions (`crates/lifecycle` holds the states
//! and transitions), delete, timeout, token refresh.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lifecycle::{Action, SandboxStatus};
use runtime::{RuntimeError, SandboxRuntime};
use sandbox_token::TokenKey;
use tokio::time::Instant;

use crate::Scheduler;
use crate::capacity::Ask;
use crate::create::{by_deadline, create_timeout, destroy_all_quietly, destroy_quietly};
use api_error::{ApiError, chain};
use db::ids;
use db::{self, sandboxes::SandboxRow};

/// How often a request waiting for an action under way reads the row.
const SETTLE_POLL: Duration = Duration::from_millis(100);

/// The organization's live sandbox, or 404 (also for ids of other organizations and non-ids).
pub async fn find(state: &Scheduler, org_id: i64, id: &str) -> Result<SandboxRow, ApiError> {
    if !ids::is_sandbox_id(id) {
        return Err(ApiError::SandboxNotFound);
    }
    db::sandboxes::get(&state.pool, org_id, id)
        .await?
        .ok_or(ApiError::SandboxNotFound)
}

/// Pauses, resumes, stops or starts a sandbox. The action's transitional state is written first
/// (a conditional update from the state read: of two concurrent actions one wins, the other gets a
/// 409), then the runtime is asked ([`drive`]). A request that finds its own action under way waits
/// for that one's outcome instead of starting a second.
pub async fn apply(
    state: &Scheduler,
    org_id: i64,
    id: &str,
    action: Action,
) -> Result<SandboxRow, ApiError> {
    let row = find(state, org_id, id).await?;
    // Traffic for the idle clock (auto-pause); reads of the sandbox's state are not.
    state.activity.touch(id);
    let status = row.state();
    if status == action.via() {
        return settled(state, org_id, id, action).await;
    }
    action.check(status).map_err(refused)?;
    let runtime = state.runtime.as_ref().ok_or(ApiError::RuntimeUnavailable)?;
    let _in_flight = state.in_flight.begin(id);
    let began = match action {
        Action::Start => begin_start(state, &row).await?,
        _ => db::sandboxes::transition(&state.pool, id, status, action.via(), None)
            .await?
            .is_some(),
    };
    if !began {
        return already(state, org_id, id, action).await;
    }
    state.routes.changed(id, action.via());
    match drive(state, runtime.as_ref(), id, action, status).await? {
        Some(row) => Ok(row),
        None => already(state, org_id, id, action).await,
    }
}

/// Carries out `action` on a sandbox whose row says `action.via()` (written by a request, or left by
/// one that died: the reconciler), and records where it ended: `action.to()`, with the agent
/// address of this start; `error` when the runtime no longer holds the sandbox; `back` when the
/// runtime refused. While the runtime does not answer (or past the create timeout) the intent stays
/// for the reconciler to finish. `None` when the row moved on meanwhile (deleted).
pub async fn drive(
    state: &Scheduler,
    runtime: &dyn SandboxRuntime,
    id: &str,
    action: Action,
    back: SandboxStatus,
) -> Result<Option<SandboxRow>, ApiError> {
    let deadline = Instant::now() + create_timeout(state);
    let done = match action {
        Action::Pause => by_deadline(deadline, runtime.pause(id))
            .await
            .map(|()| None),
        Action::Resume => by_deadline(deadline, runtime.resume(id))
            .await
            .map(|()| None),
        Action::Stop => by_deadline(deadline, runtime.stop(id)).await.map(|()| None),
        Action::Start => by_deadline(deadline, runtime.start(id))
            .await
            .map(|ready| Some(ready.agent_addr.to_string())),
    };
    let via = action.via();
    let pool = &state.pool;
    match done {
        Ok(addr) => {
            let to = action.to();
            let row = db::sandboxes::transition(pool, id, via, to, addr.as_deref()).await?;
            if row.is_some() {
                state.routes.changed(id, to);
            }
            Ok(row)
        }
        Err(e @ RuntimeError::Unavailable(_)) => Err(e.into()),
        Err(e @ RuntimeError::NotFound(_)) => {
            let reason = "its sandbox vanished from the runtime";
            if !db::reconcile::correct(pool, id, via, SandboxStatus::Error, reason).await? {
                return Ok(None);
            }
            state.routes.changed(id, SandboxStatus::Error);
            Err(e.into())
        }
        Err(e) => {
            tracing::warn!(sandbox.id = %id, action = action.verb(), error.chain = %chain(&e), "the runtime refused an action");
            if db::sandboxes::transition(pool, id, via, back, None)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            state.routes.changed(id, back);
            Err(e.into())
        }
    }
}

/// Admits a start like a create (its CPU and memory count again; warm-pool sandboxes are evicted if
/// need be) and writes `starting`, under the admission lock; `false` when the row changed meanwhile.
async fn begin_start(state: &Scheduler, row: &SandboxRow) -> Result<bool, ApiError> {
    let mut tx = state.pool.begin().await?;
    let evicted = state
        .capacity
        .admit_evicting(
            &mut tx,
            Ask {
                org_id: Some(row.organization_id),
                vcpu: row.vcpu,
                memory_mb: row.memory_mb,
                // A stopped sandbox kept its disk, which counts already.
                disk_mb: 0,
            },
        )
        .await?;
    let began = db::sandboxes::transition(
        &mut *tx,
        &row.id,
        SandboxStatus::Stopped,
        SandboxStatus::Starting,
        None,
    )
    .await?
    .is_some();
    if began {
        tx.commit().await?;
        destroy_all_quietly(state, &evicted).await;
    }
    Ok(began)
}

/// The outcome of `action` already under way (a twin request, or one the reconciler finishes):
/// waits, up to the create timeout, until the row leaves `action.via()`.
async fn settled(
    state: &Scheduler,
    org_id: i64,
    id: &str,
    action: Action,
) -> Result<SandboxRow, ApiError> {
    let deadline = Instant::now() + create_timeout(state);
    loop {
        let row = find(state, org_id, id).await?;
        if row.state() != action.via() {
            return outcome(row, action);
        }
        if Instant::now() >= deadline {
            return Err(ApiError::InvalidTransition(format!(
                "A {} of this sandbox is still under way; retry",
                action.verb()
            )));
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// After a concurrent writer changed the row: the outcome of `action` if it is under way, else
/// what [`outcome`] says (404 when deleted).
async fn already(
    state: &Scheduler,
    org_id: i64,
    id: &str,
    action: Action,
) -> Result<SandboxRow, ApiError> {
    let row = find(state, org_id, id).await?;
    if row.state() == action.via() {
        return settled(state, org_id, id, action).await;
    }
    outcome(row, action)
}

/// The row once `action` cannot (or need not) act any more: itself if it is in the action's
/// target; a 409 saying why when the action is not possible from where it is now (another action
/// under way, say); else a 409 asking to retry.
fn outcome(row: SandboxRow, action: Action) -> Result<SandboxRow, ApiError> {
    let status = row.state();
    if status == action.to() {
        return Ok(row);
    }
    action.check(status).map_err(refused)?;
    Err(changed_meanwhile())
}

fn refused(e: lifecycle::Refused) -> ApiError {
    ApiError::InvalidTransition(e.to_string())
}

fn changed_meanwhile() -> ApiError {
    ApiError::InvalidTransition("The sandbox changed state meanwhile; retry".into())
}

/// Deletes a sandbox: the row first (so it is gone for every replica), then the runtime's copy.
pub async fn delete(state: &Scheduler, org_id: i64, id: &str) -> Result<(), ApiError> {
    if !ids::is_sandbox_id(id) || !db::sandboxes::mark_deleted(&state.pool, org_id, id).await? {
        return Err(ApiError::SandboxNotFound);
    }
    state.routes.changed(id, SandboxStatus::Deleted);
    destroy_quietly(state, id).await;
    Ok(())
}

/// Sets the sandbox to expire `seconds` from now.
pub async fn set_timeout(
    state: &Scheduler,
    org_id: i64,
    id: &str,
    seconds: i64,
) -> Result<SandboxRow, ApiError> {
    let max = i64::from(state.settings.sandboxes.max_timeout_seconds);
    if !(1..=max).contains(&seconds) {
        return Err(ApiError::InvalidRequest(format!(
            "timeout_seconds must be between 1 and {max}"
        )));
    }
    if !ids::is_sandbox_id(id) {
        return Err(ApiError::SandboxNotFound);
    }
    let row = db::sandboxes::set_timeout(&state.pool, org_id, id, seconds)
        .await?
        .ok_or(ApiError::SandboxNotFound)?;
    state.activity.touch(id);
    Ok(row)
}

/// Signs a new agent token with the sandbox's current key (so that every client of the sandbox keeps
/// working across rotations).
pub async fn refresh_token(
    state: &Scheduler,
    org_id: i64,
    id: &str,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let row = find(state, org_id, id).await?;
    state.activity.touch(id);
    let key = TokenKey::from_bytes(&row.token_key).map_err(ApiError::internal)?;
    Ok(issue_token(state, &key, id))
}

/// A token for `id` valid for `sandboxes.token_ttl_seconds`.
pub fn issue_token(state: &Scheduler, key: &TokenKey, id: &str) -> (String, DateTime<Utc>) {
    let ttl = i64::from(state.settings.sandboxes.token_ttl_seconds);
    let expires = DateTime::from_timestamp(Utc::now().timestamp() + ttl, 0).unwrap_or_default();
    (key.sign(id, expires.timestamp()), expires)
}
