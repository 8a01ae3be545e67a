//! Starting user processes and reaping every child, PID 1 style.
//!
//! The agent never uses `tokio::process`: one reaper task answers `SIGCHLD` with `waitpid(-1)`, hands the
//! status of known children to their waiters and silently reaps orphans re-parented to PID 1. Spawning
//! and reaping share one lock, so a child that dies at once is never reaped before it is registered.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::sync::oneshot;

use super::limits::UserLimits;

/// How a child's standard streams are wired.
pub enum Stdio3 {
    /// stdin from /dev/null, stdout and stderr piped to the agent.
    Piped,
    /// stdin, stdout and stderr all piped (the Python kernel).
    Interactive,
    /// All three on this PTY slave, which becomes the controlling terminal.
    Pty(OwnedFd),
}

/// What to start.
pub struct SpawnSpec {
    pub program: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub stdio: Stdio3,
}

/// A started child. Its exit code (128+signal when killed) arrives on `exit`.
pub struct Spawned {
    pub pid: u32,
    pub stdin: Option<pipe::Sender>,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
    pub exit: oneshot::Receiver<i32>,
}

/// Starts children as the sandbox user and reaps all of them.
#[derive(Clone)]
pub struct Spawner {
    waiters: Arc<Mutex<HashMap<i32, oneshot::Sender<i32>>>>,
    run_as: Option<(u32, u32)>,
    limits: Arc<UserLimits>,
}

impl Spawner {
    /// Creates the spawner and its reaper task. Must be called inside the runtime, before any spawn.
    pub fn start(run_as: Option<(u32, u32)>, limits: UserLimits) -> std::io::Result<Self> {
        let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
        let this = Self {
            waiters: Arc::default(),
            run_as,
            limits: Arc::new(limits),
        };
        let reaper = this.clone();
        tokio::spawn(async move {
            loop {
                reaper.reap();
                if sigchld.recv().await.is_none() {
                    break;
                }
            }
        });
        Ok(this)
    }

    /// The uid:gid user code runs as, if the agent switches user.
    pub fn run_as(&self) -> Option<(u32, u32)> {
        self.run_as
    }

    fn reap(&self) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (pid, code) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, code),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, 128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            if let Some(tx) = waiters.remove(&pid.as_raw()) {
                let _ = tx.send(code);
            } else {
                tracing::debug!(pid = pid.as_raw(), code, "reaped orphan");
            }
        }
    }

    /// Starts `spec` in a new session (its own process group) as the sandbox user.
    pub fn spawn(&self, spec: SpawnSpec) -> std::io::Result<Spawned> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .env_clear()
            .envs(&spec.env)
            .current_dir(&spec.cwd);
        let run_as = self.run_as;
        let limits = self.limits.clone();
        let pty = matches!(spec.stdio, Stdio3::Pty(_));
        match spec.stdio {
            Stdio3::Piped => {
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
            }
            Stdio3::Interactive => {
                cmd.stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
            }
            Stdio3::Pty(slave) => {
                cmd.stdin(Stdio::from(slave.try_clone()?))
                    .stdout(Stdio::from(slave.try_clone()?))
                    .stderr(Stdio::from(slave));
            }
        }
        // SAFETY: the closure only calls async-signal-safe libc functions (setsid, ioctl, open, write,
        // close, setrlimit, setgroups, setgid, setuid) on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if pty && libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Under memory pressure the kernel kills user code, never the agent. Written before
                // the user switch: afterwards the process is no longer dumpable and its /proc files
                // belong to root, so the write would fail.
                let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
                if fd >= 0 {
                    libc::write(fd, b"1000".as_ptr().cast(), 4);
                    libc::close(fd);
                }
                // Into the user cgroups and under the user's rlimits, while still root.
                limits.apply()?;
                // An empty bounding set: nothing user code execs can gain a capability (on top of
                // no-new-privileges). Needs CAP_SETPCAP; without it (an agent outside a sandbox,
                // not root) the set stays as it is.
                if run_as.is_some() {
                    for cap in 0..64 {
                        libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
                    }
                }
                if let Some((uid, gid)) = run_as
                    && (libc::setgroups(1, &gid) < 0
                        || libc::setgid(gid) < 0
                        || libc::setuid(uid) < 0)
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let mut child = cmd.spawn()?;
        let (tx, exit) = oneshot::channel();
        waiters.insert(child.id() as i32, tx);
        drop(waiters);
        let stdin = child
            .stdin
            .take()
            .map(|s| pipe::Sender::from_owned_fd(OwnedFd::from(s)))
            .transpose()?;
        let stdout = child
            .stdout
            .take()
            .map(|s| pipe::Receiver::from_owned_fd(OwnedFd::from(s)))
            .transpose()?;
        let stderr = child
            .stderr
            .take()
            .map(|s| pipe::Receiver::from_owned_fd(OwnedFd::from(s)))
            .transpose()?;
        Ok(Spawned {
            pid: child.id(),
            stdin,
            stdout,
            stderr,
            exit,
        })
    }

    /// Kills what is left of the session of the finished child `pid` (it led the session), unless
    /// `pid` names a child started since (its number reused). Returns how many were killed.
    pub async fn kill_leftovers(&self, pid: u32) -> usize {
        let sid = pid as i32;
        if self
            .waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&sid)
        {
            return 0;
        }
        tokio::task::spawn_blocking(move || super::session::kill_session(sid))
            .await
            .unwrap_or(0)
    }
}

/// Sends `signal` to the whole process group led by `pid` (every child is a session leader).
pub fn signal_group(pid: u32, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::killpg(Pid::from_raw(pid as i32), signal);
}
