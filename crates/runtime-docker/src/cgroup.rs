//! Headroom for the agent (cgroup v1, the engine's `cgroupfs` driver): every sandbox container gets
//! a cgroup parent Warren owns, `/warren/<instance>/<sandbox id>`, that holds the sandbox's pids,
//! memory and CPU limits, and beside its container's own cgroup a `user` cgroup with limits a margin
//! lower (and a smaller CPU weight than the agent's). The `user` cgroups (pids, memory, cpu) are
//! bind-mounted into the container at [`MOUNT_DIR`]; the agent moves every user process into them
//! before it runs, so a fork bomb or a memory hog fills `user` and the agent, outside it, still
//! answers.
//!
//! The engine creates the container's cgroup under the parent in every hierarchy, and removes only
//! that one: [`Cgroups::remove`] removes the rest on destroy, and [`Cgroups::leftovers`] names the
//! sandboxes whose cgroups a crash left behind, for the reconciler's destroy.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runtime::{Resources, RuntimeError};

use crate::engine::failed;
use runtime::{DockerSettings, Headroom};

/// Where the `user` cgroups appear inside a sandbox: `pids/` and `memory/`, root-only.
pub const MOUNT_DIR: &str = "/.warren/cgroup";
/// The hierarchies whose `user` cgroup limits user code.
const LIMITED: [&str; 3] = ["pids", "memory", "cpu"];
/// The CFS period of the sandbox's CPU quota, in µs (Docker's).
const CFS_PERIOD_US: u64 = 100_000;
/// The name of the user processes' cgroup beside the container's.
const USER: &str = "user";
/// Tries, 50 ms apart, to remove a cgroup whose last processes are still exiting.
const REMOVE_TRIES: usize = 40;

/// The cgroups to use, when the engine puts containers in cgroup v1 hierarchies it manages itself
/// (the `cgroupfs` driver) and `cgroup_root` is set and writable.
pub async fn detect(docker: &bollard::Docker, settings: &DockerSettings) -> Option<Cgroups> {
    use bollard::models::{SystemInfoCgroupDriverEnum as Driver, SystemInfoCgroupVersionEnum as V};
    let root = settings.cgroup_root.as_deref()?;
    let info = docker.info().await.ok()?;
    if info.cgroup_driver != Some(Driver::CGROUPFS) || info.cgroup_version != Some(V::_1) {
        tracing::warn!(driver = ?info.cgroup_driver, version = ?info.cgroup_version,
            "the engine does not use cgroupfs on cgroup v1: user code shares the agent's limits");
        return None;
    }
    Cgroups::open(root, &settings.instance, settings.headroom)
}

/// The cgroups of this installation's sandboxes, under `root` (normally `/sys/fs/cgroup`).
#[derive(Debug, Clone)]
pub struct Cgroups {
    root: PathBuf,
    instance: String,
    headroom: Headroom,
}

