//! Snapshots: `POST /v1/sandboxes/{id}/snapshots` (the count and size reserved against the
//! organization's quota in the transaction that writes the `creating` row, then the runtime takes
//! it while the sandbox's row is locked against lifecycle actions), `/v1/snapshots` list, get and
//! delete; the snapshot a fork takes; and the reconciler's pass over snapshots.

use api_error::{ApiError, chain};
use api_types::snapshots::{CreateSnapshot, Snapshot};
use db::snapshots::{NewSnapshot, SnapshotRow, Source};
use lifecycle::SandboxStatus;
use lifecycle::SandboxStatus as S;
use settings::SnapshotSettings;
use tokio::time::Instant;

use crate::Scheduler;
use crate::create::{by_deadline, create_timeout};
use crate::names;

/// Why `memory` is `false` on every snapshot.
pub const MEMORY_REASON: &str = "memory checkpoints (CRIU) are not available on this server: the \
    snapshot holds the filesystem only (docs/snapshots.md, \"Memory\")";

/// The states a sandbox's disk can be snapshotted in: running and paused ones (a running one is
/// frozen for the instant of the copy) and stopped ones (the disk stays with a stopped sandbox).
const SNAPSHOTTABLE: [S; 3] = [S::Running, S::Paused, S::Stopped];

/// Takes a snapshot of the organization's sandbox `sandbox_id`; returns it `ready`.
pub async fn create(
    state: &Scheduler,
    org_id: i64,
    sandbox_id: &str,
    req: &CreateSnapshot,
) -> Result<Snapshot, ApiError> {
    if let Some(name) = &req.name {
        names::check_snapshot_name(name)?;
    }
    let id = db::ids::new_snapshot_id();
    take(state, org_id, sandbox_id, &id, req.name.as_deref(), false).await?;
    get(state, org_id, &id).await
}

/// Reserves and takes the snapshot `id` of `sandbox_id`; what it read of the sandbox. `ready`
/// unless `hidden` (a fork's, which stays `creating`, invisible to the API, until [`discard`]).
pub(crate) async fn take(
    state: &Scheduler,
    org_id: i64,
    sandbox_id: &str,
    id: &str,
    name: Option<&str>,
    hidden: bool,
) -> Result<Source, ApiError> {
    if !db::ids::is_sandbox_id(sandbox_id) {
        return Err(ApiError::SandboxNotFound);
    }
    let runtime = state.runtime.clone().ok_or(ApiError::RuntimeUnavailable)?;
    if !runtime.snapshots_supported() {
        return Err(ApiError::SnapshotsUnsupported);
    }
    let deadline = Instant::now() + create_timeout(state);

    let mut tx = state.pool.begin().await?;
    // Serializes the organization's snapshots, so two cannot both take the last of the quota.
    db::orgs::lock_for_create(&mut tx, org_id).await?;
    let source = db::snapshots::lock_source(&mut tx, org_id, sandbox_id)
        .await?
        .ok_or(ApiError::SandboxNotFound)?;
    check_state(SandboxStatus::stored(&source.status))?;
    let (count, used_mb) = db::snapshots::usage(&mut tx, org_id).await?;
    check_quota(&state.settings.snapshots, count, used_mb, source.disk_mb)?;
    let new = NewSnapshot {
        id,
        organization_id: org_id,
        name,
        sandbox_id,
        template_id: source.template_id,
        template_name: &source.template_name,
        size_mb: source.disk_mb,
    };
    db::snapshots::insert_creating(&mut tx, &new).await?;
    tx.commit().await?;

    // In a task of its own, so a client that hangs up leaves no `creating` row behind.
    let (state, sandbox_id, id) = (state.clone(), sandbox_id.to_owned(), id.to_owned());
    let taken = tokio::spawn(async move {
        let began = Instant::now();
        let mut tx = state.pool.begin().await?;
        // Held while the runtime takes it: an action (a pause, a stop, a delete) waits, and one
        // that began since is seen.
        let source = db::snapshots::lock_source(&mut tx, org_id, &sandbox_id).await?;
        let ran = match source {
            None => Err(ApiError::SandboxNotFound),
            Some(s) => match check_state(SandboxStatus::stored(&s.status)) {
                Ok(()) => by_deadline(deadline, runtime.snapshot(&sandbox_id, &id))
                    .await
                    .map_err(ApiError::from),
                Err(e) => Err(e),
            },
        };
        tx.commit().await?;
        if let Err(e) = ran {
            tracing::warn!(snapshot.id = %id, sandbox.id = %sandbox_id, error.chain = %chain(&e), "snapshot not taken");
            discard(&state, &id).await;
            return Err(e);
        }
        tracing::info!(snapshot.id = %id, sandbox.id = %sandbox_id, took_ms = began.elapsed().as_secs_f64() * 1000.0, "snapshot taken");
        if !hidden && db::snapshots::mark_ready(&state.pool, &id).await?.is_none() {
            return Err(ApiError::SnapshotNotFound);
        }
        Ok(())
    });
    taken.await.map_err(ApiError::internal)??;
    Ok(source)
}

/// 409 unless a sandbox in `status` can be snapshotted (a deleted one of the organization too: it
/// is known, and its disk is gone).
fn check_state(status: SandboxStatus) -> Result<(), ApiError> {
    if SNAPSHOTTABLE.contains(&status) {
        return Ok(());
    }
    Err(ApiError::InvalidTransition(format!(
        "A snapshot needs a running, paused or stopped sandbox; this one is {}",
        status.as_str()
    )))
}

