//! Routes: where each sandbox's hosts go, read from Postgres and cached in-process.
//!
//! A cached route is dropped the moment Postgres says it changed: a trigger on `sandboxes` sends
//! `NOTIFY warren_routes, '{id}:{status}'` on every change of status, agent address, token keys
//! (current, previous and its grace deadline), preview epoch or private previews, and [`Routes::listen`] (one connection per replica) evicts the entry. A fill that
//! raced with an eviction is not stored (an epoch counter), entries older than `router.cache_ttl_seconds`
//! are refetched as a backstop, and while the listening connection is down nothing is cached at all.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::uri::Authority;
use lifecycle::SandboxStatus;
use sandbox_token::{KeyRing, TokenKey};
use sqlx::PgPool;
use tokio::sync::broadcast;

/// The `NOTIFY` channel of the trigger in `migrations/*_router.up.sql`.
pub const CHANNEL: &str = "warren_routes";
/// Cached routes kept at most; past it, stale ones are dropped (all of them if none is stale).
const MAX_ENTRIES: usize = 100_000;

/// What the router knows about one sandbox.
#[derive(Debug)]
pub enum Route {
    Running(Running),
    /// A sandbox that exists but cannot be reached now: `creating`, `paused`, `stopped` or `error`.
    NotRunning(SandboxStatus),
    /// No such sandbox (or deleted).
    NotFound,
    /// Running but without a usable agent address or key (logged when read).
    Broken,
}

#[derive(Debug)]
pub struct Running {
    pub agent: SocketAddr,
    /// `agent` as a URI authority, built once.
    pub agent_authority: Authority,
    /// The keys tokens verify with (the previous one until its grace deadline).
    pub keys: KeyRing,
    /// Preview links carrying another epoch were revoked.
    pub preview_epoch: i64,
    pub private_previews: bool,
    /// Paused (or pausing) by the idle pauser: a request that passes the token check resumes it
    /// first (docs/auto-pause.md).
    pub asleep: bool,
}

struct Entry {
    route: Arc<Route>,
    fetched: Instant,
}

#[derive(Default)]
struct Cache {
    map: HashMap<String, Entry>,
    /// Bumped by every eviction; a fill started under an older epoch is not stored.
    epoch: u64,
}

/// The route cache of one process.
pub struct Routes {
    pool: PgPool,
    ttl: Duration,
    /// `sandboxes.max_token_lifetime_seconds`: later expiries are refused.
    max_token_lifetime: i64,
    cache: RwLock<Cache>,
    /// Whether the `LISTEN` connection is up (only then is anything cached).
    listening: AtomicBool,
    /// Ids of sandboxes that stopped running, for open WebSocket tunnels to close themselves.
    stopped: broadcast::Sender<Arc<str>>,
}

impl Routes {
    pub fn new(pool: PgPool, ttl: Duration, max_token_lifetime: i64) -> Self {
        Self {
            pool,
            ttl,
            max_token_lifetime,
            cache: RwLock::default(),
            listening: AtomicBool::new(false),
            stopped: broadcast::channel(1024).0,
        }
    }

    /// The route of sandbox `id`: from the cache, else from Postgres.
    pub async fn get(&self, id: &str) -> Result<Arc<Route>, sqlx::Error> {
        let epoch = {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = cache.map.get(id)
                && e.fetched.elapsed() < self.ttl
            {
                return Ok(e.route.clone());
            }
            cache.epoch
        };
        let fetched = Instant::now();
        let row = db::sandboxes::route(&self.pool, id).await?;
        let route = Arc::new(Route::from_row(id, row));
        if self.listening.load(Ordering::Acquire) {
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            if cache.epoch == epoch {
                if cache.map.len() >= MAX_ENTRIES {
                    let ttl = self.ttl;
                    cache.map.retain(|_, e| e.fetched.elapsed() < ttl);
                    if cache.map.len() >= MAX_ENTRIES {
                        cache.map.clear();
                    }
                }
                let entry = Entry {
                    route: route.clone(),
                    fetched,
                };
                cache.map.insert(id.to_owned(), entry);
            }
        }
        Ok(route)
    }

    /// The longest lifetime (seconds) a token may claim.
    pub fn max_token_lifetime(&self) -> i64 {
        self.max_token_lifetime
    }

    /// A receiver of the ids of sandboxes that stopped running (paused, stopped, deleted...).
    pub fn stopped(&self) -> broadcast::Receiver<Arc<str>> {
        self.stopped.subscribe()
    }

    /// Sandbox `id` now has `status`: its route is dropped (and its tunnels closed unless it runs).
    /// Called for every notification, and directly by this replica's own actions so that its next
    /// request already sees the change.
    pub fn changed(&self, id: &str, status: SandboxStatus) {
        {
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            cache.map.remove(id);
            cache.epoch += 1;
        }
        if !status.routable() {
            // No receiver is fine: no tunnel is open.
            let _ = self.stopped.send(Arc::from(id));
        }
    }

    fn forget_everything(&self) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        cache.map.clear();
        cache.epoch += 1;
    }
}

impl db::notify::Subscriber for Routes {
    const CHANNEL: &'static str = CHANNEL;
    const MEANWHILE: &'static str = "routes are read from Postgres on every request until then";

    fn listening(&self, up: bool) {
        if up {
            self.forget_everything();
            self.listening.store(true, Ordering::Release);
        } else {
            self.listening.store(false, Ordering::Release);
            self.forget_everything();
        }
    }

    fn notified(&self, payload: &str) {
        let (id, status) = payload.split_once(':').unwrap_or((payload, ""));
        self.changed(id, SandboxStatus::stored(status));
    }
}

impl Route {
    fn from_row(id: &str, row: Option<db::sandboxes::RouteRow>) -> Self {
        let Some(row) = row else {
            return Self::NotFound;
        };
        let status = SandboxStatus::stored(&row.status);
        let asleep =
            row.auto_paused && matches!(status, SandboxStatus::Pausing | SandboxStatus::Paused);
        if !status.routable() && !asleep {
            return Self::NotRunning(status);
        }
        let agent: Option<SocketAddr> = row.agent_addr.as_deref().and_then(|a| a.parse().ok());
        let keys = TokenKey::from_bytes(&row.token_key).ok().map(|key| {
            let ring = KeyRing::new(key);
            let previous = row.previous_token_key.as_deref().map(TokenKey::from_bytes);
            match (previous, row.previous_key_valid_until) {
                (Some(Ok(previous)), Some(until)) => {
                    ring.with_previous(previous, until.timestamp())
                }
                _ => ring,
            }
        });
        match (agent, keys) {
            (Some(agent), Some(keys)) => match Authority::try_from(agent.to_string()) {
                Ok(agent_authority) => Self::Running(Running {
                    agent,
                    agent_authority,
                    keys,
                    preview_epoch: row.preview_epoch,
                    private_previews: row.private_previews,
                    asleep,
                }),
                Err(_) => Self::Broken,
            },
            _ => {
                tracing::error!(sandbox.id = %id, agent_addr = ?row.agent_addr, "running sandbox without a usable agent address or token key");
                Self::Broken
            }
        }
    }
}
