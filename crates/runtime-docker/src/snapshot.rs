//! Snapshots of a sandbox's filesystem. With a disk pool every path the sandbox's user can write is
//! on its subvolume (the root filesystem is read-only, [`crate::container`]), so a read-only btrfs
//! snapshot of that subvolume is the whole writable state, taken copy-on-write in milliseconds. A
//! running sandbox is frozen (the engine's pause, the cgroup freezer) for that instant, so no
//! process is caught halfway through a write sequence, and thawed right after.

use runtime::RuntimeError;

use crate::DockerRuntime;
use crate::SandboxRuntime as _;
use crate::engine::check_sandbox_id;

impl DockerRuntime {
    /// Takes `snapshot_id` of the disk of `sandbox_id`, frozen around it when it runs.
    pub(crate) async fn take_snapshot(
        &self,
        sandbox_id: &str,
        snapshot_id: &str,
    ) -> Result<(), RuntimeError> {
        check_sandbox_id(sandbox_id)?;
        let state = self
            .inspect_sandbox(sandbox_id)
            .await?
            .state
            .unwrap_or_default();
        let freeze = state.running == Some(true) && state.paused != Some(true);
        if freeze {
            self.pause(sandbox_id).await?;
        }
        let taken = self.snapshots.take_snapshot(snapshot_id, sandbox_id).await;
        if freeze {
            self.resume(sandbox_id).await?;
        }
        taken
    }
}
