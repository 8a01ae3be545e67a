//! Everything done to an existing sandbox: the state-machine actions, delete, timeout, token refresh.

use chrono::{DateTime, Utc};
use runtime::SandboxRuntime;
use sandbox_token::TokenKey;

use crate::app::capacity::Ask;
use crate::app::create::{destroy_all_quietly, destroy_quietly};
use crate::app::status::Action;
use crate::db::{self, sandboxes::SandboxRow};
use crate::error::ApiError;
use crate::ids;
use crate::state::AppState;

/// The organization's live sandbox, or 404 (also for ids of other organizations and non-ids).
pub async fn find(state: &AppState, org_id: i64, id: &str) -> Result<SandboxRow, ApiError> {
    if !ids::is_sandbox_id(id) {
        return Err(ApiError::SandboxNotFound);
    }
    db::sandboxes::get(&state.pool, org_id, id)
        .await?
        .ok_or(ApiError::SandboxNotFound)
}

/// Pauses, resumes, stops or starts a sandbox: checks the transition, drives the runtime, then
/// records the new status only if nobody changed it meanwhile (else 409).
pub async fn apply(
    state: &AppState,
    org_id: i64,
    id: &str,
    action: Action,
) -> Result<SandboxRow, ApiError> {
    let row = find(state, org_id, id).await?;
    action.check(&row.status)?;
    let runtime = state.runtime.as_ref().ok_or(ApiError::RuntimeUnavailable)?;
    match action {
        Action::Start => return start(state, runtime.as_ref(), row).await,
        Action::Pause => runtime.pause(id).await?,
        Action::Resume => runtime.resume(id).await?,
        Action::Stop => runtime.stop(id).await?,
    }
    match db::sandboxes::transition(&state.pool, id, &row.status, action.to(), None).await? {
        Some(row) => {
            state.routes.changed(id, action.to());
            Ok(row)
        }
        None => already(state, org_id, id, action.to()).await,
    }
}

/// The row when a concurrent writer (a twin request, the reconciler) already recorded `status`.
async fn already(
    state: &AppState,
    org_id: i64,
    id: &str,
    status: &str,
) -> Result<SandboxRow, ApiError> {
    Some(find(state, org_id, id).await?)
        .filter(|row| row.status == status)
        .ok_or_else(changed_meanwhile)
}

/// Starts a stopped sandbox. Its resources count again, so it is admitted like a create (evicting
/// warm-pool sandboxes if need be): the row is moved to `running` under the admission lock before the
/// runtime starts it, and back to `stopped` if the runtime fails.
async fn start(
    state: &AppState,
    runtime: &dyn SandboxRuntime,
    row: SandboxRow,
) -> Result<SandboxRow, ApiError> {
    let id = row.id.as_str();
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
    db::sandboxes::transition(&mut *tx, id, "stopped", "running", None)
        .await?
        .ok_or_else(changed_meanwhile)?;
    tx.commit().await?;
    destroy_all_quietly(state, &evicted).await;
    match runtime.start(id).await {
        Ok(ready) => {
            let addr = ready.agent_addr.to_string();
            db::sandboxes::transition(&state.pool, id, "running", "running", Some(&addr))
                .await?
                .ok_or_else(changed_meanwhile)
        }
        Err(e) => {
            db::sandboxes::transition(&state.pool, id, "running", "stopped", None).await?;
            Err(e.into())
        }
    }
}

fn changed_meanwhile() -> ApiError {
    ApiError::InvalidTransition("The sandbox changed state meanwhile; retry".into())
}

/// Deletes a sandbox: the row first (so it is gone for every replica), then the runtime's copy.
pub async fn delete(state: &AppState, org_id: i64, id: &str) -> Result<(), ApiError> {
    if !ids::is_sandbox_id(id) || !db::sandboxes::mark_deleted(&state.pool, org_id, id).await? {
        return Err(ApiError::SandboxNotFound);
    }
    state.routes.changed(id, "deleted");
    destroy_quietly(state, id).await;
    Ok(())
}

/// Sets the sandbox to expire `seconds` from now.
pub async fn set_timeout(
    state: &AppState,
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
    db::sandboxes::set_timeout(&state.pool, org_id, id, seconds)
        .await?
        .ok_or(ApiError::SandboxNotFound)
}

/// Signs a new agent token with the sandbox's current key (so that every client of the sandbox keeps
/// working across rotations).
pub async fn refresh_token(
    state: &AppState,
    org_id: i64,
    id: &str,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let row = find(state, org_id, id).await?;
    let key = TokenKey::from_bytes(&row.token_key).map_err(ApiError::internal)?;
    Ok(issue_token(state, &key, id))
}

/// A token for `id` valid for `sandboxes.token_ttl_seconds`.
pub fn issue_token(state: &AppState, key: &TokenKey, id: &str) -> (String, DateTime<Utc>) {
    let ttl = i64::from(state.settings.sandboxes.token_ttl_seconds);
    let expires = DateTime::from_timestamp(Utc::now().timestamp() + ttl, 0).unwrap_or_default();
    (key.sign(id, expires.timestamp()), expires)
}
