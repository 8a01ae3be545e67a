//! `template_builds`: one build record per custom template (its id is the template's id), with the
//! whole log, and the template rows a build creates and finishes.

use chrono::{DateTime, Utc};
use lifecycle::SandboxStatus;
use sqlx::{PgConnection, PgExecutor};

use template_spec::BuildSpec;

/// Seconds without a heartbeat after which a build counts as abandoned (its server stopped).
pub const ABANDONED_AFTER_SECONDS: f64 = 60.0;

#[derive(Debug, Clone)]
pub struct BuildRow {
    pub template_id: i64,
    pub status: String,
    pub progress: i32,
    pub current_step: Option<String>,
    pub error_message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A template of the same name `org_id` could collide with: its own, or a public (built-in) one.
#[derive(Debug)]
pub struct SameName {
    pub id: i64,
    pub organization_id: Option<i64>,
    pub status: String,
    pub building: bool,
}

pub async fn same_name(
    db: &mut PgConnection,
    org_id: i64,
    name: &str,
) -> Result<Option<SameName>, sqlx::Error> {
    sqlx::query_as!(
        SameName,
        r#"SELECT t.id, t.organization_id, t.status,
                  COALESCE(b.status IN ('pending', 'building'), false) AS "building!"
           FROM templates t LEFT JOIN template_builds b ON b.template_id = t.id
           WHERE t.name = $2 AND (t.organization_id = $1 OR t.organization_id IS NULL OR t.is_public)
           ORDER BY t.organization_id NULLS FIRST
           LIMIT 1
           FOR UPDATE OF t"#,
        org_id,
        name,
    )
    .fetch_optional(db)
    .await
}

/// A new template of `org_id`, without an image until its first build succeeds.
pub async fn insert_template(
    db: &mut PgConnection,
    org_id: i64,
    spec: &BuildSpec,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO templates (name, display_name, description, category, image, status, vcpu,
                                memory_mb, disk_gb, is_public, organization_id, isolation)
         VALUES ($1, $1, 'Custom template', 'custom', '', 'building', $2, $3, $4, false, $5, $6)
         RETURNING id",
        spec.name,
        spec.vcpu,
        spec.memory_mb,
        spec.disk_gb,
        org_id,
        spec.isolation.as_str(),
    )
    .fetch_one(db)
    .await
}

