//! The files API's access to the filesystem: every operation runs on a blocking thread that has taken
//! the sandbox user's credentials ([`creds`]), and every file it opens is checked ([`confine`]) before
//! it is used. Whatever user code cannot do, the API cannot do either; what it creates belongs to the
//! user. Without a sandbox user (an agent run as an ordinary user) it acts as the agent.

pub mod confine;
pub mod creds;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::error::{ApiError, ApiResult};
pub use confine::{Confine, fd_path};
use creds::UserCreds;

/// Flags of every open: no fd leaks to children, no device becomes the controlling terminal.
const ALWAYS: OFlag = OFlag::O_CLOEXEC.union(OFlag::O_NOCTTY);

/// The sandbox user's view of the filesystem.
pub struct UserFs {
    run_as: Option<(u32, u32)>,
    confine: Confine,
}

fn io_err(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl UserFs {
    pub fn new(run_as: Option<(u32, u32)>, confine: Confine) -> Self {
        Self { run_as, confine }
    }

    /// Runs `f` on this thread as the sandbox user. Synchronous: never hold it across an `.await`.
    pub fn as_user<T>(&self, f: impl FnOnce() -> ApiResult<T>) -> ApiResult<T> {
        let agent = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let _creds = match self.run_as.filter(|user| *user != agent) {
            Some((uid, gid)) => Some(
                UserCreds::enter(uid, gid)
                    .map_err(|e| ApiError::internal("take the sandbox user's credentials", e))?,
            ),
            None => None,
        };
        f()
    }

    /// Runs `f` as the sandbox user on a blocking thread: one switch per operation, not per chunk.
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Arc<Self>) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.as_user(|| f(&this)))
            .await
            .map_err(|e| ApiError::internal("run a file operation", e))?
    }

    /// Refuses `file` when it is a kernel interface or the agent's (see [`Confine::check`]).
    pub fn check(&self, file: &File, shown: &str) -> ApiResult<()> {
        self.confine.check(file, shown)
    }

    /// Whether an event path of a watch lies in the agent's private places.
    pub fn is_private(&self, path: &Path) -> bool {
        self.confine.is_private(path)
    }

    /// Opens `path` (following symlinks, with the calling thread's credentials), unchecked.
    pub fn open_raw(&self, path: &Path, flags: OFlag) -> io::Result<File> {
        let fd = nix::fcntl::open(path, flags | ALWAYS, Mode::empty()).map_err(io_err)?;
        // SAFETY: `open` just returned this descriptor and nothing else owns it.
        Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Opens `name` in the directory `dir`, unchecked; `mode` applies when it is created.
    pub fn open_at(&self, dir: &File, name: &OsStr, flags: OFlag, mode: u32) -> io::Result<File> {
        let fd = nix::fcntl::openat(
            Some(std::os::fd::AsRawFd::as_raw_fd(dir)),
            name,
            flags | ALWAYS,
            Mode::from_bits_truncate(mode),
        )
        .map_err(io_err)?;
        // SAFETY: `openat` just returned this descriptor and nothing else owns it.
        Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Opens and checks `path`: its directory first (nothing below a refused directory is opened at
    /// all), then its last component in that directory, following a symlink there. The outer error
    /// is a refusal; the inner one is the open's own failure, for the caller to judge.
    pub fn try_open(&self, path: &Path, flags: OFlag, shown: &str) -> ApiResult<io::Result<File>> {
        let opened = match path.file_name() {
            Some(name) => match self.try_dir(parent_of(path), shown)? {
                Ok(dir) => self.open_at(&dir, name, flags, 0),
                Err(e) => Err(e),
            },
            None => self.open_raw(path, flags),
        };
        if let Ok(file) = &opened {
            self.check(file, shown)?;
        }
        Ok(opened)
    }

    /// The directory `dir`, opened as a handle only (search permission suffices) and checked.
    fn try_dir(&self, dir: &Path, shown: &str) -> ApiResult<io::Result<File>> {
        let opened = self.open_raw(dir, OFlag::O_PATH | OFlag::O_DIRECTORY);
        if let Ok(dir) = &opened {
            self.check(dir, shown)?;
        }
        Ok(opened)
    }

    /// [`Self::try_open`], with a failed open mapped to its error.
    pub fn open(&self, path: &Path, flags: OFlag, shown: &str) -> ApiResult<File> {
        self.try_open(path, flags, shown)?
            .map_err(|e| ApiError::from_io(&e, shown))
    }

    /// Refuses replacing or removing the entry `name` of `dir` when the entry itself (a symlink, not
    /// what it points to) is refused. An entry that cannot be opened is left to the operation to
    /// report.
    pub fn check_entry(&self, dir: &File, name: &OsStr, shown: &str) -> ApiResult<()> {
        match self.open_at(dir, name, OFlag::O_PATH | OFlag::O_NOFOLLOW, 0) {
            Ok(entry) => self.check(&entry, shown),
            Err(_) => Ok(()),
        }
    }

    /// Opens a regular file to read it (a FIFO, a device or a directory is refused, and opening
    /// never blocks), with its size.
    pub fn open_regular(&self, path: &Path, shown: &str) -> ApiResult<(File, u64)> {
        let file = self.open(path, OFlag::O_RDONLY | OFlag::O_NONBLOCK, shown)?;
        let len = regular(&file, shown)?;
        Ok((file, len))
    }

    /// The checked directory holding the last component of `path`, and that component. With
    /// `create`, missing directories on the way are made first (as the user, so they are the user's).
    pub fn parent(&self, path: &Path, create: bool, shown: &str) -> ApiResult<(File, OsString)> {
        let name = path
            .file_name()
            .ok_or_else(|| ApiError::invalid_path(shown, "it names no file"))?;
        let dir = parent_of(path);
        if create {
            // Nothing is made below a refused directory: the deepest existing one is checked first.
            if let Some(existing) = dir.ancestors().find(|d| d.exists()) {
                let _ = self.try_dir(existing, shown)?;
            }
            std::fs::create_dir_all(dir).map_err(|e| ApiError::from_io(&e, shown))?;
        }
        let dir = self
            .try_dir(dir, shown)?
            .map_err(|e| ApiError::from_io(&e, shown))?;
        Ok((dir, name.to_owned()))
    }
}

/// The directory part of `path` (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The size of `file`, refused unless it is a regular file.
pub fn regular(file: &File, shown: &str) -> ApiResult<u64> {
    let meta = file.metadata().map_err(|e| ApiError::from_io(&e, shown))?;
    if meta.is_dir() {
        return Err(ApiError::invalid_path(shown, "it is a directory"));
    }
    if !meta.is_file() {
        return Err(ApiError::invalid_path(shown, "it is not a regular file"));
    }
    Ok(meta.len())
}

/// `name` inside the open directory `dir`, as a path (through the descriptor's magic link, so the
/// directory cannot be swapped underneath).
pub fn at(dir: &File, name: &OsStr) -> PathBuf {
    fd_path(dir).join(name)
}

/// Device and inode of `meta`.
pub fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}