/// 403 unless one more snapshot of `size_mb` fits the organization's quota, which holds `count`
/// snapshots of `used_mb`.
fn check_quota(
    limits: &SnapshotSettings,
    count: i64,
    used_mb: i64,
    size_mb: i32,
) -> Result<(), ApiError> {
    let max_count = i64::from(limits.org_max_count);
    if count + 1 > max_count {
        return Err(ApiError::SnapshotQuotaExceeded {
            limit: "count",
            requested: 1,
            used: count,
            quota: max_count,
        });
    }
    let quota_mb = i64::from(limits.org_quota_mb);
    if used_mb + i64::from(size_mb) > quota_mb {
        return Err(ApiError::SnapshotQuotaExceeded {
            limit: "size_mb",
            requested: size_mb.into(),
            used: used_mb,
            quota: quota_mb,
        });
    }
    Ok(())
}

/// The organization's snapshots, oldest first, with how many there are and the MiB they hold.
pub async fn list(state: &Scheduler, org_id: i64) -> Result<(Vec<Snapshot>, i64, i64), ApiError> {
    let rows = db::snapshots::list(&state.pool, org_id).await?;
    let (count, used_mb) = db::snapshots::usage(&mut *state.pool.acquire().await?, org_id).await?;
    Ok((rows.into_iter().map(view).collect(), count, used_mb))
}

/// The organization's snapshot `id`, or 404 (also for other organizations' snapshots).
pub async fn get(state: &Scheduler, org_id: i64, id: &str) -> Result<Snapshot, ApiError> {
    if !db::ids::is_snapshot_id(id) {
        return Err(ApiError::SnapshotNotFound);
    }
    let row = db::snapshots::find(&state.pool, org_id, id)
        .await?
        .ok_or(ApiError::SnapshotNotFound)?;
    Ok(view(row))
}

/// Deletes a snapshot: the row first (waiting for creates that start from it), then the runtime's
/// copy. Sandboxes made from it keep their files (each has a copy of its own).
pub async fn delete(state: &Scheduler, org_id: i64, id: &str) -> Result<(), ApiError> {
    if !db::ids::is_snapshot_id(id) || !db::snapshots::delete_ready(&state.pool, org_id, id).await?
    {
        return Err(ApiError::SnapshotNotFound);
    }
    remove_quietly(state, id).await;
    Ok(())
}

/// Deletes the row of snapshot `id` (of this process: failed, or a fork's once its forks are made)
/// and what the runtime holds of it; failures are logged, and the reconciler removes leftovers.
pub(crate) async fn discard(state: &Scheduler, id: &str) {
    if let Err(e) = db::snapshots::delete(&state.pool, id).await {
        tracing::warn!(snapshot.id = %id, error.chain = %chain(&e), "snapshot row not deleted");
    }
    remove_quietly(state, id).await;
}

async fn remove_quietly(state: &Scheduler, id: &str) {
    if let Some(runtime) = &state.runtime
        && let Err(e) = runtime.remove_snapshot(id).await
    {
        tracing::warn!(snapshot.id = %id, error.chain = %chain(&e), "runtime snapshot remove failed");
    }
}

fn view(row: SnapshotRow) -> Snapshot {
    Snapshot {
        object: "snapshot".into(),
        id: row.id,
        name: row.name,
        sandbox_id: row.sandbox_id,
        template_name: row.template_name,
        size_mb: row.size_mb.into(),
        memory: false,
        memory_reason: Some(MEMORY_REASON.into()),
        created_at: row.created_at,
    }
}

/// The reconciler's pass over snapshots, as [`crate::volumes::reconcile`] does for volumes: rows
/// left `creating` for longer than a snapshot or fork may take are deleted with what the runtime
/// made of them, and snapshots without a row are removed. The ids removed.
pub async fn reconcile(state: &Scheduler) -> anyhow::Result<Vec<String>> {
    let Some(runtime) = &state.runtime else {
        return Ok(Vec::new());
    };
    if !runtime.snapshots_supported() {
        return Ok(Vec::new());
    }
    let listed = runtime.list_snapshots().await?;
    let stale = (create_timeout(state) + crate::reconcile::STALE_SLACK).as_secs();
    let abandoned = db::snapshots::delete_abandoned(&state.pool, stale as i64).await?;
    let owned = db::snapshots::existing(&state.pool, &listed).await?;
    let unowned = crate::orphans::unowned(abandoned, listed, owned);
    Ok(
        crate::orphans::remove("snapshot", unowned, |id| async move {
            runtime.remove_snapshot(&id).await
        })
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sandboxes_with_a_settled_disk_are_snapshotted() {
        for status in SandboxStatus::ALL {
            let allowed = check_state(status).is_ok();
            assert_eq!(allowed, SNAPSHOTTABLE.contains(&status), "{status:?}");
        }
        assert!(
            check_state(S::Stopped).is_ok(),
            "a stopped sandbox keeps its disk"
        );
        for refused in [S::Creating, S::Stopping, S::Starting, S::Error, S::Deleted] {
            assert!(
                matches!(check_state(refused), Err(ApiError::InvalidTransition(_))),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn the_quota_holds_by_count_and_by_size() {
        let limits = SnapshotSettings {
            org_max_count: 2,
            org_quota_mb: 100,
            max_fork_count: 3,
        };
        assert!(check_quota(&limits, 1, 50, 50).is_ok(), "exactly full fits");
        let refused = |count, used, size| match check_quota(&limits, count, used, size) {
            Err(ApiError::SnapshotQuotaExceeded { limit, .. }) => limit,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(2, 0, 1), "count");
        assert_eq!(refused(1, 60, 50), "size_mb");
    }
}
