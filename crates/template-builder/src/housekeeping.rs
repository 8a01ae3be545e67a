//! The leader's housekeeping of builds and uploads, off the request path: builds whose lease
//! expired (the replica running them stopped, or lost the database) are failed, with the tail of
//! their log, and their templates go back to the image they had; uploads nobody used for
//! `templates.upload_ttl_seconds` are forgotten, rows and files.

use sqlx::PgPool;

use crate::Builds;
use crate::log::tail_of;
use db::template_builds::{self, Attempt};
use db::{template_build_logs, template_uploads};

/// Builds failed in one pass at most (the next pass takes the rest).
const BATCH: i64 = 100;

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Housekept {
    /// Builds failed because their lease expired, by template id.
    pub failed_builds: Vec<i64>,
    /// Uploads forgotten, as `(organization id, files_hash)`.
    pub expired_uploads: Vec<(i64, String)>,
}

impl Builds {
    /// Runs [`Builds::housekeep`] every `templates.housekeeping_interval_seconds`, forever (a
    /// leader task: it is aborted when this replica stops leading).
    pub async fn housekeeping_forever(self, pool: PgPool) {
        let mut tick = tokio::time::interval(self.limits.housekeeping_every);
        loop {
            tick.tick().await;
            if let Err(e) = self.housekeep(&pool).await {
                tracing::warn!(error.chain = %api_error::chain(&e), "template housekeeping");
            }
        }
    }

    /// One pass over every organization's builds and uploads.
    pub async fn housekeep(&self, pool: &PgPool) -> Result<Housekept, sqlx::Error> {
        let mut done = Housekept::default();
        for expired in template_builds::expired(pool, BATCH).await? {
            let attempt = Attempt {
                template_id: expired.template_id,
                attempt: expired.attempt,
            };
            let tail = tail_of(&template_build_logs::last_chunk(pool, attempt).await?);
            let mut message = format!(
                "the build was interrupted: replica {} running it stopped renewing its lease \
                 (it stopped, or lost the database)",
                expired.owner
            );
            if !tail.is_empty() {
                message.push_str("\n--- last lines of the build log ---\n");
                message.push_str(&tail);
            }
            let mut tx = pool.begin().await?;
            let failed = template_builds::fail_expired(&mut tx, attempt, &message).await?;
            tx.commit().await?;
            if failed {
                tracing::info!(
                    template.id = attempt.template_id,
                    owner = expired.owner,
                    "failed a template build whose lease expired"
                );
                done.failed_builds.push(attempt.template_id);
            }
        }
        let expired = template_uploads::expire(pool, self.limits.upload_ttl_seconds).await?;
        for (org, hash) in &expired {
            self.uploads.remove(*org, hash).await;
        }
        done.expired_uploads = expired;
        Ok(done)
    }
}
