//! `AppState`: what every handler can reach.

use std::sync::Arc;

use runtime::SandboxRuntime;
use sqlx::PgPool;

use crate::config::Settings;

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
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}
