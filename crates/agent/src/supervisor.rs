//! PID 1 duties beyond reaping: the image's start command as a supervised child (restarted with
//! backoff; its exit never ends the sandbox), the template's ready check, and signal handling.

use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::config::ReadyCheck;
use crate::procs::capture::{Leftovers, supervise};
use crate::procs::spawn::{SpawnSpec, Stdio3, signal_group};
use crate::state::AppState;

const READY_POLL: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Runs the start command until shutdown, restarting it when it exits. Publishes its pid on `pid_tx`.
pub async fn run_start_command(
    state: AppState,
    pid_tx: watch::Sender<Option<u32>>,
    mut stopping: watch::Receiver<bool>,
) {
    let Some((program, args)) = state.config.start_command.split_first() else {
        return;
    };
    let mut backoff = Duration::from_millis(500);
    loop {
        let cwd = state.config.workspace.clone();
        let spec = SpawnSpec {
            program: program.clone(),
            args: args.to_vec(),
            env: state.env.child_env(&state.config.base_env, None, &cwd),
            cwd,
            stdio: Stdio3::Piped,
        };
        match state.spawner.spawn(spec) {
            Ok(child) => {
                tracing::info!(pid = child.pid, command = %program, "start command running");
                let _ = pid_tx.send(Some(child.pid));
                state.start_pid.store(child.pid, Ordering::Relaxed);
                let started = std::time::Instant::now();
                // Output is kept only as far as the log needs it.
                let out = supervise(
                    child,
                    64 * 1024,
                    Duration::from_secs(u64::MAX / 4),
                    None,
                    Leftovers::Keep,
                )
                .await;
                let _ = pid_tx.send(None);
                state.start_pid.store(0, Ordering::Relaxed);
                tracing::warn!(code = out.exit_code, stderr = %out.stderr.trim_end(), "start command exited");
                if started.elapsed() > MAX_BACKOFF {
                    backoff = Duration::from_millis(500);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, command = %program, "start command failed to start")
            }
        }
        if *stopping.borrow() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stopping.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn check_once(state: &AppState, check: &ReadyCheck) -> bool {
    match check {
        ReadyCheck::Port(port) => tokio::net::TcpStream::connect(("127.0.0.1", *port))
            .await
            .is_ok(),
        ReadyCheck::File(path) => tokio::fs::metadata(path).await.is_ok(),
        ReadyCheck::Process(name) => {
            let name = name.clone();
            tokio::task::spawn_blocking(move || {
                crate::procs::system::list()
                    .iter()
                    .any(|p| p.name == name || p.command.contains(&name))
            })
            .await
            .unwrap_or(false)
        }
        ReadyCheck::Command(cmd) => {
            let cwd = state.config.workspace.clone();
            let spec = SpawnSpec {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), cmd.clone()],
                env: state.env.child_env(&state.config.base_env, None, &cwd),
                cwd,
                stdio: Stdio3::Piped,
            };
            match state.spawner.spawn(spec) {
                Ok(child) => supervise(
                    child,
                    4096,
                    Duration::from_secs(10),
                    None,
                    Leftovers::Kill(state.spawner.clone()),
                )
                .await
                .success(),
                Err(_) => false,
            }
        }
    }
}

/// Polls the ready check until it passes, then marks the agent healthy.
pub async fn run_ready_check(state: AppState) {
    let Some(check) = state.config.ready_check.clone() else {
        return;
    };
    while !check_once(&state, &check).await {
        tokio::time::sleep(READY_POLL).await;
    }
    tracing::info!(check = ?check, "ready check passed");
    state.ready.store(true, Ordering::Relaxed);
}

/// Resolves on SIGTERM or SIGINT; forwards SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the start command.
pub async fn wait_for_stop(start_pid: watch::Receiver<Option<u32>>) -> std::io::Result<Signal> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut quit = signal(SignalKind::quit())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    loop {
        let forward = tokio::select! {
            _ = term.recv() => return Ok(Signal::SIGTERM),
            _ = int.recv() => return Ok(Signal::SIGINT),
            _ = hup.recv() => Signal::SIGHUP,
            _ = quit.recv() => Signal::SIGQUIT,
            _ = usr1.recv() => Signal::SIGUSR1,
            _ = usr2.recv() => Signal::SIGUSR2,
        };
        if let Some(pid) = *start_pid.borrow() {
            signal_group(pid, forward);
        }
    }
}

/// Asks every process the agent started to stop.
pub fn stop_children(state: &AppState, start_pid: Option<u32>, signal: Signal) {
    if let Some(pid) = start_pid {
        signal_group(pid, signal);
    }
    if let Some(pid) = state.kernel.pid() {
        signal_group(pid, signal);
    }
    for p in state.background.list() {
        if p.status == api_types::agent::ProcessStatus::Running {
            signal_group(p.pid, signal);
        }
    }
}
