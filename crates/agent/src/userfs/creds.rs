//! Per-thread filesystem credentials: the calling thread takes the sandbox user's fsuid, fsgid and
//! groups for the life of a [`UserCreds`] guard, and gets its own back when the guard drops (also on
//! panic).
//!
//! `setuid` would change every thread of the agent, and glibc's `setgroups`/`setfsuid` wrappers
//! broadcast to all threads too. The raw syscalls act on the calling thread only. capabilities(7): while
//! the fsuid is non-zero the thread's effective set loses the filesystem capabilities (`CAP_CHOWN`,
//! `CAP_DAC_OVERRIDE`, `CAP_FOWNER`, …), and they come back with fsuid 0. So the kernel checks every
//! access as the user's, and what the thread creates belongs to the user.
//!
//! gVisor (runsc 20221219) has no `setfsuid`/`setfsgid` (ENOSYS). There the thread takes the user's
//! *effective* ids instead (raw `setresuid`/`setresgid`, real and saved ids left at root so it can
//! switch back). capabilities(7): an effective uid going from 0 to non-zero clears the effective
//! capability set and going back to 0 restores it from the permitted set, so the checks are the
//! same; and with its real and saved uid still 0, no user process may signal or trace the thread.

use std::io;
use std::sync::OnceLock;

use libc::{c_long, gid_t, uid_t};

/// The calling thread runs file operations as another user until this is dropped.
pub struct UserCreds {
    uid: uid_t,
    gid: gid_t,
    groups: Vec<gid_t>,
    ids: Ids,
}

/// Which of the thread's ids it switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ids {
    /// fsuid and fsgid (Linux).
    Filesystem,
    /// The effective uid and gid (kernels without `setfsuid`, e.g. gVisor's).
    Effective,
}

impl Ids {
    /// What this kernel offers, asked once.
    pub fn of_kernel() -> Self {
        static IDS: OnceLock<Ids> = OnceLock::new();
        *IDS.get_or_init(|| {
            // SAFETY: setfsuid(-1) changes nothing (an invalid id) and returns the current fsuid,
            // or fails with ENOSYS where the kernel lacks it.
            let rc = unsafe { libc::syscall(libc::SYS_setfsuid, uid_t::MAX) };
            if rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                Self::Effective
            } else {
                Self::Filesystem
            }
        })
    }

    fn set_uid(self, id: uid_t) -> io::Result<uid_t> {
        match self {
            Self::Filesystem => set_fs_id(libc::SYS_setfsuid, id),
            Self::Effective => set_effective_id(libc::SYS_geteuid, libc::SYS_setresuid, id),
        }
    }

    fn set_gid(self, id: gid_t) -> io::Result<gid_t> {
        match self {
            Self::Filesystem => set_fs_id(libc::SYS_setfsgid, id),
            Self::Effective => set_effective_id(libc::SYS_getegid, libc::SYS_setresgid, id),
        }
    }
}

fn raw(nr: c_long, arg: u32) -> u32 {
    // SAFETY: setfsuid/setfsgid take one integer and cannot fault. They return the previous id.
    let prev = unsafe { libc::syscall(nr, arg) };
    // The previous id is a 32-bit value on every Linux ABI with these syscalls.
    prev as u32
}

/// Sets the thread's fsuid (`SYS_setfsuid`) or fsgid (`SYS_setfsgid`) and returns the previous one.
/// The syscall reports no error: it returns the previous value either way, so a second call tells
/// whether the id took.
fn set_fs_id(nr: c_long, id: u32) -> io::Result<u32> {
    let prev = raw(nr, id);
    if raw(nr, id) == id {
        Ok(prev)
    } else {
        Err(io::Error::from_raw_os_error(libc::EPERM))
    }
}

