//! `template_builds`: one build record per custom template (its id is the template's id), the
//! queue of builds (rows `pending` or `building`, each owned by the replica that accepted it and
//! leased by it), and the template rows a build creates and finishes. The log is in
//! [`crate::template_build_logs`].
//!
//! Every write of a running build names its [`Attempt`]: once a build was started again, or
//! failed by the leader because its lease expired, the old attempt's writes change nothing.

use chrono::{DateTime, Utc};
use lifecycle::SandboxStatus;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use template_spec::BuildSpec;

/// Advisory-lock key that serializes build admissions (transaction-scoped).
const QUEUE_LOCK: i64 = 0x5741_5252_454e_0003;

/// One start of one template's build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attempt {
    pub template_id: i64,
    pub attempt: Uuid,
}

#[derive(Debug, Clone)]
pub struct BuildRow {
    pub template_id: i64,
    pub attempt: Uuid,
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

/// The unfinished builds (`pending` or `building`) of the replica `owner`, and those of every
/// replica beyond its `max_concurrent` (the builds waiting for a slot), counted under a lock held
/// until the caller's transaction ends, so two admissions never both take the last place.
pub async fn queue(
    db: &mut PgConnection,
    owner: &str,
    max_concurrent: i64,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", QUEUE_LOCK)
        .execute(&mut *db)
        .await?;
    let r = sqlx::query!(
        r#"SELECT COALESCE(sum(n) FILTER (WHERE owner = $1), 0)::bigint AS "mine!",
                  COALESCE(sum(greatest(n - $2, 0)), 0)::bigint AS "waiting!"
           FROM (SELECT owner, count(*) AS n FROM template_builds
                 WHERE status IN ('pending', 'building') GROUP BY owner) per_owner"#,
        owner,
        max_concurrent,
    )
    .fetch_one(db)
    .await?;
    Ok((r.mine, r.waiting))
}

/// A fresh attempt of `template_id`'s build, `pending` on the replica `owner` with a lease of
/// `lease_seconds`, replacing any earlier record and its log.
pub async fn start(
    db: &mut PgConnection,
    template_id: i64,
    owner: &str,
    lease_seconds: f64,
) -> Result<BuildRow, sqlx::Error> {
    let row = sqlx::query_as!(
        BuildRow,
        "INSERT INTO template_builds (template_id, status, attempt, owner, lease_expires_at)
         VALUES ($1, 'pending', gen_random_uuid(), $2, now() + make_interval(secs => $3))
         ON CONFLICT (template_id) DO UPDATE
            SET status = 'pending', progress = 0, current_step = NULL, error_message = NULL,
                started_at = now(), completed_at = NULL, attempt = EXCLUDED.attempt,
                owner = EXCLUDED.owner, lease_expires_at = EXCLUDED.lease_expires_at
         RETURNING template_id, attempt, status, progress, current_step, error_message, started_at,
                   completed_at",
        template_id,
        owner,
        lease_seconds,
    )
    .fetch_one(&mut *db)
    .await?;
    sqlx::query!(
        "DELETE FROM template_build_logs WHERE template_id = $1",
        template_id
    )
    .execute(db)
    .await?;
    Ok(row)
}

/// Takes up to `limit` of `owner`'s pending builds, oldest first, and marks them `building`.
pub async fn claim(
    db: impl PgExecutor<'_>,
    owner: &str,
    limit: i64,
    lease_seconds: f64,
) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as!(
        Attempt,
        "UPDATE template_builds b
         SET status = 'building', lease_expires_at = now() + make_interval(secs => $3)
         FROM (SELECT template_id FROM template_builds
               WHERE owner = $1 AND status = 'pending'
               ORDER BY started_at, template_id
               LIMIT $2
               FOR UPDATE SKIP LOCKED) next
         WHERE b.template_id = next.template_id
         RETURNING b.template_id, b.attempt",
        owner,
        limit,
        lease_seconds,
    )
    .fetch_all(db)
    .await
}

/// Renews the leases of `attempts` (pending or building); the ones still current. An attempt
/// missing from the answer was started again, failed or deleted: its work is of no use.
pub async fn renew(
    db: impl PgExecutor<'_>,
    attempts: &[Attempt],
    lease_seconds: f64,
) -> Result<Vec<Attempt>, sqlx::Error> {
    let ids: Vec<i64> = attempts.iter().map(|a| a.template_id).collect();
    let uuids: Vec<Uuid> = attempts.iter().map(|a| a.attempt).collect();
    sqlx::query_as!(
        Attempt,
        "UPDATE template_builds b SET lease_expires_at = now() + make_interval(secs => $3)
         FROM unnest($1::bigint[], $2::uuid[]) AS a(template_id, attempt)
         WHERE b.template_id = a.template_id AND b.attempt = a.attempt
           AND b.status IN ('pending', 'building')
         RETURNING b.template_id, b.attempt",
        &ids,
        &uuids,
        lease_seconds,
    )
    .fetch_all(db)
    .await
}

