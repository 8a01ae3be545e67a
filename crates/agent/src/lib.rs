//! `warren-agent`: the program that runs as PID 1 inside every Warren sandbox and serves the data-plane
//! API of `CONTRACT.md` §3 on port 7777: code execution (with a stateful Python kernel), commands,
//! files, environment, metrics, and WebSocket streams (execute/commands output, file watching, a PTY
//! terminal).
//!
//! It reaps every child, runs user code as an unprivileged user in its own process group, supervises
//! the image's start command, and verifies the sandbox's bearer tokens itself (`sandbox-token`).
//! Settings come from `WARREN_AGENT_*` variables (see [`config`] and `docs/agent.md`).

pub mod auth;
pub mod config;
pub mod desktop;
pub mod env;
pub mod error;
pub mod http;
pub mod kernel;
pub mod lang;
pub mod metrics;
pub mod procs;
pub mod run;
pub mod scratch;
pub mod scrub;
pub mod state;
pub mod supervisor;
pub mod userfs;
pub mod util;
pub mod viewer;
pub mod webhook;
pub mod ws;

use std::time::Duration;

use anyhow::Context as _;
use nix::sys::signal::Signal;
use sandbox_token::TokenKey;
use secrecy::ExposeSecret as _;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{AuthState, Identity};
use crate::config::Config;
use crate::procs::limits::UserLimits;
use crate::procs::spawn::Spawner;
use crate::state::AppState;

/// How long children get between SIGTERM and the agent's exit.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A bound, ready-to-run agent.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Prepares the workspace, the token identity and the listener. Must run inside the runtime.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let identity = match (&config.sandbox_id, &config.token_key) {
            (Some(id), Some(key)) => Some(Identity::new(
                id.clone(),
                TokenKey::from_hex(key.expose_secret())
                    .context("WARREN_AGENT_TOKEN_KEY is not 32 bytes of hex")?,
            )),
            (None, None) => None,
            _ => anyhow::bail!(
                "set both WARREN_AGENT_SANDBOX_ID and WARREN_AGENT_TOKEN_KEY, or neither"
            ),
        };
        if identity.is_none() && config.configure_secret.is_none() {
            anyhow::bail!(
                "no way to authenticate: set WARREN_AGENT_SANDBOX_ID + WARREN_AGENT_TOKEN_KEY \
                 or WARREN_AGENT_CONFIGURE_SECRET"
            );
        }
        // Orphans of user code are re-parented to the agent (as they are to PID 1 in a container).
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let limits = UserLimits::open(config.user_cgroup.as_deref(), config.user_nproc);
        tracing::info!(cgroups = limits.cgroups(), nproc = ?config.user_nproc, "user process limits");
        let spawner =
            Spawner::start(config.run_as, limits).context("install the SIGCHLD handler")?;
        let auth = AuthState::new(
            identity,
            config.configure_secret.clone(),
            config.max_token_lifetime,
        );
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("bind {}", config.listen))?;
        let state = AppState::new(config, auth, spawner);
        // Where a browser reaches the viewer, as the control plane said at create (a claimed pool
        // sandbox learns it at the configure step instead).
        if let Ok(desktop) = &state.desktop {
            desktop
                .vnc
                .set_link(state.config.viewer_base.clone(), state.config.preview_epoch);
        }
        for dir in [&state.config.workspace, &state.config.tmp_dir] {
            if !dir.exists() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("create {}", dir.display()))?;
                state.chown_to_user(dir);
            }
        }
        Ok(Self { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// Serves until SIGTERM/SIGINT, then stops the children and returns.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self { listener, state } = self;
        let (pid_tx, pid_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(supervisor::run_start_command(
            state.clone(),
            pid_tx,
            stop_rx.clone(),
        ));
        tokio::spawn(supervisor::run_ready_check(state.clone()));
        // Whoever creates a sandbox is about to run code in it: start the Python kernel now, beside
        // the start command, rather than on the first `run_code` (docs/agent.md, "Execution").
        let warming = state.clone();
        tokio::spawn(async move { warming.warm_kernel(Duration::ZERO).await });
        // The display stack starts with the sandbox, so the first screenshot does not wait for it.
        if let Ok(desktop) = &state.desktop {
            desktop.start();
            // The browser viewer (noVNC and its RFB bridge) on port 6080, stopped with the agent.
            let mut stopping = stop_rx.clone();
            let stop = async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            let limits = listener_limits(&state.config);
            tokio::spawn(viewer::serve(desktop.clone(), limits, stop));
        }
        tracing::info!(addr = %listener.local_addr()?, "warren-agent listening");

        let app = http::router(state.clone());
        let stop_pids = pid_rx.clone();
        let stop_state = state.clone();
        let shutdown = async move {
            let sig = supervisor::wait_for_stop(pid_rx).await;
            tracing::info!(signal = ?sig, "stopping");
            let _ = stop_tx.send(true);
            if let Ok(desktop) = &stop_state.desktop {
                desktop.stop();
            }
            let start_pid = *stop_pids.borrow();
            supervisor::stop_children(&stop_state, start_pid, Signal::SIGTERM);
        };
        // `listener::serve` sets TCP_NODELAY: every WebSocket frame leaves in its own segment
        // (CONTRACT.md addendum).
        let limits = listener_limits(&state.config);
        listener::serve(listener, limits, |_| app.clone(), shutdown)
            .await
            .context("serve")?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while tokio::time::Instant::now() < deadline && any_running(&state) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        supervisor::stop_children(&state, None, Signal::SIGKILL);
        Ok(())
    }
}

/// The listener's timeouts and caps, from the settings.
fn listener_limits(config: &Config) -> listener::Limits {
    let body = api_types::error::AgentErrorBody {
        error: "Too many open connections; try again later".into(),
        message: "Too many open connections; try again later".into(),
        code: "SERVICE_UNAVAILABLE".into(),
        details: Default::default(),
        path: None,
        request_id: None,
        timestamp: util::now_ts(),
    };
    listener::Limits {
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections,
        refusal: listener::refusal(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::to_vec(&body).unwrap_or_default(),
        ),
    }
}

fn any_running(state: &AppState) -> bool {
    state.kernel.pid().is_some()
        || state
            .background
            .list()
            .iter()
            .any(|p| p.status == api_types::agent::ProcessStatus::Running)
}
