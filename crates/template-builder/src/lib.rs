//! Custom templates: the build queue. A build runs on the replica that accepted it, bounded by
//! `templates.max_concurrent_builds` running and `templates.max_queued_builds` waiting; see
//! `docs/templates.md`.

pub mod context;
pub mod images;
mod runner;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use runtime::ImageBuilder;
use sqlx::PgPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use api_error::ApiError;
use context::UploadStore;
use settings::Settings;
use template_spec::{BuildSpec, RegistryCredentials};

/// One accepted build.
pub struct Job {
    pub template_id: i64,
    pub spec: BuildSpec,
    pub credentials: Option<RegistryCredentials>,
    /// `(files_hash, path)` of each upload the COPY steps read.
    pub uploads: Vec<(String, PathBuf)>,
}

/// The builds of this replica. Cheap to clone.
#[derive(Clone)]
pub struct Builds {
    pub uploads: UploadStore,
    /// The runtime's image builder; `None` when it has none (builds fail, saying so).
    images: Option<Arc<dyn ImageBuilder>>,
    timeout: Duration,
    /// Permits for builds running or waiting.
    admitted: Arc<Semaphore>,
    /// Permits for builds running.
    running: Arc<Semaphore>,
}

/// A place in the queue, held from acceptance to the end of the build.
pub struct Admission(OwnedSemaphorePermit);

impl Builds {
    pub fn new(settings: &Settings, images: Option<Arc<dyn ImageBuilder>>) -> Self {
        let t = &settings.templates;
        Self {
            uploads: UploadStore::new(t.upload_dir.clone()),
            images,
            timeout: Duration::from_secs(t.build_timeout_seconds.into()),
            admitted: Arc::new(Semaphore::new(
                (t.max_concurrent_builds + t.max_queued_builds) as usize,
            )),
            running: Arc::new(Semaphore::new(t.max_concurrent_builds as usize)),
        }
    }

    /// A place in the queue, or 503 `BUILD_QUEUE_FULL`.
    pub fn admit(&self) -> Result<Admission, ApiError> {
        self.admitted
            .clone()
            .try_acquire_owned()
            .map(Admission)
            .map_err(|_| ApiError::BuildQueueFull)
    }

    /// Runs `job` in the background; it ends `active` or `failed`, never stuck.
    pub fn spawn(&self, pool: PgPool, job: Job, admission: Admission) {
        let builds = self.clone();
        tokio::spawn(async move {
            let Admission(permit) = admission;
            builds.run(pool, job).await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_admits_running_plus_waiting_builds_then_refuses() {
        let mut settings = Settings::default();
        settings.templates.max_concurrent_builds = 1;
        settings.templates.max_queued_builds = 1;
        let builds = Builds::new(&settings, None);
        let first = builds.admit().expect("a slot");
        let _second = builds.admit().expect("a place in the queue");
        assert!(matches!(builds.admit(), Err(ApiError::BuildQueueFull)));
        drop(first);
        assert!(builds.admit().is_ok(), "a finished build frees its place");
    }
}
