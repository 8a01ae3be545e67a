//! What a create starts from: the template the request names, or (with `snapshot_id`) the
//! snapshot's template, which a named template must be; and the snapshot held `FOR SHARE` in the
//! create's transaction, so that a delete of it waits for the create's row.

use api_error::ApiError;
use db::templates::{TemplateRef, TemplateRow};
use sqlx::PgConnection;

use crate::Scheduler;
use crate::create_request::{Wanted, truncate};

/// The template of the create: visible to the organization, active (or its own, being rebuilt)
/// and with an image.
pub async fn template(
    state: &Scheduler,
    org_id: i64,
    wanted: &Wanted<'_>,
) -> Result<TemplateRow, ApiError> {
    let from_snapshot = match wanted.snapshot {
        Some(id) => Some(snapshot_template(state, org_id, id, wanted.forking).await?),
        None => None,
    };
    let (by, text) = match (wanted.template, from_snapshot) {
        (Some(named), _) => named,
        (None, Some(id)) => (TemplateRef::Id(id), "the snapshot's template"),
        (None, None) => return Err(ApiError::InvalidRequest("no template named".into())),
    };
    let template = db::templates::find_visible(&state.pool, org_id, by)
        .await?
        .filter(|t| t.status == "active" || t.organization_id.is_some())
        .ok_or_else(|| ApiError::TemplateNotFound(truncate(text)))?;
    if from_snapshot.is_some_and(|id| id != template.id) {
        return Err(ApiError::InvalidRequest(format!(
            "the snapshot was taken of a sandbox of another template than {}; leave \
             template_name and template_id out",
            truncate(text)
        )));
    }
    // A custom template serves its last good image while it is rebuilt; before its first build
    // succeeds it has none.
    if template.image.is_empty() {
        return Err(ApiError::TemplateNotReady(template.name));
    }
    Ok(template)
}

/// The id of the template of the organization's snapshot `id` (a `ready` one, or the fork's own
/// while `forking`); 404 for any other.
async fn snapshot_template(
    state: &Scheduler,
    org_id: i64,
    id: &str,
    forking: bool,
) -> Result<i64, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let row = find(&mut conn, org_id, id, forking).await?;
    row.template_id
        .ok_or_else(|| ApiError::TemplateNotFound(truncate(&row.template_name)))
}

/// Locks the snapshot the create starts from against a delete until `conn`'s transaction ends.
pub async fn lock(
    conn: &mut PgConnection,
    org_id: i64,
    wanted: &Wanted<'_>,
) -> Result<(), ApiError> {
    match wanted.snapshot {
        Some(id) => find(conn, org_id, id, wanted.forking).await.map(drop),
        None => Ok(()),
    }
}

async fn find(
    conn: &mut PgConnection,
    org_id: i64,
    id: &str,
    forking: bool,
) -> Result<db::snapshots::SnapshotRow, ApiError> {
    db::snapshots::find_for_create(conn, org_id, id)
        .await?
        .filter(|s| forking || s.status == "ready")
        .ok_or(ApiError::SnapshotNotFound)
}
