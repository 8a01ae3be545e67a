//! The supervised display programs (Xvfb, the window manager, x11vnc): each runs while it is wanted,
//! is restarted with backoff when it exits, and can be restarted with new arguments (a new resolution,
//! a new VNC password). What they print and what the supervisor does goes to the [`Logs`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use crate::exec::Exec;
use crate::logs::Logs;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A program that ran this long before it exited is restarted without waiting.
const STABLE: Duration = Duration::from_secs(10);

/// What one program should run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// A supervised program, as `GET /desktop/debug/processes` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceStatus {
    pub name: &'static str,
    pub command: String,
    pub pid: Option<u32>,
    pub running: bool,
    pub restarts: u32,
}

#[derive(Default)]
struct Live {
    pid: Option<u32>,
    restarts: u32,
    command: String,
}

struct Service {
    /// `Some(spec)`: wanted, with this spec; `None`: stopped.
    want: watch::Sender<Option<Spec>>,
    live: Arc<Mutex<Live>>,
}

/// The programs of the display stack.
pub struct Stack {
    exec: Arc<dyn Exec>,
    logs: Logs,
    services: Mutex<BTreeMap<&'static str, Service>>,
}

impl Stack {
    pub fn new(exec: Arc<dyn Exec>, logs: Logs) -> Self {
        Self {
            exec,
            logs,
            services: Mutex::default(),
        }
    }

    /// Runs `name` as `spec`: started if it is not running, restarted if it runs with another spec,
    /// left alone if it runs as `spec`.
    pub fn run(&self, name: &'static str, spec: Spec) {
        let mut services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = services.get(name) {
            s.want.send_if_modified(|w| {
                let changed = w.as_ref() != Some(&spec);
                if changed {
                    *w = Some(spec);
                }
                changed
            });
            return;
        }
        let (want, rx) = watch::channel(Some(spec));
        let live = Arc::new(Mutex::new(Live::default()));
        tokio::spawn(supervise(
            name,
            self.exec.clone(),
            self.logs.clone(),
            rx,
            live.clone(),
        ));
        services.insert(name, Service { want, live });
    }

    /// Starts `name` now if it waits out a restart backoff (its display came back on purpose);
    /// nothing when it runs.
    pub fn kick(&self, name: &'static str) {
        let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = services.get(name) {
            s.want.send_modify(|_| {});
        }
    }

    /// Stops `name` (SIGTERM) and keeps it stopped until the next [`Stack::run`].
    pub fn stop(&self, name: &'static str) {
        let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = services.get(name) {
            s.want.send_if_modified(|w| w.take().is_some());
        }
    }

    /// Stops every program.
    pub fn stop_all(&self) {
        let names: Vec<&'static str> = {
            let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
            services.keys().copied().collect()
        };
        for name in names {
            self.stop(name);
        }
    }

    /// The spec `name` is wanted with, if it is wanted.
    pub fn wanted(&self, name: &str) -> Option<Spec> {
        let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        services.get(name).and_then(|s| s.want.borrow().clone())
    }

    /// The pid of `name` while it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        services
            .get(name)
            .and_then(|s| s.live.lock().unwrap_or_else(|e| e.into_inner()).pid)
    }

    /// Every program the stack has run.
    pub fn statuses(&self) -> Vec<ServiceStatus> {
        let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
        services
            .iter()
            .map(|(name, s)| {
                let live = s.live.lock().unwrap_or_else(|e| e.into_inner());
                ServiceStatus {
                    name,
                    command: live.command.clone(),
                    pid: live.pid,
                    running: live.pid.is_some(),
                    restarts: live.restarts,
                }
            })
            .collect()
    }
}

/// Runs one program for as long as it is wanted.
async fn supervise(
    name: &'static str,
    exec: Arc<dyn Exec>,
    logs: Logs,
    mut want: watch::Receiver<Option<Spec>>,
    live: Arc<Mutex<Live>>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut runs = 0u32;
    loop {
        let spec = want.borrow_and_update().clone();
        let Some(spec) = spec else {
            // Stopped: wait to be wanted again; the stack gone means the agent is stopping.
            if want.changed().await.is_err() {
                return;
            }
            continue;
        };
        let command = std::iter::once(spec.program.as_str())
            .chain(spec.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let started = match exec.start(&spec.program, &spec.args, &spec.env) {
            Ok(s) => s,
            Err(e) => {
                logs.push(
                    "supervisor",
                    &format!("{name}: cannot start {command}: {e}"),
                );
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    r = want.changed() => if r.is_err() { return },
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let pid = started.pid;
        {
            let mut l = live.lock().unwrap_or_else(|e| e.into_inner());
            l.pid = Some(pid);
            l.command = command.clone();
            if runs > 0 {
                l.restarts += 1;
            }
        }
        runs += 1;
        logs.push(
            "supervisor",
            &format!("{name}: started (pid {pid}): {command}"),
        );
        logs.follow(name, started.stdout);
        logs.follow(name, started.stderr);
        let since = Instant::now();
        let mut exit = started.exit;
        // Until it exits, or is no longer wanted as it runs.
        let code = loop {
            tokio::select! {
                code = &mut exit => break code.unwrap_or(-1),
                r = want.changed() => {
                    if r.is_err() || want.borrow().as_ref() != Some(&spec) {
                        exec.signal(pid, libc_sigterm());
                        let code = match tokio::time::timeout(Duration::from_secs(2), &mut exit).await {
                            Ok(code) => code.unwrap_or(-1),
                            Err(_) => {
                                exec.signal(pid, libc_sigkill());
                                (&mut exit).await.unwrap_or(-1)
                            }
                        };
                        break code;
                    }
                }
            }
        };
        live.lock().unwrap_or_else(|e| e.into_inner()).pid = None;
        let wanted_still = want.borrow().as_ref() == Some(&spec);
        logs.push(
            "supervisor",
            &format!(
                "{name}: pid {pid} exited with code {code}{}",
                if wanted_still { "; restarting" } else { "" }
            ),
        );
        if !wanted_still {
            backoff = FIRST_BACKOFF;
            continue;
        }
        if since.elapsed() > STABLE {
            backoff = FIRST_BACKOFF;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            r = want.changed() => if r.is_err() { return },
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

const fn libc_sigterm() -> i32 {
    15
}

const fn libc_sigkill() -> i32 {
    9
}
