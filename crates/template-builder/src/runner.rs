//! Running one build through the runtime's [`ImageBuilder`]: the context, the build with its log
//! streamed into the build record, and the template made active (or the build failed, with the
//! log's tail).

use std::time::Duration;

use futures::StreamExt as _;
use runtime::{BuildEvent, ImageBuild, RegistryLogin};
use secrecy::ExposeSecret as _;
use sqlx::PgPool;
use tokio::time::Instant;

use crate::context::build_context;
use crate::{Builds, Job};
use db::template_builds;

/// How often a queued or running build says it is alive, and the log is written out at most.
const HEARTBEAT: Duration = Duration::from_secs(10);
const LOG_FLUSH: Duration = Duration::from_millis(500);
/// Lines of the log quoted in `error_message`.
const TAIL_LINES: usize = 20;

/// The log as it is built, and what is not yet written to the build record.
#[derive(Default)]
struct Log {
    all: String,
    pending: String,
    progress: i32,
    current_step: Option<String>,
}

impl Log {
    fn push(&mut self, text: &str) {
        for line in text.lines() {
            // The classic builder's "Step 2/5 : RUN ..." lines.
            if let Some(rest) = line.strip_prefix("Step ")
                && let Some((counts, step)) = rest.split_once(" : ")
                && let Some((n, m)) = counts.split_once('/')
                && let (Ok(n), Ok(m)) = (n.parse::<i32>(), m.parse::<i32>())
                && m > 0
            {
                self.progress = ((n - 1) * 100 / m).clamp(0, 99);
                self.current_step = Some(step.chars().take(200).collect());
            }
        }
        self.all.push_str(text);
        self.pending.push_str(text);
    }

    fn tail(&self) -> String {
        let lines: Vec<&str> = self.all.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }

    async fn flush(&mut self, pool: &PgPool, id: i64) {
        let step = self.current_step.take();
        let r = template_builds::append(pool, id, &self.pending, self.progress, step.as_deref());
        match r.await {
            Ok(()) => self.pending.clear(),
            Err(e) => tracing::warn!(template.id = id, error = %e, "writing the build log"),
        }
    }
}

impl Builds {
    pub(super) async fn run(self, pool: PgPool, job: Job) {
        let id = job.template_id;
        let beat = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(HEARTBEAT);
                loop {
                    tick.tick().await;
                    if let Err(e) = template_builds::heartbeat(&pool, id).await {
                        tracing::warn!(template.id = id, error = %e, "build heartbeat");
                    }
                }
            })
        };
        let mut log = Log::default();
        let outcome = match self.running.clone().acquire_owned().await {
            Ok(_slot) => {
                match tokio::time::timeout(self.timeout, self.build(&pool, &job, &mut log)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!(
                        "the build took longer than {}s",
                        self.timeout.as_secs()
                    )),
                }
            }
            Err(_) => Err("the build queue is closed".into()),
        };
        log.flush(&pool, id).await;
        beat.abort();
        let (image, error) = match &outcome {
            Ok(tag) => (Some(tag.as_str()), None),
            Err(reason) => {
                tracing::info!(template.id = id, reason, "template build failed");
                (
                    None,
                    Some(format!(
                        "{reason}\n--- last lines of the build log ---\n{}",
                        log.tail()
                    )),
                )
            }
        };
        self.finish(&pool, id, image, error.as_deref()).await;
    }

    async fn finish(&self, pool: &PgPool, id: i64, image: Option<&str>, error: Option<&str>) {
        let finished = async {
            let mut tx = pool.begin().await?;
            let r = template_builds::finish(&mut tx, id, image, error).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(r)
        };
        let unused = match finished.await {
            // The template was deleted while it was built: its new image is of no use.
            Ok((false, _)) => image.map(str::to_owned),
            Ok((true, replaced)) => replaced,
            Err(e) => {
                // The heartbeat has stopped: the build is failed within a minute regardless.
                tracing::error!(template.id = id, error = %e, "recording the end of a build");
                image.map(str::to_owned)
            }
        };
        if let Some(unused) = unused {
            self.remove_image(&unused).await;
        }
    }

    /// Removes an image no template uses any more; one still used by a container stays.
    pub async fn remove_image(&self, image: &str) {
        let Some(images) = &self.images else { return };
        if let Err(e) = images.remove(image).await {
            tracing::info!(image, error = %api_error::chain(&e), "an unused template image stays");
        }
    }

    /// Builds the image; its tag, or why it failed.
    async fn build(&self, pool: &PgPool, job: &Job, log: &mut Log) -> Result<String, String> {
        let id = job.template_id;
        let nonce = chrono::Utc::now().timestamp_millis().to_string();
        let tag = format!("warren-template-{id}:{nonce}");
        log.push(&format!(
            "Building template {} from {}\n",
            job.spec.name, job.spec.from_image
        ));
        log.flush(pool, id).await;
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
            tag: tag.clone(),
            context,
            no_cache: job.spec.no_cache,
            build_args: job.spec.cache_busters(&nonce).into_iter().collect(),
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
                    log.flush(pool, id).await;
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
                log.flush(pool, id).await;
                last_flush = Instant::now();
            }
        }
        if let Some(reason) = failure {
            return Err(reason.trim().to_owned());
        }
        match images.exists(&tag).await {
            Ok(true) => {
                log.push(&format!("Built image {tag}\n"));
                Ok(tag)
            }
            Ok(false) => Err("the build ended without an image".to_owned()),
            Err(e) => Err(format!(
                "the build ended without an image: {}",
                api_error::chain(&e)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_give_progress_and_the_tail_is_the_last_lines() {
        let mut log = Log::default();
        log.push("Step 1/4 : FROM x\n ---> abc\nStep 3/4 : RUN make\n");
        assert_eq!(log.progress, 50);
        assert_eq!(log.current_step.as_deref(), Some("RUN make"));
        for i in 0..30 {
            log.push(&format!("line {i}\n"));
        }
        let tail = log.tail();
        assert!(
            tail.starts_with("line 10\n") && tail.ends_with("line 29"),
            "{tail}"
        );
    }
}
