//! A sandbox's credentials (docs/router.md "Credentials"): its token key, the previous key and the
//! deadline until which it still verifies after a rotation, and the preview epoch that preview links
//! carry. Every column here is in the route trigger: changing one notifies the routers.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// What signing and rotating need to know of one sandbox.
#[derive(Debug, Clone)]
pub struct CredentialRow {
    pub status: String,
    pub agent_addr: Option<String>,
    pub token_key: Vec<u8>,
    pub previous_token_key: Option<Vec<u8>>,
    pub previous_key_valid_until: Option<DateTime<Utc>>,
    pub preview_epoch: i64,
}

/// The credentials of a live sandbox of `org_id`.
pub async fn get(
    db: impl PgExecutor<'_>,
    org_id: i64,
    id: &str,
) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query_as!(
        CredentialRow,
        "SELECT status, agent_addr, token_key, previous_token_key, previous_key_valid_until,
                preview_epoch
         FROM sandboxes WHERE id = $1 AND organization_id = $2 AND status <> 'deleted'",
        id,
        org_id,
    )
    .fetch_optional(db)
    .await
}

/// [`get`], the row locked until the transaction ends (rotations of one sandbox run one at a time,
/// and a start waits for a rotation in progress).
pub async fn lock(
    conn: &mut PgConnection,
    org_id: i64,
    id: &str,
) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query_as!(
        CredentialRow,
        "SELECT status, agent_addr, token_key, previous_token_key, previous_key_valid_until,
                preview_epoch
         FROM sandboxes WHERE id = $1 AND organization_id = $2 AND status <> 'deleted'
         FOR UPDATE",
        id,
        org_id,
    )
    .fetch_optional(conn)
    .await
}

/// Installs a rotated key: `key` signs from now on, `previous` verifies until `until` (both `None`:
/// old tokens are refused at once).
pub async fn set_keys(
    conn: &mut PgConnection,
    id: &str,
    key: &[u8],
    previous: Option<(&[u8], DateTime<Utc>)>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sandboxes SET token_key = $2, previous_token_key = $3, previous_key_valid_until = $4
         WHERE id = $1",
        id,
        key,
        previous.map(|(k, _)| k),
        previous.map(|(_, until)| until),
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Revokes every preview link of a live sandbox of `org_id`: the new epoch, `None` without sandbox.
pub async fn bump_preview_epoch(
    db: impl PgExecutor<'_>,
    org_id: i64,
    id: &str,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    let row = sqlx::query!(
        "UPDATE sandboxes SET preview_epoch = preview_epoch + 1
         WHERE id = $1 AND organization_id = $2 AND status <> 'deleted'
         RETURNING status, preview_epoch",
        id,
        org_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.status, r.preview_epoch)))
}
