//! The scheduler: sandbox lifecycle rules and transaction boundaries, through the state machine of
//! the `lifecycle` crate. The HTTP API calls [`create`], [`actions`] and [`credentials`]; these
//! call `db` and the runtime; [`volumes`] serves `/v1/volumes`, [`snapshots`] and [`fork`] `/v1/snapshots` and
//! forks. Background work: the expiry reaper (every replica), and on the leader
//! replica ([`leader`]) the reconciler and the warm-pool refill, supervised.
//!
//! Everything here takes a [`Scheduler`]: the database, the runtime, the settings, admission, the
//! route cache to evict from, and the scheduler's own metrics; nothing of the HTTP layer.

pub mod actions;
pub mod capacity;
pub mod create;
mod create_request;
mod create_source;
pub mod credentials;
pub mod fork;
pub mod idempotent;
pub mod idle;
pub mod leader;
pub mod metrics;
pub mod mounts;
pub mod names;
mod orphans;
pub mod pool;
pub mod reaper;
pub mod reconcile;
pub mod snapshots;
pub mod views;
pub mod volumes;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use router::routes::Routes;
use runtime::SandboxRuntime;
use settings::Settings;
use sqlx::PgPool;

use capacity::Capacity;
use metrics::SchedulerMetrics;
use reconcile::InFlight;

/// What the scheduler works with. Cheap to clone; derefs to [`Parts`].
#[derive(Clone)]
pub struct Scheduler(pub Arc<Parts>);

pub struct Parts {
    /// The Postgres pool (all state).
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
    /// Reconciler passes and leadership changes, for `/metrics`.
    pub metrics: SchedulerMetrics,
    /// The sandboxes this replica served since its last write of `last_active_at` (auto-pause).
    pub activity: Arc<db::activity::Activity>,
}

impl std::ops::Deref for Scheduler {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}
