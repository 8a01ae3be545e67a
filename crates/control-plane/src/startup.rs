//! Building and running the server: [`Application::build`] binds the listener (port 0 allowed) and
//! wires state; [`Application::run_until_stopped`] serves until SIGINT/SIGTERM. The runtime is the
//! caller's (the `warren` binary picks the backend), so this crate links none.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use router::routes::Routes;
use router::{MakeDispatch, Proxy};
use runtime::SandboxRuntime;
use scheduler::capacity::Capacity;
use scheduler::leader;
use scheduler::pool::PoolRefill;
use scheduler::reaper::Reaper;
use scheduler::reconcile::Reconciler;
use scheduler::{Parts, Scheduler};
use settings::{RouterMode, RuntimeKind, Settings};
use template_builder::Builds;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::auth_cache::AuthCache;
use crate::http;
use crate::metrics::Metrics;
use crate::state::{AppInner, AppState};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    background_tasks: bool,
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
        let route_ttl = Duration::from_secs(u64::from(settings.router.cache_ttl_seconds));
        let max_token_lifetime = i64::from(settings.sandboxes.max_token_lifetime_seconds);
        let routes = Arc::new(Routes::new(pool.clone(), route_ttl, max_token_lifetime));
        let auth_cache = Arc::new(AuthCache::new(pool.clone(), &settings.limits));
        let builds = Builds::new(&settings, runtime.as_ref().and_then(|r| r.images()));
        let scheduler = Scheduler(Arc::new(Parts {
            pool,
            runtime,
            capacity: Capacity::from_settings(&settings.capacity, disk_pool(&settings)),
            settings,
            listen_port,
            in_flight: Default::default(),
            leader: Default::default(),
            metrics: Default::default(),
            routes,
            activity: Default::default(),
        }));
        let state = AppState(Arc::new(AppInner {
            builds,
            auth_cache,
            metrics: Metrics::new(&scheduler.metrics),
            scheduler,
        }));
        Ok(Self {
            listener,
            state,
            background_tasks: true,
        })
    }

    /// Leaves the reaper, the reconciler, the pool refill and the template housekeeping to the
    /// caller ([`Application::reaper`], [`Application::reconciler`], [`Application::pool_refill`],
    /// `state().builds.housekeep`), for deterministic tests. Accepted template builds still run.
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
        Reaper::new(self.state.scheduler.clone())
    }

    pub fn reconciler(&self) -> Reconciler {
        Reconciler::new(self.state.scheduler.clone())
    }

    pub fn pool_refill(&self) -> PoolRefill {
        PoolRefill::new(self.state.scheduler.clone())
    }

    /// The leader's template housekeeping (builds whose lease expired, unused uploads).
    fn template_housekeeping(&self) -> leader::LeaderTask {
        let builds = self.state.builds.clone();
        let pool = self.state.pool.clone();
        (
            "template housekeeping",
            Box::new(move || Box::pin(builds.clone().housekeeping_forever(pool.clone()))),
        )
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let reaper = self
            .background_tasks
            .then(|| tokio::spawn(self.reaper().run_forever()));
        // Aborted when this future ends or is dropped: leadership must not outlive the server.
        let _leader = (self.background_tasks && self.state.runtime.is_some()).then(|| {
            AbortOnDrop(tokio::spawn(leader::run_forever(
                self.state.scheduler.clone(),
                vec![self.template_housekeeping()],
            )))
        });
        // The builds this replica accepts run here, with or without the other background tasks,
        // and stop with the server (their leases then expire).
        let builds = self.state.builds.clone().work(self.state.pool.clone());
        let _builds = AbortOnDrop(tokio::spawn(
            builds.instrument(tracing::info_span!("template_builds")),
        ));
        tracing::info!(port = self.port(), "warren control plane listening");
        let _auth_listener = AbortOnDrop(tokio::spawn(db::notify::follow(
            self.state.pool.clone(),
            self.state.auth_cache.clone(),
        )));
        let _activity = AbortOnDrop(tokio::spawn({
            let (activity, pool) = (self.state.activity.clone(), self.state.pool.clone());
            async move { activity.flush_forever(pool).await }
        }));
        // Wakes requested by router-only replicas (which cannot resume a sandbox themselves).
        let _wakes = self.state.runtime.is_some().then(|| {
            let wakes = Arc::new(crate::wake::WakeRequests::new(self.state.scheduler.clone()));
            AbortOnDrop(tokio::spawn(db::notify::follow(
                self.state.pool.clone(),
                wakes,
            )))
        });
        let runtime = self.state.runtime.clone();
        let limits = listener_limits(&self.state.settings);
        let (service, route_listener) = service(self.state);
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
/// The service `warren serve` runs for `state`, and the task that keeps its route cache current
/// (to abort when serving ends), as `router.mode` says.
pub fn service(state: AppState) -> (MakeDispatch, Option<JoinHandle<()>>) {
    let settings = &state.settings.router;
    let api = match settings.mode {
        RouterMode::Router => http::health_router(state.clone()),
        RouterMode::Both | RouterMode::Api => http::router(state.clone()),
    };
    if settings.mode == RouterMode::Api {
        return (MakeDispatch::new(None, api), None);
    }
    let routes = state.routes.clone();
    let listening = db::notify::follow(state.pool.clone(), routes.clone())
        .instrument(tracing::info_span!("route_changes"));
    let listener = tokio::spawn(listening);
    let waker = crate::wake::waker(&state);
    let proxy = Arc::new(Proxy::new(
        routes,
        settings,
        state.activity.clone(),
        Some(waker),
    ));
    (MakeDispatch::new(Some(proxy), api), Some(listener))
}

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
            ::http::StatusCode::SERVICE_UNAVAILABLE,
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
