//! Building and running the server: [`Application::build`] binds the listener (port 0 allowed) and
//! wires state; [`Application::run_until_stopped`] serves until SIGINT/SIGTERM.

use std::sync::Arc;

use anyhow::Context as _;
use runtime::SandboxRuntime;
use tokio::net::TcpListener;

use crate::app::reaper::Reaper;
use crate::config::{RuntimeKind, Settings};
use crate::state::{AppInner, AppState};
use crate::{db, http};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    background_tasks: bool,
}

/// The runtime `runtime.kind` names. Only `none` exists until the Docker backend lands.
pub fn runtime_from_settings(settings: &Settings) -> Option<Arc<dyn SandboxRuntime>> {
    match settings.runtime.kind {
        RuntimeKind::None => {
            tracing::warn!(
                "no sandbox runtime configured (runtime.kind = \"none\"): the API serves, but \
                 creating a sandbox answers 503 RUNTIME_UNAVAILABLE"
            );
            None
        }
    }
}

impl Application {
    pub async fn build(
        settings: Settings,
        runtime: Option<Arc<dyn SandboxRuntime>>,
    ) -> anyhow::Result<Self> {
        let pool = db::pool(&settings.database).context("invalid database settings")?;
        let addr = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {}:{}", addr.0, addr.1))?;
        let listen_port = listener.local_addr()?.port();
        let state = AppState(Arc::new(AppInner {
            pool,
            runtime,
            settings,
            listen_port,
        }));
        Ok(Self {
            listener,
            state,
            background_tasks: true,
        })
    }

    /// Leaves the reaper to the caller ([`Application::reaper`]), for deterministic tests.
    pub fn without_background_tasks(mut self) -> Self {
        self.background_tasks = false;
        self
    }

    pub fn port(&self) -> u16 {
        self.state.listen_port
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    pub fn reaper(&self) -> Reaper {
        Reaper::new(self.state.clone())
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let reaper = self
            .background_tasks
            .then(|| tokio::spawn(self.reaper().run_forever()));
        tracing::info!(port = self.port(), "warren control plane listening");
        let app = http::router(self.state);
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await;
        if let Some(reaper) = reaper {
            reaper.abort();
        }
        served
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