/// Records progress of a running attempt and renews its lease; whether the attempt is still
/// current. Run in the transaction that appends its log: the row lock it takes orders the append
/// after (or before) a concurrent start of another attempt.
pub async fn progress(
    db: &mut PgConnection,
    build: Attempt,
    progress: i32,
    current_step: Option<&str>,
    lease_seconds: f64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE template_builds
         SET progress = GREATEST(progress, $3), current_step = COALESCE($4, current_step),
             lease_expires_at = now() + make_interval(secs => $5)
         WHERE template_id = $1 AND attempt = $2 AND status = 'building'",
        build.template_id,
        build.attempt,
        progress,
        current_step,
        lease_seconds,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// How recording the end of an attempt went.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    /// Recorded; the template's earlier image when the new one replaced it.
    Recorded { replaced: Option<String> },
    /// The attempt is not the template's current one any more (started again, failed by the
    /// leader, or the template deleted): nothing changed, and its image is of no use.
    Stale,
}

/// Ends a running attempt: `image` set makes the template active with it; `None` fails the build,
/// and the template keeps serving an earlier image if it has one.
pub async fn finish(
    db: &mut PgConnection,
    build: Attempt,
    image: Option<&str>,
    error_message: Option<&str>,
) -> Result<Finished, sqlx::Error> {
    let current = sqlx::query!(
        "UPDATE template_builds
         SET status = CASE WHEN $3::text IS NULL THEN 'failed' ELSE 'active' END,
             progress = CASE WHEN $3::text IS NULL THEN progress ELSE 100 END,
             error_message = $4, completed_at = now()
         WHERE template_id = $1 AND attempt = $2 AND status IN ('pending', 'building')",
        build.template_id,
        build.attempt,
        image,
        error_message,
    )
    .execute(&mut *db)
    .await?;
    if current.rows_affected() == 0 {
        return Ok(Finished::Stale);
    }
    let old = set_template_image(db, build.template_id, image).await?;
    Ok(match old {
        Some(old) => Finished::Recorded {
            replaced: Some(old).filter(|old| !old.is_empty() && image.is_some_and(|i| i != old)),
        },
        None => Finished::Stale,
    })
}

/// Makes the template active with `image` (or with its earlier image; `failed` without one); the
/// image it had, `None` when the template is gone.
async fn set_template_image(
    db: &mut PgConnection,
    template_id: i64,
    image: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
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
    .await
}

/// A build whose lease expired: the replica `owner` stopped renewing it.
#[derive(Debug, Clone)]
pub struct Expired {
    pub template_id: i64,
    pub attempt: Uuid,
    pub owner: String,
}

/// Up to `limit` unfinished builds, of any organization, whose lease expired.
pub async fn expired(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<Expired>, sqlx::Error> {
    sqlx::query_as!(
        Expired,
        "SELECT template_id, attempt, owner FROM template_builds
         WHERE status IN ('pending', 'building') AND lease_expires_at < now()
         ORDER BY lease_expires_at
         LIMIT $1",
        limit,
    )
    .fetch_all(db)
    .await
}

/// Fails `build` with `error_message` if its lease is still expired (its owner did not come back
/// meanwhile); the template goes back to its earlier image (`active`), or `failed` without one.
/// Whether it was failed.
pub async fn fail_expired(
    db: &mut PgConnection,
    build: Attempt,
    error_message: &str,
) -> Result<bool, sqlx::Error> {
    let failed = sqlx::query!(
        "UPDATE template_builds
         SET status = 'failed', completed_at = now(), error_message = $3
         WHERE template_id = $1 AND attempt = $2 AND status IN ('pending', 'building')
           AND lease_expires_at < now()",
        build.template_id,
        build.attempt,
        error_message,
    )
    .execute(&mut *db)
    .await?;
    if failed.rows_affected() == 0 {
        return Ok(false);
    }
    set_template_image(db, build.template_id, None).await?;
    Ok(true)
}

/// The build of one of `org_id`'s templates.
pub async fn find(
    db: impl PgExecutor<'_>,
    org_id: i64,
    template_id: i64,
) -> Result<Option<BuildRow>, sqlx::Error> {
    sqlx::query_as!(
        BuildRow,
        "SELECT b.template_id, b.attempt, b.status, b.progress, b.current_step, b.error_message,
                b.started_at, b.completed_at
         FROM template_builds b JOIN templates t ON t.id = b.template_id
         WHERE b.template_id = $1 AND t.organization_id = $2",
        template_id,
        org_id,
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
