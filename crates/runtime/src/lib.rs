//! The runtime interface: how the Warren control plane makes sandboxes exist.
//!
//! The control plane owns what a sandbox *should* be (its row in Postgres and its state machine); a
//! [`SandboxRuntime`] makes it so on some backend: a Docker container per sandbox in production (a later
//! crate feature), or [`fake::FakeRuntime`] (cargo feature `fake`) in tests. Every operation is keyed by
//! the sandbox id, and [`SandboxRuntime::list`] reports what the backend holds so a reconciler can
//! compare it with the database.

mod docker_settings;
mod images;
mod mount_path;
mod spec;

#[cfg(feature = "fake")]
pub mod fake;

use async_trait::async_trait;

pub use docker_settings::{DockerSettings, Headroom, NetworkSettings};
pub use images::{BuildEvent, ImageBuild, ImageBuilder, RegistryLogin};
pub use mount_path::{MAX_MOUNT_PATH, RESERVED_TREES, SANDBOX_MOUNTS, mount_path_refusal};
pub use spec::{
    Isolation, PooledSandbox, PooledSpec, Resources, RuntimeError, RuntimeSandbox, RuntimeState,
    RuntimeStatus, SandboxSpec, UnknownIsolation, VolumeMount,
};

/// A backend that runs sandboxes. Implementations must be idempotent where the docs say so: the control
/// plane may repeat an operation after a crash.
#[async_trait]
pub trait SandboxRuntime: Send + Sync + 'static {
    /// Creates and starts a sandbox; returns once its agent is ready to serve (or fails).
    async fn create(&self, spec: &SandboxSpec) -> Result<RuntimeSandbox, RuntimeError>;
    /// Starts a sandbox that belongs to nobody yet (warm pool). Its agent waits for the one-time
    /// configure step, authenticated by `spec.configure_secret`; returns once the agent is healthy.
    async fn create_pooled(&self, spec: &PooledSpec) -> Result<PooledSandbox, RuntimeError>;
    /// Hands a pooled sandbox to its owner: runs the agent's configure step with the owner's identity,
    /// token key and environment (`spec.sandbox_id` is the pooled sandbox's id). Returns the sandbox
    /// ready to serve its owner.
    async fn claim(
        &self,
        pooled: &PooledSandbox,
        spec: &SandboxSpec,
    ) -> Result<RuntimeSandbox, RuntimeError>;
    /// Freezes a running sandbox, keeping its memory.
    async fn pause(&self, sandbox_id: &str) -> Result<(), RuntimeError>;
    /// Thaws a paused sandbox.
    async fn resume(&self, sandbox_id: &str) -> Result<(), RuntimeError>;
    /// Stops a sandbox's processes, keeping its filesystem.
    async fn stop(&self, sandbox_id: &str) -> Result<(), RuntimeError>;
    /// Stores the agent's credentials for its next start (after a key rotation or a revocation of
    /// preview links, whether the sandbox runs or is stopped): its agent verifies with `token_key_hex`
    /// and signs its viewer's links with `preview_epoch` from then on, so a restart never brings back a
    /// revoked key. The key must stay out of reach of the sandbox's user code.
    async fn replace_credentials(
        &self,
        sandbox_id: &str,
        token_key_hex: &str,
        preview_epoch: i64,
    ) -> Result<(), RuntimeError>;
    /// Starts a stopped sandbox again; returns its (possibly new) agent address.
    async fn start(&self, sandbox_id: &str) -> Result<RuntimeSandbox, RuntimeError>;
    /// Removes a sandbox and everything it wrote. Idempotent: an unknown id is not an error.
    async fn destroy(&self, sandbox_id: &str) -> Result<(), RuntimeError>;
    /// Everything the backend currently holds, for reconciliation.
    async fn list(&self) -> Result<Vec<RuntimeStatus>, RuntimeError>;
    /// Makes the volume `volume_id`, bounded to `size_mb` where the backend can bound what is
    /// written, writable by the sandbox user (uid 1000). A leftover of the same id (an earlier
    /// attempt) is replaced.
    async fn create_volume(&self, volume_id: &str, size_mb: u32) -> Result<(), RuntimeError>;
    /// Removes a volume and everything in it. Idempotent: an unknown id is not an error.
    async fn remove_volume(&self, volume_id: &str) -> Result<(), RuntimeError>;
    /// The ids of every volume the backend holds, for reconciliation.
    async fn list_volumes(&self) -> Result<Vec<String>, RuntimeError>;
    /// Whether this backend takes filesystem snapshots ([`Self::snapshot`]).
    fn snapshots_supported(&self) -> bool;
    /// Takes the snapshot `snapshot_id` of everything the sandbox can write (its disk), whether it
    /// runs, is paused or stopped; a running sandbox is frozen for the instant the copy takes, so the
    /// snapshot is one consistent moment of it. A leftover of the same id is replaced.
    async fn snapshot(&self, sandbox_id: &str, snapshot_id: &str) -> Result<(), RuntimeError>;
    /// Removes a snapshot. Idempotent: an unknown id is not an error.
    async fn remove_snapshot(&self, snapshot_id: &str) -> Result<(), RuntimeError>;
    /// The ids of every snapshot the backend holds, for reconciliation.
    async fn list_snapshots(&self) -> Result<Vec<String>, RuntimeError>;
    /// A graceful shutdown of this process: releases what the backend keeps ready for future
    /// sandboxes (nothing by default). Sandboxes themselves keep running.
    async fn shutdown(&self) {}
    /// Removes what processes that are gone kept ready for future sandboxes (the spare network
    /// holders of a crashed replica; nothing by default), for the reconciler. The names removed.
    async fn sweep(&self) -> Result<Vec<String>, RuntimeError> {
        Ok(Vec::new())
    }
    /// What builds and removes the images sandboxes run from (template builds), where the
    /// backend has one.
    fn images(&self) -> Option<std::sync::Arc<dyn ImageBuilder>> {
        None
    }
}