/// Sets the thread's effective uid (`SYS_setresuid`) or gid (`SYS_setresgid`), leaving its real and
/// saved ids as they are; returns the previous effective id (`get`).
fn set_effective_id(get: c_long, set: c_long, id: u32) -> io::Result<u32> {
    // SAFETY: geteuid/getegid take nothing and cannot fail.
    let prev = unsafe { libc::syscall(get) } as u32;
    // SAFETY: three integer ids; u32::MAX (-1) leaves the real and saved ids unchanged.
    let rc = unsafe { libc::syscall(set, u32::MAX, id, u32::MAX) };
    if rc == 0 {
        Ok(prev)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn thread_groups() -> io::Result<Vec<gid_t>> {
    // SAFETY: size 0 asks for the count only; the second call gets a buffer of that many entries.
    let n = unsafe { libc::syscall(libc::SYS_getgroups, 0, std::ptr::null_mut::<gid_t>()) };
    let mut groups = vec![0; usize::try_from(n).map_err(|_| io::Error::last_os_error())?];
    // SAFETY: the buffer holds `n` gids.
    let got = unsafe { libc::syscall(libc::SYS_getgroups, n, groups.as_mut_ptr()) };
    groups.truncate(usize::try_from(got).map_err(|_| io::Error::last_os_error())?);
    Ok(groups)
}

fn set_thread_groups(groups: &[gid_t]) -> io::Result<()> {
    // SAFETY: the raw syscall (not glibc's all-threads wrapper) reads `len` gids from the slice.
    let rc = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl UserCreds {
    /// Switches the calling thread to `uid`:`gid` with `gid` as its only group (as user code runs).
    pub fn enter(uid: uid_t, gid: gid_t) -> io::Result<Self> {
        Self::enter_with(Ids::of_kernel(), uid, gid)
    }

    /// [`enter`](Self::enter) switching the given ids.
    pub fn enter_with(ids: Ids, uid: uid_t, gid: gid_t) -> io::Result<Self> {
        let groups = thread_groups()?;
        set_thread_groups(&[gid])?;
        let undo_groups = |e| {
            let _ = set_thread_groups(&groups);
            e
        };
        let prev_gid = ids.set_gid(gid).map_err(undo_groups)?;
        let prev_uid = ids.set_uid(uid).map_err(|e| {
            let _ = ids.set_gid(prev_gid);
            undo_groups(e)
        })?;
        Ok(Self {
            uid: prev_uid,
            gid: prev_gid,
            groups,
            ids,
        })
    }
}

impl Drop for UserCreds {
    fn drop(&mut self) {
        // The uid first: it gives the thread its capabilities back.
        let restored = self.ids.set_uid(self.uid).is_ok()
            && self.ids.set_gid(self.gid).is_ok()
            && set_thread_groups(&self.groups).is_ok();
        if !restored {
            // A pooled thread left with another user's credentials would do the agent's next work
            // with them: stop rather than go on in an unknown state.
            tracing::error!("could not restore a thread's credentials");
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    //! Needs root (as the agent's integration tests do): it switches to uid 1000.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    /// The `Uid:`/`Gid:` line of this thread: real, effective, saved and filesystem ids.
    fn ids(field: &str) -> Vec<u32> {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line[field.len()..]
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    }

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "key").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        dir
    }

    #[test]
    fn the_thread_acts_as_the_user_and_gets_its_own_credentials_back() {
        assert_eq!(ids("Uid:"), [0, 0, 0, 0], "run the agent's tests as root");
        let dir = private_dir();
        let secret = dir.path().join("secret");
        let mine = dir.path().join("mine");
        {
            let _user = UserCreds::enter(1000, 1000).unwrap();
            assert_eq!(ids("Uid:"), [0, 0, 0, 1000]);
            assert_eq!(ids("Gid:")[3], 1000);
            assert_eq!(ids("Groups:"), [1000]);
            let refused = std::fs::read(&secret).unwrap_err();
            assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied);
            std::fs::write(&mine, "x").unwrap();
            // A thread started now inherits the user's credentials (the file watcher relies on it).
            let child = std::thread::spawn({
                let secret = secret.clone();
                move || (ids("Uid:"), std::fs::read(secret).is_ok())
            });
            assert_eq!(child.join().unwrap(), (vec![0, 0, 0, 1000], false));
        }
        let meta = std::fs::metadata(&mine).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (1000, 1000),
            "created as the user"
        );
        assert_eq!(ids("Uid:"), [0, 0, 0, 0]);
        assert_eq!(ids("Gid:")[3], 0);
        assert_eq!(std::fs::read(&secret).unwrap(), b"key");
    }

    /// The fallback for kernels without setfsuid (gVisor), tried on this one.
    #[test]
    fn effective_ids_switch_the_thread_alike_and_come_back() {
        assert_eq!(Ids::of_kernel(), Ids::Filesystem, "Linux has setfsuid");
        let dir = private_dir();
        let secret = dir.path().join("secret");
        let mine = dir.path().join("mine");
        {
            let _user = UserCreds::enter_with(Ids::Effective, 1000, 1000).unwrap();
            assert_eq!(ids("Uid:"), [0, 1000, 0, 1000]);
            assert_eq!(ids("Gid:"), [0, 1000, 0, 1000]);
            assert_eq!(ids("Groups:"), [1000]);
            let refused = std::fs::read(&secret).unwrap_err();
            assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied);
            std::fs::write(&mine, "x").unwrap();
        }
        let meta = std::fs::metadata(&mine).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
        assert_eq!(ids("Uid:"), [0, 0, 0, 0]);
        assert_eq!(ids("Gid:"), [0, 0, 0, 0]);
        assert_eq!(std::fs::read(&secret).unwrap(), b"key");
    }

    #[test]
    fn other_threads_keep_the_agent_credentials() {
        let dir = private_dir();
        let secret = dir.path().join("secret");
        let (entered, leave) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        std::thread::scope(|s| {
            s.spawn(|| {
                let _user = UserCreds::enter(1000, 1000).unwrap();
                entered.wait();
                leave.wait();
            });
            entered.wait();
            assert_eq!(ids("Uid:"), [0, 0, 0, 0]);
            assert_eq!(std::fs::read(&secret).unwrap(), b"key");
            leave.wait();
        });
    }

    #[test]
    fn a_panic_restores_the_credentials() {
        let dir = private_dir();
        let secret = dir.path().join("secret");
        let caught = std::panic::catch_unwind(|| {
            let _user = UserCreds::enter(1000, 1000).unwrap();
            panic!("inside a file operation");
        });
        assert!(caught.is_err());
        assert_eq!(ids("Uid:"), [0, 0, 0, 0]);
        assert_eq!(std::fs::read(&secret).unwrap(), b"key");
    }
}
