//! `AppState`: what every handler can reach.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use runtime::SandboxRuntime;
use sqlx::PgPool;

use crate::app::capacity::Capacity;
use crate::app::reconcile::InFlight;
use crate::auth_cache::AuthCache;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::router::routes::Routes;
use crate::templates::Builds;

/// Cheap to clone; derefs to [`AppInner`].
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

pub struct AppInner {
    /// The Postgres pool (authentication, rate limits, all state).
    pub pool: PgPool,
    /// The backend that runs sandboxes; `None` when `runtime.kind = "none"` (creates answer 503).
    pub runtime: Option<Arc<dyn SandboxRuntime>>,
    /// The loaded settings.
    pub settings: Settings,
    /// The port the server listens on (the default `router.public_port`).
    pub listen_port: u16,
    /// What all live sandboxes together may be given (`[capacity]` resolved against the host).
    pub capacity: Capacity,
    /// Sandbox creates running in this process; the reconciler leaves them alone.
    pub in_flight: InFlight,
    /// Whether this replica currently runs the reconciler and the pool refill.
    pub leader: AtomicBool,
    /// The router's route cache; actions of this replica evict from it directly (other replicas
    /// hear of them through `NOTIFY`).
    pub routes: Arc<Routes>,
    /// This replica's template builds (queue and upload store).
    pub builds: Builds,
    /// Checked API keys and leased rate-limit tokens; dropped on `NOTIFY` from any replica.
    pub auth_cache: Arc<AuthCache>,
    /// This process's Prometheus metrics (`GET /metrics`).
    pub metrics: Metrics,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}