impl Cgroups {
    /// The cgroups under `root` when they can be used: cgroup v1 with a writable `pids` and `memory`
    /// hierarchy (checked by creating this installation's directory). `None`, with a warning,
    /// otherwise: user code then shares the agent's limits.
    pub fn open(root: &Path, instance: &str, headroom: Headroom) -> Option<Self> {
        let this = Self {
            root: root.to_owned(),
            instance: instance.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
            headroom,
        };
        for hierarchy in LIMITED {
            let dir = this.dir(hierarchy, "");
            if let Err(e) = std::fs::create_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e,
                    "no cgroup v1 hierarchy to keep headroom for the agent: user code shares its limits");
                return None;
            }
        }
        Some(this)
    }

    /// The cgroup path of the sandbox's parent (Docker's `CgroupParent`).
    pub fn parent(&self, sandbox_id: &str) -> String {
        format!("/warren/{}/{sandbox_id}", self.instance)
    }

    /// The directory of the sandbox's parent in `hierarchy` (its instance's directory for `""`).
    fn dir(&self, hierarchy: &str, sandbox_id: &str) -> PathBuf {
        let dir = self
            .root
            .join(hierarchy)
            .join("warren")
            .join(&self.instance);
        match sandbox_id {
            "" => dir,
            id => dir.join(id),
        }
    }

    /// Host paths of the `user` cgroups, as (hierarchy, path).
    pub fn user_dirs(&self, sandbox_id: &str) -> Vec<(&'static str, PathBuf)> {
        LIMITED
            .iter()
            .map(|h| (*h, self.dir(h, sandbox_id).join(USER)))
            .collect()
    }

    /// Creates (or updates) the sandbox's parent and `user` cgroups with their limits (`pids`: the
    /// sandbox's pids limit, `None` when unlimited).
    pub fn create(
        &self,
        sandbox_id: &str,
        resources: Resources,
        pids: Option<u64>,
    ) -> Result<(), RuntimeError> {
        let memory = u64::from(resources.memory_mb) << 20;
        let user_memory = self.headroom.user_memory(memory);
        for (hierarchy, user) in self.user_dirs(sandbox_id) {
            std::fs::create_dir_all(&user)
                .map_err(|e| failed(format!("cannot create {}: {e}", user.display())))?;
            std::fs::set_permissions(&user, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| failed(format!("cannot restrict {}: {e}", user.display())))?;
            let parent = self.dir(hierarchy, sandbox_id);
            let limits: &[(&Path, &str, u64)] = match (hierarchy, pids) {
                ("pids", None) => &[],
                ("pids", Some(pids)) => &[
                    (&parent, "pids.max", pids),
                    (&user, "pids.max", self.headroom.user_pids(pids)),
                ],
                // The container's quota (Docker's `nano_cpus`) now binds the agent only: the same on
                // the parent binds everything; under contention the agent's weight (1024) wins.
                ("cpu", _) => &[
                    (&parent, "cpu.cfs_period_us", CFS_PERIOD_US),
                    (
                        &parent,
                        "cpu.cfs_quota_us",
                        u64::from(resources.vcpu.max(1)) * CFS_PERIOD_US,
                    ),
                    (&user, "cpu.shares", u64::from(self.headroom.cpu_shares)),
                ],
                // memsw (memory + swap) only where swap is accounted; never below the memory limit,
                // so memory is written first.
                _ => &[
                    (&parent, "memory.limit_in_bytes", memory),
                    (&parent, "memory.memsw.limit_in_bytes", memory),
                    (&user, "memory.limit_in_bytes", user_memory),
                    (&user, "memory.memsw.limit_in_bytes", user_memory),
                ],
            };
            for (dir, file, value) in limits {
                write_limit(&dir.join(file), *value)?;
            }
        }
        Ok(())
    }

    /// Removes the sandbox's cgroups in every hierarchy (the engine has removed its container's),
    /// waiting briefly for exiting processes. Missing ones are fine.
    pub async fn remove(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let hierarchies = std::fs::read_dir(&self.root)
            .map_err(|e| failed(format!("cannot list {}: {e}", self.root.display())))?;
        for hierarchy in hierarchies.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            let parent = self.dir(&hierarchy, sandbox_id);
            // Children first (`user`, and a container cgroup the engine left), then the parent.
            let children = std::fs::read_dir(&parent)
                .map(|d| {
                    d.filter_map(|e| Some(e.ok()?.path()))
                        .filter(|p| p.is_dir())
                        .collect()
                })
                .unwrap_or_else(|_| Vec::new());
            for dir in children.iter().chain(std::iter::once(&parent)) {
                remove_dir(dir).await?;
            }
        }
        Ok(())
    }

    /// Sandboxes of this installation with cgroups on the host.
    pub fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.dir("pids", ""))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn write_limit(path: &Path, value: u64) -> Result<(), RuntimeError> {
    match std::fs::write(path, value.to_string()) {
        Err(e)
            if e.kind() == ErrorKind::NotFound && path.ends_with("memory.memsw.limit_in_bytes") =>
        {
            Ok(())
        }
        r => r.map_err(|e| failed(format!("cannot write {}: {e}", path.display()))),
    }
}

/// Removes one cgroup directory; busy while its last processes exit, so retried for a while.
async fn remove_dir(dir: &Path) -> Result<(), RuntimeError> {
    for _ in 0..REMOVE_TRIES {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EBUSY as i32) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(failed(format!("cannot remove {}: {e}", dir.display()))),
        }
    }
    Err(failed(format!(
        "cannot remove {}: still busy",
        dir.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_limits_keep_the_larger_margin() {
        let h = Headroom {
            pids_min: 16,
            pids_percent: 10,
            memory_min_mb: 32,
            memory_percent: 10,
            cpu_shares: 128,
        };
        assert_eq!(h.user_pids(1024), 922);
        assert_eq!(h.user_pids(100), 84);
        assert_eq!(h.user_memory(512 << 20), (512 << 20) - (512 << 20) / 10);
        assert_eq!(h.user_memory(128 << 20), 96 << 20);
        assert_eq!(h.user_pids(8), 1);
    }
}
