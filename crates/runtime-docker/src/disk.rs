//! Bounding what a sandbox writes: a btrfs subvolume per sandbox, with a qgroup limit of its
//! `disk_mb`, holding every directory its user can write (docs/runtime-research.md §1, variant ii).
//! The subvolume lives as long as the sandbox (kept across stop and start) and goes, with its
//! qgroup, on destroy. Driven through the `btrfs` CLI (about 8 ms per create, see
//! docs/runtime-docker.md).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use runtime::RuntimeError;
use tokio::process::Command;

use crate::engine::failed;

/// Directory of the subvolume mounted at [`SandboxDisk::WORKSPACE`].
const WORKSPACE_DIR: &str = "workspace";
/// Directory of the subvolume mounted at [`SandboxDisk::HOME`].
const HOME_DIR: &str = "home";
/// Directory of the subvolume mounted at every scratch path.
const TMP_DIR: &str = "tmp";

/// The btrfs filesystem sandboxes' subvolumes live on.
#[derive(Debug, Clone)]
pub struct DiskPool {
    root: PathBuf,
}

/// Where one sandbox's writable directories are on the host, and where they go in the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxDisk {
    dir: PathBuf,
}

impl SandboxDisk {
    /// In-sandbox path of the workspace.
    pub const WORKSPACE: &str = "/workspace";
    /// In-sandbox path of the user's home.
    pub const HOME: &str = "/home/user";
    /// In-sandbox scratch paths, all on one directory of the subvolume.
    pub const SCRATCH: [&str; 3] = ["/tmp", "/var/tmp", "/run/lock"];

    /// Host directory mounted at [`Self::WORKSPACE`].
    pub fn workspace(&self) -> PathBuf {
        self.dir.join(WORKSPACE_DIR)
    }
    /// Host directory mounted at [`Self::HOME`].
    pub fn home(&self) -> PathBuf {
        self.dir.join(HOME_DIR)
    }
    /// Host directory mounted at each of [`Self::SCRATCH`].
    pub fn scratch(&self) -> PathBuf {
        self.dir.join(TMP_DIR)
    }
}

impl DiskPool {
    /// The pool at `root` when it is a btrfs mount; quotas are enabled on it (idempotent; an engine or
    /// tool may have disabled them). `None` when `root` is no btrfs filesystem.
    pub async fn open(root: &Path) -> Result<Option<Self>, RuntimeError> {
        let is_btrfs = nix::sys::statfs::statfs(root)
            .map(|s| s.filesystem_type() == nix::sys::statfs::BTRFS_SUPER_MAGIC)
            .unwrap_or(false);
        if !is_btrfs {
            return Ok(None);
        }
        btrfs(&["quota", "enable"], &[root]).await?;
        let pool = Self {
            root: root.to_owned(),
        };
        pool.keep_limits_enforced().await?;
        Ok(Some(pool))
    }

