//! `/v1/volumes`: create (the size reserved against the organization's quota and the host's disk
//! capacity in the transaction that writes the `creating` row, then the runtime makes it), list, get and delete (refused while a live
//! sandbox mounts it); and the reconciler's pass over volumes.

use std::collections::HashMap;

use api_error::{ApiError, chain};
use api_types::volumes::{CreateVolume, Volume};
use db::volumes::VolumeRow;
use tokio::time::Instant;

use crate::Scheduler;
use crate::capacity::Ask;
use crate::create::{by_deadline, create_timeout};
use crate::names;

/// Creates a volume; returns it `ready`.
pub async fn create(
    state: &Scheduler,
    org_id: i64,
    req: &CreateVolume,
) -> Result<Volume, ApiError> {
    names::check_volume_name(&req.name)?;
    let max = state.settings.volumes.max_size_mb;
    let size_mb = i32::try_from(req.size_mb)
        .ok()
        .filter(|s| (1..=max as i32).contains(s))
        .ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "size_mb must be between 1 and {max} (volumes.max_size_mb)"
            ))
        })?;
    let runtime = state.runtime.clone().ok_or(ApiError::RuntimeUnavailable)?;
    let deadline = Instant::now() + create_timeout(state);
    let id = db::ids::new_volume_id();

    let mut tx = state.pool.begin().await?;
    // Serializes the organization's creates, so two volumes cannot both take the last of the quota.
    db::orgs::lock_for_create(&mut tx, org_id).await?;
    let used_mb = db::volumes::used_mb(&mut tx, org_id).await?;
    let quota_mb = i64::from(state.settings.volumes.org_quota_mb);
    if used_mb + i64::from(size_mb) > quota_mb {
        return Err(ApiError::VolumeQuotaExceeded {
            requested_mb: size_mb.into(),
            used_mb,
            quota_mb,
        });
    }
    // Volumes take the sandbox disk too: admitted against `capacity.disk_mb` like sandboxes.
    let ask = Ask {
        org_id: Some(org_id),
        vcpu: 0,
        memory_mb: 0,
        disk_mb: size_mb,
    };
    state.capacity.admit(&mut tx, ask).await?;
    match db::volumes::insert_creating(&mut tx, &id, org_id, &req.name, size_mb).await {
        Err(e) if db::volumes::is_name_taken(&e) => {
            return Err(ApiError::VolumeNameTaken(req.name.clone()));
        }
        other => other?,
    };
    tx.commit().await?;

    // In a task of its own, so a client that hangs up leaves no `creating` row behind.
    let state = state.clone();
    let made = tokio::spawn(async move {
        let size = size_mb.unsigned_abs();
        if let Err(e) = by_deadline(deadline, runtime.create_volume(&id, size)).await {
            tracing::warn!(volume.id = %id, error.chain = %chain(&e), "runtime volume create failed");
            db::volumes::delete(&state.pool, &id).await?;
            if let Err(e) = runtime.remove_volume(&id).await {
                tracing::warn!(volume.id = %id, error.chain = %chain(&e), "volume cleanup failed");
            }
            return Err(e.into());
        }
        match db::volumes::mark_ready(&state.pool, &id).await? {
            Some(row) => Ok(view(row, Vec::new())),
            None => {
                // Deleted while it was being made: undo.
                runtime.remove_volume(&id).await?;
                Err(ApiError::VolumeNotFound)
            }
        }
    });
    made.await.map_err(ApiError::internal)?
}

/// The organization's volumes, oldest first, and the MiB they hold.
pub async fn list(state: &Scheduler, org_id: i64) -> Result<(Vec<Volume>, i64), ApiError> {
    let rows = db::volumes::list(&state.pool, org_id).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut users: HashMap<String, Vec<String>> = HashMap::new();
    for (volume, sandbox) in db::volumes::mounted_by(&state.pool, &ids).await? {
        users.entry(volume).or_default().push(sandbox);
    }
    let used = rows.iter().map(|r| i64::from(r.size_mb)).sum();
    let volumes = rows
        .into_iter()
        .map(|r| {
            let mounted = users.remove(&r.id).unwrap_or_default();
            view(r, mounted)
        })
        .collect();
    Ok((volumes, used))
}

/// The organization's volume by name or id, or 404 (also for other organizations' volumes).
pub async fn get(state: &Scheduler, org_id: i64, name_or_id: &str) -> Result<Volume, ApiError> {
    if !names::could_be_volume(name_or_id) {
        return Err(ApiError::VolumeNotFound);
    }
    let row = db::volumes::find(&state.pool, org_id, name_or_id)
        .await?
        .ok_or(ApiError::VolumeNotFound)?;
    let users = mounted_by(state, &row.id).await?;
    Ok(view(row, users))
}

/// Deletes a volume nothing live mounts: the row first (the delete waits for creates that are
/// mounting it), then the runtime's directory. Its id.
pub async fn delete(state: &Scheduler, org_id: i64, name_or_id: &str) -> Result<String, ApiError> {
    if !names::could_be_volume(name_or_id) {
        return Err(ApiError::VolumeNotFound);
    }
    let mut tx = state.pool.begin().await?;
    let row = db::volumes::find_for_delete(&mut tx, org_id, name_or_id)
        .await?
        .ok_or(ApiError::VolumeNotFound)?;
    let users = db::volumes::mounted_by(&mut *tx, std::slice::from_ref(&row.id)).await?;
    if !users.is_empty() {
        return Err(ApiError::VolumeInUse(
            users.into_iter().map(|(_, sandbox)| sandbox).collect(),
        ));
    }
    db::volumes::delete(&mut *tx, &row.id).await?;
    tx.commit().await?;
    // A failure leaves an orphan directory, which the reconciler removes.
    if let Some(runtime) = &state.runtime
        && let Err(e) = runtime.remove_volume(&row.id).await
    {
        tracing::warn!(volume.id = %row.id, error.chain = %chain(&e), "runtime volume remove failed");
    }
    Ok(row.id)
}

async fn mounted_by(state: &Scheduler, volume_id: &str) -> Result<Vec<String>, ApiError> {
    let ids = [volume_id.to_owned()];
    let users = db::volumes::mounted_by(&state.pool, &ids).await?;
    Ok(users.into_iter().map(|(_, sandbox)| sandbox).collect())
}

fn view(row: VolumeRow, mounted_by: Vec<String>) -> Volume {
    Volume {
        object: "volume".into(),
        id: row.id,
        name: row.name,
        size_mb: row.size_mb.into(),
        status: row.status,
        mounted_by,
        created_at: row.created_at,
    }
}

/// The reconciler's pass over volumes: rows a crashed create left `creating` for longer than a
/// create may take are deleted with what the runtime made of them, and directories without a row
/// (a create or delete that died between the database and the runtime) are removed. The runtime is
/// listed before the rows are read; a row is always written before its directory, so a directory
/// listed without a row is never a create in flight. The ids removed.
pub async fn reconcile(state: &Scheduler) -> anyhow::Result<Vec<String>> {
    let Some(runtime) = &state.runtime else {
        return Ok(Vec::new());
    };
    let listed = runtime.list_volumes().await?;
    let stale = (create_timeout(state) + crate::reconcile::STALE_SLACK).as_secs();
    let abandoned = db::volumes::delete_abandoned(&state.pool, stale as i64).await?;
    let owned = db::volumes::existing(&state.pool, &listed).await?;
    let unowned = crate::orphans::unowned(abandoned, listed, owned);
    Ok(crate::orphans::remove("volume", unowned, |id| async move {
        runtime.remove_volume(&id).await
    })
    .await)
}
