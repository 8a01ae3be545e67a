//! `AppState`: what every handler can reach. The scheduler's parts (database, runtime, settings,
//! admission, route cache) are reached through it, so handlers read `state.pool` and pass `&state`
//! where the scheduler's functions take a [`Scheduler`].

use std::sync::Arc;

use scheduler::Scheduler;
use template_builder::Builds;

use crate::auth_cache::AuthCache;
use crate::metrics::Metrics;

/// Cheap to clone; derefs to [`AppInner`].
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

pub struct AppInner {
    /// Lifecycle rules and the state they work on.
    pub scheduler: Scheduler,
    /// This replica's template builds (queue and upload store).
    pub builds: Builds,
    /// Checked API keys and leased rate-limit tokens; dropped on `NOTIFY` from any replica.
    pub auth_cache: Arc<AuthCache>,
    /// This process's Prometheus metrics (`GET /metrics`), the scheduler's among them.
    pub metrics: Metrics,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl std::ops::Deref for AppInner {
    type Target = Scheduler;
    fn deref(&self) -> &Scheduler {
        &self.scheduler
    }
}