    /// btrfs stops enforcing qgroup limits while its accounting is marked inconsistent (seen here
    /// after hundreds of concurrent subvolume deletes: a disk filler then wrote past its limit). A
    /// rescan restores the accounting, and the limits with it; it takes milliseconds on this pool.
    async fn keep_limits_enforced(&self) -> Result<(), RuntimeError> {
        let out = Command::new("btrfs")
            .args(["qgroup", "show"])
            .arg(&self.root)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| failed(format!("cannot run btrfs: {e}")))?;
        if String::from_utf8_lossy(&out.stderr).contains("inconsistent") {
            tracing::warn!("btrfs quota accounting inconsistent: rescanning so limits hold");
            btrfs(&["quota", "rescan", "-w"], &[&self.root]).await?;
        }
        Ok(())
    }

    fn dir(&self, sandbox_id: &str) -> PathBuf {
        self.root.join(sandbox_id)
    }

    /// Whether a subvolume of `sandbox_id` exists.
    pub fn holds(&self, sandbox_id: &str) -> bool {
        self.dir(sandbox_id).exists()
    }

    /// Makes the subvolume of `sandbox_id`, limited to `disk_mb`, with its directories owned by
    /// `owner` (uid, gid). A leftover subvolume of the same id (an earlier attempt) is replaced.
    pub async fn create(
        &self,
        sandbox_id: &str,
        disk_mb: u32,
        owner: (u32, u32),
    ) -> Result<SandboxDisk, RuntimeError> {
        let dir = self.dir(sandbox_id);
        self.create_subvolume(&dir, disk_mb, move |d| make_dirs(d, owner))
            .await?;
        Ok(SandboxDisk { dir })
    }

    /// Makes the subvolume of `sandbox_id` a writable copy-on-write snapshot of `source` (a
    /// [`Self::snapshot`]), limited to `disk_mb`. A leftover subvolume of the same id is replaced.
    pub async fn restore(
        &self,
        sandbox_id: &str,
        disk_mb: u32,
        source: &Path,
    ) -> Result<SandboxDisk, RuntimeError> {
        let dir = self.dir(sandbox_id);
        self.remove_subvolume(&dir).await?;
        btrfs(&["subvolume", "snapshot"], &[source, &dir]).await?;
        self.limit_or_remove(&dir, disk_mb, |_| Ok(())).await?;
        Ok(SandboxDisk { dir })
    }

    /// Takes a read-only snapshot of the subvolume of `sandbox_id` at `dest` (under this pool's
    /// root): instant, copy-on-write. A leftover at `dest` is replaced.
    pub async fn snapshot(&self, sandbox_id: &str, dest: &Path) -> Result<(), RuntimeError> {
        let source = self.dir(sandbox_id);
        if !source.exists() {
            return Err(RuntimeError::NotFound(sandbox_id.to_owned()));
        }
        self.remove_subvolume(dest).await?;
        btrfs(&["subvolume", "snapshot", "-r"], &[&source, dest])
            .await
            .map(drop)
    }

    /// Makes the subvolume `dir` (under this pool's root), limited to `limit_mb`, and runs
    /// `prepare` on it. A leftover subvolume at `dir` is replaced; a failure leaves none.
    pub async fn create_subvolume(
        &self,
        dir: &Path,
        limit_mb: u32,
        prepare: impl FnOnce(&Path) -> std::io::Result<()> + Send + 'static,
    ) -> Result<(), RuntimeError> {
        self.remove_subvolume(dir).await?;
        btrfs(&["subvolume", "create"], &[dir]).await?;
        self.limit_or_remove(dir, limit_mb, prepare).await
    }

    /// Limits the new subvolume `dir` to `limit_mb` and runs `prepare` on it; removes it when
    /// either fails.
    async fn limit_or_remove(
        &self,
        dir: &Path,
        limit_mb: u32,
        prepare: impl FnOnce(&Path) -> std::io::Result<()> + Send + 'static,
    ) -> Result<(), RuntimeError> {
        let limit = format!("{limit_mb}M");
        let made = async {
            btrfs(&["qgroup", "limit", &limit], &[dir]).await?;
            let d = dir.to_owned();
            tokio::task::spawn_blocking(move || prepare(&d))
                .await
                .map_err(|e| failed(format!("directory setup panicked: {e}")))?
                .map_err(|e| failed(format!("cannot prepare {}: {e}", dir.display())))
        }
        .await;
        if let Err(e) = made {
            // Best effort: the error that matters is the first one.
            let _ = self.remove_subvolume(dir).await;
            return Err(e);
        }
        Ok(())
    }

    /// Deletes the subvolume of `sandbox_id` and its qgroup. Nothing there is not an error.
    pub async fn remove(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        self.remove_subvolume(&self.dir(sandbox_id)).await
    }

    /// Deletes the subvolume `dir` and its qgroup. Nothing there is not an error.
    pub async fn remove_subvolume(&self, dir: &Path) -> Result<(), RuntimeError> {
        if !dir.exists() {
            return Ok(());
        }
        let rootid = btrfs(&["inspect-internal", "rootid"], &[dir]).await?;
        btrfs(&["subvolume", "delete", "--commit-after"], &[dir]).await?;
        // The qgroup goes with the committed delete; a stale one is harmless and cleared later by
        // `btrfs qgroup clear-stale`, so its failure is only logged.
        let qgroup = format!("0/{}", rootid.trim());
        if let Err(e) = btrfs(&["qgroup", "destroy", &qgroup], &[&self.root]).await {
            tracing::warn!(dir = %dir.display(), error = %e, "qgroup not destroyed");
        }
        self.keep_limits_enforced().await
    }

    /// The filesystem's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn make_dirs(dir: &Path, (uid, gid): (u32, u32)) -> std::io::Result<()> {
    for (name, mode) in [(WORKSPACE_DIR, 0o755), (HOME_DIR, 0o755), (TMP_DIR, 0o1777)] {
        let d = dir.join(name);
        std::fs::create_dir(&d)?;
        if name != TMP_DIR {
            std::os::unix::fs::chown(&d, Some(uid), Some(gid))?;
        }
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Runs `btrfs ARGS PATHS`; its stdout on success.
async fn btrfs(args: &[&str], paths: &[&Path]) -> Result<String, RuntimeError> {
    let out = Command::new("btrfs")
        .args(args)
        .args(paths)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| failed(format!("cannot run btrfs: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(format!(
            "btrfs {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