/// Marks an existing template as rebuilding with `spec`'s resources.
pub async fn rebuild_template(
    db: &mut PgConnection,
    id: i64,
    spec: &BuildSpec,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE templates SET status = 'building', vcpu = $2, memory_mb = $3, disk_gb = $4,
                              isolation = $5, updated_at = now()
         WHERE id = $1",
        id,
        spec.vcpu,
        spec.memory_mb,
        spec.disk_gb,
        spec.isolation.as_str(),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A fresh build record for `template_id`, replacing any earlier one.
pub async fn start(db: &mut PgConnection, template_id: i64) -> Result<BuildRow, sqlx::Error> {
    sqlx::query_as!(
        BuildRow,
        "INSERT INTO template_builds (template_id, status) VALUES ($1, 'pending')
         ON CONFLICT (template_id) DO UPDATE
            SET status = 'pending', progress = 0, current_step = NULL, logs = '',
                error_message = NULL, started_at = now(), completed_at = NULL, heartbeat_at = now()
         RETURNING template_id, status, progress, current_step, error_message, started_at,
                   completed_at",
        template_id,
    )
    .fetch_one(db)
    .await
}

/// Appends to the log and records progress; also the heartbeat of a running build.
pub async fn append(
    db: impl PgExecutor<'_>,
    template_id: i64,
    logs: &str,
    progress: i32,
    current_step: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE template_builds
         SET logs = logs || $2, progress = GREATEST(progress, $3),
             current_step = COALESCE($4, current_step), status = 'building', heartbeat_at = now()
         WHERE template_id = $1 AND status IN ('pending', 'building')",
        template_id,
        logs,
        progress,
        current_step,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Keeps a queued build from counting as abandoned.
pub async fn heartbeat(db: impl PgExecutor<'_>, template_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE template_builds SET heartbeat_at = now()
         WHERE template_id = $1 AND status IN ('pending', 'building')",
        template_id,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Ends a build: `image` set makes the template active with it; `None` fails the build, and the
/// template keeps serving an earlier image if it has one. The earlier image when replaced, and
/// whether the template still exists.
pub async fn finish(
    db: &mut PgConnection,
    template_id: i64,
    image: Option<&str>,
    error_message: Option<&str>,
) -> Result<(bool, Option<String>), sqlx::Error> {
    sqlx::query!(
        "UPDATE template_builds
         SET status = CASE WHEN $2::text IS NULL THEN 'failed' ELSE 'active' END,
             progress = CASE WHEN $2::text IS NULL THEN progress ELSE 100 END,
             error_message = $3, completed_at = now()
         WHERE template_id = $1",
        template_id,
        image,
        error_message,
    )
    .execute(&mut *db)
    .await?;
    let row = sqlx::query!(
        r#"UPDATE templates t
           SET image = COALESCE($2, t.image),
               status = CASE WHEN COALESCE($2, t.image) = '' THEN 'failed' ELSE 'active' END,
               updated_at = now()
           FROM (SELECT id, image FROM templates WHERE id = $1 FOR UPDATE) old
           WHERE t.id = old.id
           RETURNING old.image AS "old_image!""#,
        template_id,
        image,
    )
    .fetch_optional(db)
    .await?;
    Ok(match row {
        Some(r) => (
            true,
            Some(r.old_image).filter(|old| !old.is_empty() && image.is_some_and(|i| i != old)),
        ),
        None => (false, None),
    })
}

/// Fails builds whose server stopped working on them (no heartbeat for a minute), so no build stays
/// `building` forever.
pub async fn fail_abandoned(db: impl PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "WITH dead AS (
             UPDATE template_builds
             SET status = 'failed', completed_at = now(),
                 error_message = 'the build was interrupted: the server running it stopped'
             WHERE status IN ('pending', 'building')
               AND heartbeat_at < now() - make_interval(secs => $1)
             RETURNING template_id)
         UPDATE templates SET status = CASE WHEN image = '' THEN 'failed' ELSE 'active' END,
                              updated_at = now()
         WHERE id IN (SELECT template_id FROM dead)",
        ABANDONED_AFTER_SECONDS,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The build of one of `org_id`'s templates.
pub async fn find(
    db: impl PgExecutor<'_>,
    org_id: i64,
    template_id: i64,
) -> Result<Option<BuildRow>, sqlx::Error> {
    sqlx::query_as!(
        BuildRow,
        "SELECT b.template_id, b.status, b.progress, b.current_step, b.error_message, b.started_at,
                b.completed_at
         FROM template_builds b JOIN templates t ON t.id = b.template_id
         WHERE b.template_id = $1 AND t.organization_id = $2",
        template_id,
        org_id,
    )
    .fetch_optional(db)
    .await
}

/// The log from character `offset` on, the log's length, and the build's status.
pub struct LogSlice {
    pub logs: String,
    pub length: i64,
    pub status: String,
}

pub async fn logs_from(
    db: impl PgExecutor<'_>,
    org_id: i64,
    template_id: i64,
    offset: i64,
) -> Result<Option<LogSlice>, sqlx::Error> {
    sqlx::query_as!(
        LogSlice,
        r#"SELECT substr(b.logs, $3::int + 1) AS "logs!", char_length(b.logs)::bigint AS "length!",
                  b.status
           FROM template_builds b JOIN templates t ON t.id = b.template_id
           WHERE b.template_id = $1 AND t.organization_id = $2"#,
        template_id,
        org_id,
        i32::try_from(offset).unwrap_or(i32::MAX),
    )
    .fetch_optional(db)
    .await
}

/// Sandboxes of a template that hold CPU and memory ([`SandboxStatus::is_active`]).
pub async fn live_sandboxes(db: impl PgExecutor<'_>, template_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM sandboxes
           WHERE template_id = $1 AND status = ANY($2)"#,
        template_id,
        &SandboxStatus::names_where(SandboxStatus::is_active),
    )
    .fetch_one(db)
    .await
}
