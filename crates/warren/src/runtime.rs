//! The sandbox runtime `warren serve` drives: the one `runtime.kind` names ([`runtime_from_settings`]).
//!
//! [`LazyDocker`] is the Docker backend when the engine was unreachable at startup: `warren serve`
//! serves anyway, every runtime call first tries to connect, and while the engine stays down each
//! call fails at once with [`RuntimeError::Unavailable`] (503 `RUNTIME_UNAVAILABLE`, "unreachable;
//! try again later"). Once a connect succeeds, the connected backend serves every later call.

use std::sync::Arc;

use async_trait::async_trait;
use runtime::{
    ImageBuilder, PooledSandbox, PooledSpec, RuntimeError, RuntimeSandbox, RuntimeStatus,
    SandboxRuntime, SandboxSpec,
};
use runtime_docker::{DockerImages, DockerRuntime, DockerSettings};
use settings::{RuntimeKind, Settings};
use tokio::sync::OnceCell;

/// The runtime `runtime.kind` names. With `docker`, an engine that does not answer does not stop
/// the server: it serves, and runtime calls answer 503 `RUNTIME_UNAVAILABLE` until the engine is back
/// ([`LazyDocker`]). Any other failure to prepare the backend (say, no agent binary) stops startup.
pub async fn runtime_from_settings(
    settings: &Settings,
) -> anyhow::Result<Option<Arc<dyn SandboxRuntime>>> {
    match settings.runtime.kind {
        RuntimeKind::None => {
            tracing::warn!(
                "no sandbox runtime configured (runtime.kind = \"none\"): the API serves, but \
                 creating a sandbox answers 503 RUNTIME_UNAVAILABLE"
            );
            Ok(None)
        }
        RuntimeKind::Docker => match DockerRuntime::connect(&settings.docker).await {
            Ok(docker) => Ok(Some(Arc::new(docker))),
            Err(RuntimeError::Unavailable(e)) => {
                tracing::warn!(
                    docker.socket = %settings.docker.socket,
                    error.chain = %api_error::chain(e.as_ref()),
                    "the Docker engine does not answer; serving anyway (sandbox operations answer \
                     503 RUNTIME_UNAVAILABLE until it does)"
                );
                Ok(Some(Arc::new(LazyDocker::new(settings.docker.clone()))))
            }
            Err(e) => Err(anyhow::Error::new(e).context("cannot prepare the Docker runtime")),
        },
    }
}

pub struct LazyDocker {
    settings: DockerSettings,
    connected: OnceCell<DockerRuntime>,
    /// Image calls need no connected runtime: their client connects on each call.
    images: Option<Arc<DockerImages>>,
}

impl LazyDocker {
    pub fn new(settings: DockerSettings) -> Self {
        Self {
            images: DockerImages::new(&settings.socket).ok().map(Arc::new),
            settings,
            connected: OnceCell::new(),
        }
    }

    async fn engine(&self) -> Result<&DockerRuntime, RuntimeError> {
        self.connected
            .get_or_try_init(|| async {
                let connected = DockerRuntime::connect(&self.settings).await?;
                tracing::info!("connected to the Docker engine");
                Ok(connected)
            })
            .await
    }
}

#[async_trait]
impl SandboxRuntime for LazyDocker {
    fn images(&self) -> Option<Arc<dyn ImageBuilder>> {
        self.images.clone().map(|i| i as Arc<dyn ImageBuilder>)
    }

    async fn create(&self, spec: &SandboxSpec) -> Result<RuntimeSandbox, RuntimeError> {
        self.engine().await?.create(spec).await
    }

    async fn create_pooled(&self, spec: &PooledSpec) -> Result<PooledSandbox, RuntimeError> {
        self.engine().await?.create_pooled(spec).await
    }

    async fn claim(
        &self,
        pooled: &PooledSandbox,
        spec: &SandboxSpec,
    ) -> Result<RuntimeSandbox, RuntimeError> {
        self.engine().await?.claim(pooled, spec).await
    }

    async fn pause(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        self.engine().await?.pause(sandbox_id).await
    }

    async fn resume(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        self.engine().await?.resume(sandbox_id).await
    }

    async fn stop(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        self.engine().await?.stop(sandbox_id).await
    }

    async fn replace_credentials(
        &self,
        sandbox_id: &str,
        token_key_hex: &str,
        preview_epoch: i64,
    ) -> Result<(), RuntimeError> {
        self.engine()
            .await?
            .replace_credentials(sandbox_id, token_key_hex, preview_epoch)
            .await
    }

    async fn start(&self, sandbox_id: &str) -> Result<RuntimeSandbox, RuntimeError> {
        self.engine().await?.start(sandbox_id).await
    }

    async fn destroy(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        self.engine().await?.destroy(sandbox_id).await
    }

    async fn list(&self) -> Result<Vec<RuntimeStatus>, RuntimeError> {
        self.engine().await?.list().await
    }

    async fn create_volume(&self, volume_id: &str, size_mb: u32) -> Result<(), RuntimeError> {
        self.engine().await?.create_volume(volume_id, size_mb).await
    }

    async fn remove_volume(&self, volume_id: &str) -> Result<(), RuntimeError> {
        self.engine().await?.remove_volume(volume_id).await
    }

    async fn list_volumes(&self) -> Result<Vec<String>, RuntimeError> {
        self.engine().await?.list_volumes().await
    }

    /// Before the first connect: whether a sandbox disk is set (the connect finds out whether it
    /// is btrfs; a snapshot then fails with the reason).
    fn snapshots_supported(&self) -> bool {
        self.connected.get().map_or_else(
            || self.settings.sandbox_disk_dir.is_some(),
            DockerRuntime::snapshots_supported,
        )
    }

    async fn snapshot(&self, sandbox_id: &str, snapshot_id: &str) -> Result<(), RuntimeError> {
        self.engine().await?.snapshot(sandbox_id, snapshot_id).await
    }

    async fn remove_snapshot(&self, snapshot_id: &str) -> Result<(), RuntimeError> {
        self.engine().await?.remove_snapshot(snapshot_id).await
    }

    async fn list_snapshots(&self) -> Result<Vec<String>, RuntimeError> {
        self.engine().await?.list_snapshots().await
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse as _;

    use api_error::ApiError;

    use super::*;

    /// A socket path where no engine listens (the shared engine is never touched).
    fn dead_engine() -> DockerSettings {
        DockerSettings {
            socket: "unix:///nonexistent/warren-no-engine.sock".into(),
            ..DockerSettings::default()
        }
    }

    #[tokio::test]
    async fn a_dead_engine_does_not_stop_startup_and_every_call_is_a_quick_503() {
        let mut settings = Settings::default();
        settings.runtime.kind = RuntimeKind::Docker;
        settings.docker = dead_engine();
        let runtime = super::runtime_from_settings(&settings)
            .await
            .expect("serves anyway")
            .expect("a runtime that reconnects");
        for _ in 0..2 {
            let err = runtime.list().await.unwrap_err();
            assert!(matches!(err, RuntimeError::Unavailable(_)), "{err:?}");
        }
        let response =
            ApiError::from(runtime.destroy("abcdefabcdef").await.unwrap_err()).into_response();
        assert_eq!(response.status(), 503);
    }
}
