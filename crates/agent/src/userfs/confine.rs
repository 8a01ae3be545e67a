//! What the files API refuses even where the sandbox user could reach it: kernel interfaces (`/proc`,
//! where `self` is the agent, `/sys` and the like) and the agent's private state (`/.warren`, the
//! secrets file, the binary's directory). Checked on the opened file itself (its filesystem type,
//! device and inode, and its real path), never on the string the client sent, so `..`, symlinks and
//! renames in between change nothing.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{self, FsType};

use crate::error::{ApiError, ApiResult};

/// The agent's own directory in a sandbox under the Docker runtime: its binary, the secrets file, its
/// scratch directory (docs/runtime-docker.md).
pub const AGENT_DIR: &str = "/.warren";

/// Filesystems that are interfaces to the kernel rather than files of the sandbox.
const KERNEL_FS: [FsType; 8] = [
    statfs::PROC_SUPER_MAGIC,
    statfs::SYSFS_MAGIC,
    statfs::DEBUGFS_MAGIC,
    statfs::TRACEFS_MAGIC,
    statfs::SECURITYFS_MAGIC,
    statfs::BPF_FS_MAGIC,
    statfs::CGROUP_SUPER_MAGIC,
    statfs::CGROUP2_SUPER_MAGIC,
];

/// A private path: it and everything below it are refused.
#[derive(Debug)]
struct Private {
    /// Its real path.
    path: PathBuf,
    /// Its device and inode, when it exists (a hard link elsewhere has the same).
    id: Option<(u64, u64)>,
}

/// The refused places, found once at start.
#[derive(Debug)]
pub struct Confine {
    private: Vec<Private>,
}

/// The path under which the process sees its open file `fd` (a magic link to the file itself).
pub fn fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

impl Confine {
    /// Refuses `paths` (and what is below them) besides the kernel filesystems.
    pub fn new(paths: impl IntoIterator<Item = PathBuf>) -> Self {
        let private = paths
            .into_iter()
            .map(|p| {
                let meta = std::fs::metadata(&p).ok();
                Private {
                    path: std::fs::canonicalize(&p).unwrap_or(p),
                    id: meta.map(|m| (m.dev(), m.ino())),
                }
            })
            .collect();
        Self { private }
    }

    /// The agent's private places under `config`: [`AGENT_DIR`], the secrets file and the directory of
    /// the running binary.
    pub fn of_agent(secrets_file: Option<&Path>) -> Self {
        let binary_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf));
        Self::new(
            [PathBuf::from(AGENT_DIR)]
                .into_iter()
                .chain(secrets_file.map(Path::to_path_buf))
                .chain(binary_dir),
        )
    }

    fn below_private(&self, real: &Path) -> bool {
        self.private.iter().any(|p| real.starts_with(&p.path))
    }

    /// Refuses `file` (opened for the client's `shown` path) when it is a kernel interface or private,
    /// and when it cannot be checked (fails closed: gVisor, say, lets the user open some of procfs
    /// and then cannot name what was opened).
    pub fn check(&self, file: &File, shown: &str) -> ApiResult<()> {
        let unchecked = |e: &dyn std::fmt::Display| {
            tracing::warn!(path = shown, error = %e, "cannot check an opened path; refused");
            ApiError::path_not_allowed(shown)
        };
        let fs = statfs::fstatfs(file).map_err(|e| unchecked(&e))?;
        if KERNEL_FS.contains(&fs.filesystem_type()) {
            return Err(ApiError::path_not_allowed(shown));
        }
        let meta = file.metadata().map_err(|e| unchecked(&e))?;
        let id = Some((meta.dev(), meta.ino()));
        let real = std::fs::read_link(fd_path(file)).map_err(|e| unchecked(&e))?;
        if self.private.iter().any(|p| p.id == id) || self.below_private(&real) {
            return Err(ApiError::path_not_allowed(shown));
        }
        Ok(())
    }

    /// Whether `path` (an event of a watch) lies in a private place; judged by the real path of its
    /// directory, so a file already gone is judged too.
    pub fn is_private(&self, path: &Path) -> bool {
        let real = std::fs::canonicalize(path)
            .or_else(|_| {
                let (dir, name) = (path.parent().unwrap_or(path), path.file_name());
                std::fs::canonicalize(dir).map(|d| name.map_or(d.clone(), |n| d.join(n)))
            })
            .unwrap_or_else(|_| path.to_path_buf());
        self.below_private(&real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confine(dir: &Path) -> Confine {
        Confine::new([dir.join("private"), dir.join("secret")])
    }

    fn check(c: &Confine, path: impl AsRef<Path>) -> Result<(), &'static str> {
        let file = File::open(path).unwrap();
        c.check(&file, "p").map_err(|e| e.code)
    }

    #[test]
    fn kernel_filesystems_are_refused_wherever_they_are_reached() {
        let dir = tempfile::tempdir().unwrap();
        let c = confine(dir.path());
        std::os::unix::fs::symlink("/proc/self", dir.path().join("me")).unwrap();
        for path in ["/proc/self/status", "/proc", "/sys/kernel"] {
            assert_eq!(check(&c, path), Err("PATH_NOT_ALLOWED"), "{path}");
        }
        assert_eq!(
            check(&c, dir.path().join("me/status")),
            Err("PATH_NOT_ALLOWED")
        );
        assert_eq!(check(&c, "/etc/hostname"), Ok(()));
    }

    #[test]
    fn private_places_are_refused_by_identity_and_real_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("private/inner")).unwrap();
        std::fs::write(dir.path().join("secret"), "key").unwrap();
        std::fs::write(dir.path().join("public"), "ok").unwrap();
        let c = confine(dir.path());
        std::os::unix::fs::symlink(dir.path().join("secret"), dir.path().join("link")).unwrap();
        std::fs::hard_link(dir.path().join("secret"), dir.path().join("hard")).unwrap();
        for name in [
            "secret",
            "link",
            "hard",
            "private",
            "private/inner",
            "private/../private",
        ] {
            assert_eq!(
                check(&c, dir.path().join(name)),
                Err("PATH_NOT_ALLOWED"),
                "{name}"
            );
        }
        assert_eq!(check(&c, dir.path().join("public")), Ok(()));
        assert_eq!(check(&c, dir.path()), Ok(()));
        assert!(c.is_private(&dir.path().join("private/gone")));
        assert!(c.is_private(&dir.path().join("link")));
        assert!(!c.is_private(&dir.path().join("public")));
    }
}
