//! The limits that keep user code below the agent: the user cgroups (pids, memory) every user process
//! is moved into, `RLIMIT_NPROC` where those do not exist (gVisor), and an open-file limit below the
//! agent's own. Applied in the child between fork and exec, before the user switch.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Largest `RLIMIT_NOFILE` of a user process; it is also at most half of the agent's hard limit.
const USER_NOFILE_CAP: u64 = 65_536;

/// What a child applies to itself before it becomes the sandbox user.
#[derive(Debug, Default)]
pub struct UserLimits {
    /// `cgroup.procs` of each user cgroup, opened by the agent (close-on-exec).
    cgroup_procs: Vec<OwnedFd>,
    nproc: Option<u64>,
    nofile: Option<u64>,
}

impl UserLimits {
    /// Opens the user cgroups under `cgroup_dir` (every subdirectory with a `cgroup.procs`), raises
    /// the agent's own open-file limit to its hard limit and derives the user's from it.
    pub fn open(cgroup_dir: Option<&Path>, nproc: Option<u64>) -> Self {
        let cgroup_procs = cgroup_dir.map(open_cgroups).unwrap_or_default();
        Self {
            cgroup_procs,
            nproc,
            nofile: raise_own_nofile().map(|hard| (hard / 2).clamp(1, USER_NOFILE_CAP)),
        }
    }

    /// How many user cgroups user processes join.
    pub fn cgroups(&self) -> usize {
        self.cgroup_procs.len()
    }

    /// Applies the limits to the calling process. Only async-signal-safe calls on memory prepared
    /// before the fork: it runs in `pre_exec`.
    pub fn apply(&self) -> std::io::Result<()> {
        for fd in &self.cgroup_procs {
            // SAFETY: write(2) on an open descriptor from a static buffer.
            if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        for (resource, limit) in [
            (libc::RLIMIT_NPROC, self.nproc),
            (libc::RLIMIT_NOFILE, self.nofile),
        ] {
            if let Some(limit) = limit {
                let rlim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                // SAFETY: setrlimit(2) with a valid pointer to a stack value.
                if unsafe { libc::setrlimit(resource, &rlim) } < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

fn open_cgroups(dir: &Path) -> Vec<OwnedFd> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "no user cgroups: user code shares the agent's limits");
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| Some(e.ok()?.path().join("cgroup.procs")))
        .filter(|p| p.exists())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| match std::fs::OpenOptions::new().write(true).open(&p) {
            Ok(f) => Some(OwnedFd::from(f)),
            Err(e) => {
                tracing::warn!(path = %p.display(), error = %e, "cannot open a user cgroup");
                None
            }
        })
        .collect()
}

/// Sets the agent's soft open-file limit to its hard limit; the hard limit.
fn raise_own_nofile() -> Option<u64> {
    let mut rlim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a stack value.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlim) < 0 {
            return None;
        }
        rlim.rlim_cur = rlim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rlim);
    }
    Some(rlim.rlim_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_cgroups_are_the_subdirectories_with_cgroup_procs() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["memory", "pids"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            std::fs::write(dir.path().join(sub).join("cgroup.procs"), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let limits = UserLimits::open(Some(dir.path()), None);
        assert_eq!(limits.cgroups(), 2);
        assert!(limits.nofile.is_some_and(|n| n <= USER_NOFILE_CAP));
        assert_eq!(
            UserLimits::open(Some(&dir.path().join("none")), None).cgroups(),
            0
        );
    }
}
