//! The stateful Python kernel: one long-lived `python3` per sandbox running `driver.py`, spoken to
//! with one JSON line per request over pipes. Started when the agent starts (else on first use),
//! restarted when it dies, interrupted (then killed) on timeout.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::{Mutex, oneshot};

use crate::procs::spawn::{SpawnSpec, Spawner, Stdio3, signal_group};

const DRIVER: &str = include_str!("driver.py");
/// How long an interrupted run may take to unwind before the kernel is killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// One run sent to the kernel.
#[derive(Debug, Serialize)]
pub struct KernelRequest<'a> {
    pub code: &'a str,
    pub env: &'a BTreeMap<String, String>,
    pub cwd: &'a str,
    pub limit: usize,
}

/// The kernel's answer.
#[derive(Debug, Default, Deserialize)]
pub struct KernelReply {
    pub success: bool,
    pub exit_code: i32,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub truncated: bool,
    pub error: Option<String>,
    pub result: Option<String>,
    pub png: Option<String>,
    pub html: Option<String>,
    pub json: Option<Value>,
    pub dataframe: Option<Value>,
    /// Set by the agent when the run hit its timeout.
    #[serde(skip)]
    pub timed_out: bool,
}

struct Proc {
    pid: u32,
    stdin: pipe::Sender,
    stdout: BufReader<pipe::Receiver>,
    exit: oneshot::Receiver<i32>,
}

/// What `/jupyter/sessions` reports.
pub struct SessionInfo {
    pub kernel_id: String,
    pub busy: bool,
    pub last_activity: Option<String>,
    pub pid: Option<u32>,
}

/// The sandbox's Python kernel.
pub struct Kernel {
    spawner: Spawner,
    python: PathBuf,
    id: String,
    proc: Mutex<Option<Proc>>,
    last_activity: std::sync::Mutex<Option<String>>,
}

impl Kernel {
    pub fn new(spawner: Spawner, python: PathBuf) -> Self {
        Self {
            spawner,
            python,
            id: crate::util::new_id("kernel"),
            proc: Mutex::new(None),
            last_activity: std::sync::Mutex::new(None),
        }
    }

    fn start(&self, env: &BTreeMap<String, String>, cwd: &str) -> std::io::Result<Proc> {
        let spawned = self.spawner.spawn(SpawnSpec {
            program: self.python.display().to_string(),
            args: vec!["-u".into(), "-c".into(), DRIVER.into()],
            env: env.clone(),
            cwd: cwd.into(),
            stdio: Stdio3::Interactive,
        })?;
        if let Some(mut stderr) = spawned.stderr {
            // Only the driver's own failures land here; keep the pipe drained.
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let _ = stderr.read_to_end(&mut buf).await;
                if !buf.is_empty() {
                    tracing::warn!(stderr = %String::from_utf8_lossy(&buf), "python kernel exited");
                }
            });
        }
        tracing::info!(pid = spawned.pid, "python kernel started");
        Ok(Proc {
            pid: spawned.pid,
            stdin: spawned
                .stdin
                .ok_or_else(|| std::io::Error::other("no stdin"))?,
            stdout: BufReader::new(
                spawned
                    .stdout
                    .ok_or_else(|| std::io::Error::other("no stdout"))?,
            ),
            exit: spawned.exit,
        })
    }

    /// Starts the kernel now unless it runs already (a kernel that exits within `grace` counts as
    /// not running); each request brings its own environment and working directory, so these only
    /// matter to the interpreter's start. Returns whether it started one.
    pub async fn prestart(
        &self,
        env: &BTreeMap<String, String>,
        cwd: &str,
        grace: Duration,
    ) -> std::io::Result<bool> {
        let mut guard = self.proc.lock().await;
        if let Some(p) = guard.as_mut()
            && tokio::time::timeout(grace, &mut p.exit).await.is_ok()
        {
            *guard = None;
        }
        if guard.is_some() {
            return Ok(false);
        }
        *guard = Some(self.start(env, cwd)?);
        Ok(true)
    }

    /// Runs `req`, starting the kernel first if needed. Errors only when the kernel cannot start.
    pub async fn execute(
        &self,
        req: &KernelRequest<'_>,
        timeout: Duration,
    ) -> std::io::Result<KernelReply> {
        let mut guard = self.proc.lock().await;
        if let Some(p) = guard.as_mut()
            && p.exit.try_recv() != Err(oneshot::error::TryRecvError::Empty)
        {
            *guard = None;
        }
        let proc = match guard.as_mut() {
            Some(p) => p,
            None => guard.insert(self.start(req.env, req.cwd)?),
        };
        *self.last_activity.lock().unwrap_or_else(|e| e.into_inner()) = Some(crate::util::now_ts());
        let started = Instant::now();
        let outcome = run_once(proc, req, timeout).await;
        let reply = match outcome {
            Ok(reply) => reply,
            Err(dead) => {
                signal_group(proc.pid, Signal::SIGKILL);
                *guard = None;
                KernelReply {
                    success: false,
                    exit_code: 137,
                    error: Some(dead.into()),
                    timed_out: started.elapsed() >= timeout,
                    ..KernelReply::default()
                }
            }
        };
        Ok(reply)
    }

    pub async fn session(&self) -> SessionInfo {
        let (busy, pid) = match self.proc.try_lock() {
            Ok(g) => (false, g.as_ref().map(|p| p.pid)),
            Err(_) => (true, None),
        };
        SessionInfo {
            kernel_id: self.id.clone(),
            busy,
            last_activity: self
                .last_activity
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            pid,
        }
    }

    /// Pid of the running kernel, if started.
    pub fn pid(&self) -> Option<u32> {
        self.proc
            .try_lock()
            .ok()
            .and_then(|g| g.as_ref().map(|p| p.pid))
    }
}

/// One request/reply round trip. `Err` means the kernel must be killed and restarted.
async fn run_once(
    proc: &mut Proc,
    req: &KernelRequest<'_>,
    timeout: Duration,
) -> Result<KernelReply, &'static str> {
    let mut line = serde_json::to_vec(req).map_err(|_| "request encoding failed")?;
    line.push(b'\n');
    proc.stdin
        .write_all(&line)
        .await
        .map_err(|_| "python kernel died")?;
    let mut answer = String::new();
    let read = proc.stdout.read_line(&mut answer);
    tokio::pin!(read);
    let mut timed_out = false;
    let n = tokio::select! {
        r = &mut read => r,
        () = tokio::time::sleep(timeout) => {
            timed_out = true;
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(proc.pid as i32),
                Signal::SIGINT,
            );
            match tokio::time::timeout(INTERRUPT_GRACE, &mut read).await {
                Ok(r) => r,
                Err(_) => return Err("execution timed out; the python kernel was restarted"),
            }
        }
    };
    match n {
        Ok(0) | Err(_) => Err("python kernel died"),
        Ok(_) => {
            let mut reply: KernelReply =
                serde_json::from_str(&answer).map_err(|_| "python kernel sent garbage")?;
            reply.timed_out = timed_out;
            Ok(reply)
        }
    }
}
