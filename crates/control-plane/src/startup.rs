//! Building and running the server: [`Application::build`] binds the listener (port 0 allowed) and
//! wires state; [`Application::run_until_stopped`] serves until SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use runtime::{RuntimeError, SandboxRuntime};
use runtime_docker::DockerRuntime;
use tokio::net::TcpListener;

use crate::app::capacity::Capacity;
use crate::app::lazy_docker::LazyDocker;
use crate::app::leader;
use crate::app::pool::PoolRefill;
use crate::app::reaper::Reaper;
use crate::app::reconcile::Reconciler;
use crate::auth_cache::AuthCache;
use crate::config::{RuntimeKind, Settings};
use crate::db;
use crate::router::routes::Routes;
use crate::state::{AppInner, AppState};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    background_tasks: bool,
}

/// The runtime `runtime.kind` names. With `docker`, an engine that does not answer does not stop
/// the server: it serves, and runtime calls answer 503 `RUNTIME_UNAVAILABLE` until the engine is back
/// ([`LazyDocker`]). Any other failure to prepare the backend (say, no agent binary) stops startup.
pub async fn runtime_from_settings(
    settings: &Settings,
) -> anyhow::Result<Option<Arc<dyn SandboxRuntime>>> {
    match settings.runtime.kind {
        RuntimeKind::None => {
            tracing::warn!(
                "no sandbox runtime configured (runtime.kind = \"none\"): the API serves, but \
                 creating a sandbox answers 503 RUNTIME_UNAVAILABLE"
            );
            Ok(None)
        }
        RuntimeKind::Docker => match DockerRuntime::connect(&settings.docker).await {
            Ok(docker) => Ok(Some(Arc::new(docker))),
            Err(RuntimeError::Unavailable(e)) => {
                tracing::warn!(
                    docker.socket = %settings.docker.socket,
                    error.chain = %crate::error::chain(e.as_ref()),
                    "the Docker engine does not answer; serving anyway (sandbox operations answer \
                     503 RUNTIME_UNAVAILABLE until it does)"
                );
                Ok(Some(Arc::new(LazyDocker::new(settings.docker.clone()))))
            }
            Err(e) => Err(anyhow::Error::new(e).context("cannot prepare the Docker runtime")),
        },
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
        let pool_for_routes = pool.clone();
        let route_ttl = Duration::from_secs(u64::from(settings.router.cache_ttl_seconds));
        let max_token_lifetime = i64::from(settings.sandboxes.max_token_lifetime_seconds);
        let state = AppState(Arc::new(AppInner {
            pool,
            runtime,
            capacity: Capacity::from_settings(&settings.capacity, disk_pool(&settings)),
            builds: crate::templates::Builds::new(&settings),
            auth_cache: Arc::new(AuthCache::new(pool_for_routes.clone(), &settings.limits)),
            settings,
            listen_port,
            in_flight: Default::default(),
            leader: Default::default(),
            metrics: Default::default(),
            routes: Arc::new(Routes::new(pool_for_routes, route_ttl, max_token_lifetime)),
        }));
        Ok(Self {
            listener,
            state,
            background_tasks: true,
        })
    }

    /// Leaves the reaper, the reconciler and the pool refill to the caller ([`Application::reaper`],
    /// [`Application::reconciler`], [`Application::pool_refill`]), for deterministic tests.
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

    pub fn reconciler(&self) -> Reconciler {
        Reconciler::new(self.state.clone())
    }

    pub fn pool_refill(&self) -> PoolRefill {
        PoolRefill::new(self.state.clone())
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let reaper = self
            .background_tasks
            .then(|| tokio::spawn(self.reaper().run_forever()));
        // Aborted when this future ends or is dropped: leadership must not outlive the server.
        let _leader = (self.background_tasks && self.state.runtime.is_some())
            .then(|| AbortOnDrop(tokio::spawn(leader::run_forever(self.state.clone()))));
        tracing::info!(port = self.port(), "warren control plane listening");
        let _auth_listener = AbortOnDrop(tokio::spawn(crate::db::notify::follow(
            self.state.pool.clone(),
            self.state.auth_cache.clone(),
        )));
        let runtime = self.state.runtime.clone();
        let limits = listener_limits(&self.state.settings);
        let (service, route_listener) = crate::router::service(self.state);
        let _route_listener = route_listener.map(AbortOnDrop);
        let served = listener::serve(
            self.listener,
            limits,
            |peer| service.dispatch(peer),
            shutdown_signal(),
        )
        .await;
        if let Some(reaper) = reaper {
            reaper.abort();
        }
        if let Some(runtime) = runtime {
            runtime.shutdown().await;
        }
        served
    }
}

/// The timeouts and caps of the one listener (API and router), from `[server]`.
fn listener_limits(settings: &Settings) -> listener::Limits {
    let s = &settings.server;
    let body = api_types::error::ControlErrorBody::new(
        "SERVICE_UNAVAILABLE",
        "Too many open connections; try again later",
        "",
        serde_json::Map::new(),
    );
    listener::Limits {
        header_read_timeout: Duration::from_secs(s.header_read_timeout_seconds.into()),
        idle_timeout: Duration::from_secs(s.idle_timeout_seconds.into()),
        max_connections: s.max_connections as usize,
        refusal: listener::refusal(
            http::StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::to_vec(&body).unwrap_or_default(),
        ),
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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

/// The runtime's sandbox disk, whose size sets the default disk capacity: Docker's
/// `sandbox_disk_dir`; none for other runtimes.
fn disk_pool(settings: &Settings) -> Option<&std::path::Path> {
    match settings.runtime.kind {
        RuntimeKind::Docker => settings.docker.sandbox_disk_dir.as_deref(),
        RuntimeKind::None => None,
    }
}
