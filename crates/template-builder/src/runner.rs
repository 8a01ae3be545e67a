//! Running one attempt of a build through the runtime's [`ImageBuilder`]: the context, the build
//! with its log written in chunks to Postgres, and the template made active (or the build failed,
//! with the log's tail). Every write names the attempt: once it is stale (started again, failed
//! by the leader, the template deleted) the build stops, and an image it made is removed.

use std::time::Duration;

use futures::StreamExt as _;
use runtime::{BuildEvent, ImageBuild, RegistryLogin};
use secrecy::ExposeSecret as _;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::context::build_context;
use crate::log::BuildLog;
use crate::{Builds, Job};
use db::template_build_logs;
use db::template_builds::{self, Attempt, Finished};

/// How often the log is written out at most.
const LOG_FLUSH: Duration = Duration::from_millis(500);

/// Why a build did not produce its image.
enum Failure {
    /// The build failed, for this reason.
    Reason(String),
    /// The attempt is not current any more: nothing of it may be recorded.
    Stale,
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Self::Reason(reason)
    }
}

impl From<&str> for Failure {
    fn from(reason: &str) -> Self {
        Self::Reason(reason.to_owned())
    }
}

impl Builds {
    /// Runs a claimed attempt to its end; `stale` turns true when the worker finds it stale.
    pub(crate) async fn run(
        self,
        pool: PgPool,
        attempt: Attempt,
        job: Job,
        mut stale: watch::Receiver<bool>,
    ) {
        let id = attempt.template_id;
        let nonce = chrono::Utc::now().timestamp_millis().to_string();
        let tag = format!("warren-template-{id}:{nonce}");
        let mut log = BuildLog::new(self.limits.log_chunk_bytes, self.limits.log_max_chunks);
        let timeout = self.limits.timeout;
        let building = self.build(&pool, attempt, &job, &tag, &nonce, &mut log);
        let outcome = tokio::select! {
            r = tokio::time::timeout(timeout, building) => r.unwrap_or_else(|_| {
                Err(format!("the build took longer than {}s", timeout.as_secs()).into())
            }),
            _ = stale.wait_for(|s| *s) => Err(Failure::Stale),
        };
        let outcome = match outcome {
            Err(Failure::Stale) => Err(Failure::Stale),
            other => match self.flush(&pool, attempt, &mut log).await {
                Err(Failure::Stale) => Err(Failure::Stale),
                _ => other,
            },
        };
        let (image, error) = match outcome {
            Ok(()) => (Some(tag.as_str()), None),
            Err(Failure::Reason(reason)) => {
                tracing::info!(template.id = id, reason, "template build failed");
                let error = format!(
                    "{reason}\n--- last lines of the build log ---\n{}",
                    log.tail()
                );
                (None, Some(error))
            }
            Err(Failure::Stale) => {
                tracing::info!(
                    template.id = id,
                    "a stale template build stops; its image is removed"
                );
                self.remove_if_built(&tag).await;
                return;
            }
        };
        self.finish(&pool, attempt, image, error.as_deref()).await;
    }

    async fn finish(
        &self,
        pool: &PgPool,
        attempt: Attempt,
        image: Option<&str>,
        error: Option<&str>,
    ) {
        let finished = async {
            let mut tx = pool.begin().await?;
            let r = template_builds::finish(&mut tx, attempt, image, error).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(r)
        };
        let unused = match finished.await {
            Ok(Finished::Recorded { replaced }) => replaced,
            // Started again, failed by the leader, or deleted meanwhile: the new image is of no use.
            Ok(Finished::Stale) => image.map(str::to_owned),
            Err(e) => {
                // Its lease is no longer renewed: the leader fails the build when it expires.
                let id = attempt.template_id;
                tracing::error!(template.id = id, error = %api_error::chain(&e), "recording the end of a build");
                image.map(str::to_owned)
            }
        };
        if let Some(unused) = unused {
            self.remove_image(&unused).await;
        }
    }

    /// Fails `attempt` with `reason` (a build that could not run).
    pub(crate) async fn record_failure(&self, pool: &PgPool, attempt: Attempt, reason: &str) {
        self.finish(pool, attempt, None, Some(reason)).await;
    }

