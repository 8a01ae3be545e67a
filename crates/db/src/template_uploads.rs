//! `template_uploads`: COPY sources uploaded through Warren's own upload URL, keyed by the client's
//! `files_hash` per organization. The bytes live in `templates.upload_dir`.

use sqlx::PgExecutor;

#[derive(Debug, Clone)]
pub struct UploadRow {
    pub organization_id: i64,
    pub files_hash: String,
    pub content_length: i64,
    pub upload_token: String,
    pub uploaded: bool,
}

/// The upload of `files_hash`, announced now with `content_length` (a fresh token unless it is
/// already uploaded and used within `ttl_seconds`; then it is only marked used). An upload past its
/// time that housekeeping has not removed yet counts as gone: it must be sent again.
pub async fn announce(
    db: impl PgExecutor<'_>,
    org_id: i64,
    files_hash: &str,
    content_length: i64,
    token: &str,
    ttl_seconds: f64,
) -> Result<UploadRow, sqlx::Error> {
    sqlx::query_as!(
        UploadRow,
        // Every expression reads the row as it was before this update.
        "INSERT INTO template_uploads (organization_id, files_hash, content_length, upload_token)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (organization_id, files_hash) DO UPDATE
            SET last_used_at = now(),
                uploaded = template_uploads.uploaded
                           AND template_uploads.last_used_at > now() - make_interval(secs => $5),
                content_length = CASE WHEN template_uploads.uploaded
                                      AND template_uploads.last_used_at > now() - make_interval(secs => $5)
                                      THEN template_uploads.content_length ELSE $3 END,
                upload_token = CASE WHEN template_uploads.uploaded
                                    AND template_uploads.last_used_at > now() - make_interval(secs => $5)
                                    THEN template_uploads.upload_token ELSE $4 END,
                created_at = CASE WHEN template_uploads.uploaded
                                  AND template_uploads.last_used_at > now() - make_interval(secs => $5)
                                  THEN template_uploads.created_at ELSE now() END
         RETURNING organization_id, files_hash, content_length, upload_token, uploaded",
        org_id,
        files_hash,
        content_length,
        token,
        ttl_seconds,
    )
    .fetch_one(db)
    .await
}

/// The pending upload an upload URL names, while its URL is valid.
pub async fn by_token(
    db: impl PgExecutor<'_>,
    token: &str,
    ttl_seconds: f64,
) -> Result<Option<UploadRow>, sqlx::Error> {
    sqlx::query_as!(
        UploadRow,
        "SELECT organization_id, files_hash, content_length, upload_token, uploaded
         FROM template_uploads
         WHERE upload_token = $1 AND NOT uploaded AND created_at > now() - make_interval(secs => $2)",
        token,
        ttl_seconds,
    )
    .fetch_optional(db)
    .await
}

pub async fn mark_uploaded(db: impl PgExecutor<'_>, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE template_uploads SET uploaded = true, last_used_at = now() WHERE upload_token = $1",
        token,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Which of `hashes` `org_id` has uploaded (and marks them used).
pub async fn use_uploaded(
    db: impl PgExecutor<'_>,
    org_id: i64,
    hashes: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE template_uploads SET last_used_at = now()
         WHERE organization_id = $1 AND files_hash = ANY($2) AND uploaded
         RETURNING files_hash",
        org_id,
        hashes,
    )
    .fetch_all(db)
    .await
}

/// Forgets uploads nobody used for `ttl_seconds`; the (organization, hash) pairs whose files to
/// remove.
pub async fn expire(
    db: impl PgExecutor<'_>,
    ttl_seconds: f64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "DELETE FROM template_uploads WHERE last_used_at < now() - make_interval(secs => $1)
         RETURNING organization_id, files_hash",
        ttl_seconds,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.organization_id, r.files_hash))
        .collect())
}