    /// Removes an image no template uses any more; one still used by a container stays.
    pub async fn remove_image(&self, image: &str) {
        let Some(images) = &self.images else { return };
        if let Err(e) = images.remove(image).await {
            tracing::info!(image, error = %api_error::chain(&e), "an unused template image stays");
        }
    }

    async fn remove_if_built(&self, tag: &str) {
        let Some(images) = &self.images else { return };
        if images.exists(tag).await.unwrap_or(true) {
            self.remove_image(tag).await;
        }
    }

    /// Writes what the log has not written yet, with the progress and a renewed lease, in one
    /// transaction conditioned on the attempt. A failed write is retried with the next one.
    async fn flush(
        &self,
        pool: &PgPool,
        attempt: Attempt,
        log: &mut BuildLog,
    ) -> Result<(), Failure> {
        let Some(write) = log.write() else {
            return Ok(());
        };
        let lease = self.lease_seconds();
        let written = async {
            let mut tx = pool.begin().await?;
            let step = write.current_step.as_deref();
            if !template_builds::progress(&mut tx, attempt, write.progress, step, lease).await? {
                return Ok(false);
            }
            if !write.pieces.is_empty() {
                template_build_logs::append(&mut tx, attempt, &write.pieces, write.keep_from_seq)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        };
        match written.await {
            Ok(true) => {
                log.written(&write);
                Ok(())
            }
            Ok(false) => Err(Failure::Stale),
            Err(e) => {
                let id = attempt.template_id;
                tracing::warn!(template.id = id, error = %api_error::chain(&e), "writing the build log");
                Ok(())
            }
        }
    }

    /// Builds the image `tag`; `Ok` once the backend holds it.
    async fn build(
        &self,
        pool: &PgPool,
        attempt: Attempt,
        job: &Job,
        tag: &str,
        nonce: &str,
        log: &mut BuildLog,
    ) -> Result<(), Failure> {
        let id = job.template_id;
        log.push(&format!(
            "Building template {} from {}\n",
            job.spec.name, job.spec.from_image
        ));
        self.flush(pool, attempt, log).await?;
        let dockerfile = job.spec.dockerfile();
        let uploads = job.uploads.clone();
        let context = tokio::task::spawn_blocking(move || build_context(&dockerfile, &uploads))
            .await
            .map_err(|e| format!("preparing the build context failed: {e}"))?
            .map_err(|e| api_error::chain(&e))?;
        let images = self
            .images
            .clone()
            .ok_or("the sandbox runtime cannot build images")?;
        let build = ImageBuild {
            tag: tag.to_owned(),
            context,
            no_cache: job.spec.no_cache,
            build_args: job.spec.cache_busters(nonce).into_iter().collect(),
            labels: vec![("warren.template-id".to_owned(), id.to_string())],
            registry_login: job.credentials.as_ref().map(|c| RegistryLogin {
                from_image: job.spec.from_image.clone(),
                username: c.username.clone(),
                password: c.password.expose_secret().to_owned(),
            }),
        };
        let mut stream = images.build(build);
        let mut last_flush = Instant::now();
        let mut failure = None;
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                () = tokio::time::sleep(LOG_FLUSH) => {
                    self.flush(pool, attempt, log).await?;
                    last_flush = Instant::now();
                    continue;
                }
            };
            match item {
                None => break,
                Some(BuildEvent::Log(text)) => log.push(&text),
                Some(BuildEvent::Failed(reason)) => {
                    log.push(&format!("{reason}\n"));
                    failure = Some(reason);
                    break;
                }
            }
            if last_flush.elapsed() >= LOG_FLUSH {
                self.flush(pool, attempt, log).await?;
                last_flush = Instant::now();
            }
        }
        if let Some(reason) = failure {
            return Err(reason.trim().to_owned().into());
        }
        match images.exists(tag).await {
            Ok(true) => {
                log.push(&format!("Built image {tag}\n"));
                Ok(())
            }
            Ok(false) => Err("the build ended without an image".into()),
            Err(e) => {
                Err(format!("the build ended without an image: {}", api_error::chain(&e)).into())
            }
        }
    }
}
