//! API keys checked and rate-limit tokens spent in process, so that most requests cost no database
//! round trip.
//!
//! A key that Postgres accepted ([`db::auth`]) is kept for `limits.auth_cache_ms` together with
//! a lease of tokens taken from its organization's shared bucket; requests spend the lease in memory
//! and the presented secret is compared with the cached hash in constant time. When the lease is spent
//! or the entry is older than the TTL, one task per key runs the statement again: it re-checks the
//! key, returns the unspent tokens and takes a new lease. The lease doubles while it runs out and
//! shrinks to what was used when it expires, at most `limits.rate_lease_fraction` of the limit: a
//! replica never spends a token the bucket did not grant, and it holds back at most that share.
//!
//! Revocation: a trigger sends `NOTIFY warren_auth` when a key is revoked or deleted (`key:{key_id}`)
//! or an organization's limit changes (`org:{id}`); [`AuthCache::listen`] (one connection per replica)
//! drops the entries at once. A lookup that raced with a drop is not stored (an epoch counter), while
//! the listening connection is down nothing is cached, and the TTL bounds a lost notification.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use subtle::ConstantTimeEq;
use tokio::sync::{broadcast, watch};

use settings::LimitSettings;

use api_error::ApiError;
use api_keys as keys;

/// The `NOTIFY` channel of the triggers in `migrations/*_auth_cache.up.sql`.
pub const CHANNEL: &str = "warren_auth";
/// Cached keys kept at most; past it, the cache is emptied.
const MAX_ENTRIES: usize = 100_000;

/// An authenticated request's organization and its budget after this request.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub organization_id: i64,
    pub limit: f64,
    /// Tokens left: in the bucket when last asked, plus this replica's unspent lease.
    pub remaining: f64,
    pub refill_per_sec: f64,
    /// Whether the request may proceed (else 429).
    pub allowed: bool,
}

struct Lease {
    fetched: Instant,
    /// Tokens granted to this replica and not spent yet.
    unspent: i32,
    /// Tokens spent since the lease was taken (sizes the next one).
    spent: i32,
    /// The bucket's tokens after the grant.
    bucket: f64,
    limit: f64,
    refill_per_sec: f64,
}

struct Entry {
    organization_id: i64,
    secret_hash: Vec<u8>,
    lease: Mutex<Lease>,
    /// Held by the one task that renews the lease.
    renewing: tokio::sync::Mutex<()>,
    /// Set when dropped from the cache: tasks that still hold the entry stop spending from it.
    dropped: AtomicBool,
}

#[derive(Default)]
struct Cache {
    map: HashMap<String, Arc<Entry>>,
    /// Bumped by every drop; a lookup started under an older epoch is not stored.
    epoch: u64,
}

/// The key cache of one process.
pub struct AuthCache {
    pool: PgPool,
    ttl: Duration,
    default_limit: i32,
    window_seconds: f64,
    lease_fraction: f64,
    cache: RwLock<Cache>,
    /// Whether the `LISTEN` connection is up (only then is anything cached).
    listening: watch::Sender<bool>,
    /// Every notification handled, for tests to await a revocation.
    notified: broadcast::Sender<Arc<str>>,
}

impl AuthCache {
    pub fn new(pool: PgPool, limits: &LimitSettings) -> Self {
        Self {
            pool,
            ttl: Duration::from_millis(u64::from(limits.auth_cache_ms)),
            default_limit: i32::try_from(limits.rate_limit).unwrap_or(i32::MAX),
            window_seconds: f64::from(limits.rate_window_seconds),
            lease_fraction: limits.rate_lease_fraction,
            cache: RwLock::default(),
            listening: watch::Sender::new(false),
            notified: broadcast::channel(64).0,
        }
    }

    /// Checks a presented key and takes one token from its organization's budget.
    pub async fn check(&self, key_id: &str, secret: &str) -> Result<Verdict, ApiError> {
        let hash = keys::hash_secret(secret);
        let cached = {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            cache.map.get(key_id).cloned()
        };
        let Some(entry) = cached else {
            return self.look_up(key_id, &hash).await;
        };
        if !bool::from(hash.ct_eq(&entry.secret_hash)) {
            return Err(ApiError::InvalidApiKey);
        }
        if let Some(v) = self.spend(&entry) {
            return Ok(v);
        }
        let _renewing = entry.renewing.lock().await;
        if let Some(v) = self.spend(&entry) {
            return Ok(v);
        }
        self.renew(key_id, &hash, &entry).await
    }

    /// One token from the entry's lease, if it is fresh and not spent.
    fn spend(&self, entry: &Entry) -> Option<Verdict> {
        let mut lease = entry.lease.lock().unwrap_or_else(|e| e.into_inner());
        let usable = lease.unspent > 0
            && lease.fetched.elapsed() < self.ttl
            && !entry.dropped.load(Ordering::Acquire);
        usable.then(|| {
            lease.unspent -= 1;
            lease.spent += 1;
            lease.verdict(entry.organization_id)
        })
    }

    /// A key that is not cached: asks Postgres for one token, and caches the key if it is valid.
    async fn look_up(&self, key_id: &str, hash: &[u8]) -> Result<Verdict, ApiError> {
        let epoch = self.epoch();
        let (row, lease) = self.take(key_id, hash, 1, 0).await?;
        let lease = lease.spend_one();
        let verdict = lease.verdict(row.organization_id);
        if self.ttl.is_zero() || !*self.listening.borrow() {
            return Ok(verdict);
        }
        let entry = Arc::new(Entry {
            organization_id: row.organization_id,
            secret_hash: row.secret_hash,
            lease: Mutex::new(lease),
            renewing: tokio::sync::Mutex::new(()),
            dropped: AtomicBool::new(false),
        });
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.epoch == epoch {
            if cache.map.len() >= MAX_ENTRIES {
                cache.map.clear();
            }
            // A concurrent lookup of the same key may have cached it first, and its entry may hold
            // a lease by now: replacing it would strand those tokens. This one's lease is spent.
            cache.map.entry(key_id.to_owned()).or_insert(entry);
        }
        Ok(verdict)
    }

    /// A cached key whose lease is spent or stale: returns what is left and takes a new lease.
    async fn renew(&self, key_id: &str, hash: &[u8], entry: &Entry) -> Result<Verdict, ApiError> {
        let (give_back, want) = {
            let lease = entry.lease.lock().unwrap_or_else(|e| e.into_inner());
            let most = (lease.limit * self.lease_fraction).clamp(1.0, f64::from(i32::MAX)) as i32;
            (lease.unspent, lease.spent.saturating_mul(2).min(most))
        };
        // On an error nothing was given back or taken: the lease stays as it was.
        match self.take(key_id, hash, want, give_back).await {
            Ok((_, fresh)) => {
                let fresh = fresh.spend_one();
                let verdict = fresh.verdict(entry.organization_id);
                *entry.lease.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
                Ok(verdict)
            }
            Err(ApiError::InvalidApiKey) => {
                self.drop_where(|k, _| k == key_id);
                Err(ApiError::InvalidApiKey)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs the statement for up to `want` tokens, giving `give_back` back. The lease's `unspent` is
    /// the grant; 0 means refused.
    async fn take(
        &self,
        key_id: &str,
        hash: &[u8],
        want: i32,
        give_back: i32,
    ) -> Result<(db::auth::AuthRow, Lease), ApiError> {
        let fetched = Instant::now();
        let take = db::auth::Take {
            default_limit: self.default_limit,
            window_seconds: self.window_seconds,
            want: want.max(1),
            give_back,
        };
        let row = db::auth::authenticate_and_take(&self.pool, key_id, hash, take)
            .await?
            .ok_or(ApiError::InvalidApiKey)?;
        if !bool::from(hash.ct_eq(&row.secret_hash)) {
            return Err(ApiError::InvalidApiKey);
        }
        let (Some(bucket), Some(limit), Some(refill_per_sec), Some(granted)) =
            (row.tokens, row.capacity, row.refill_per_sec, row.granted)
        else {
            return Err(ApiError::InvalidApiKey);
        };
        let lease = Lease {
            fetched,
            unspent: granted,
            spent: 0,
            bucket,
            limit,
            refill_per_sec,
        };
        Ok((row, lease))
    }

    fn epoch(&self) -> u64 {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).epoch
    }

    /// Drops every entry `hit` selects (by key id and organization id).
    fn drop_where(&self, hit: impl Fn(&str, i64) -> bool) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        cache.map.retain(|key_id, e| {
            let keep = !hit(key_id, e.organization_id);
            if !keep {
                e.dropped.store(true, Ordering::Release);
            }
            keep
        });
        cache.epoch += 1;
    }

    /// Returns once this replica listens for key changes (keys are cached from then on).
    pub async fn listening(&self) {
        // The sender lives as long as `self`.
        let _ = self.listening.subscribe().wait_for(|up| *up).await;
    }

    /// A receiver of every notification this replica handled (`key:{key_id}` or `org:{id}`), after
    /// the entries it names were dropped.
    pub fn notifications(&self) -> broadcast::Receiver<Arc<str>> {
        self.notified.subscribe()
    }
}

impl db::notify::Subscriber for AuthCache {
    const CHANNEL: &'static str = CHANNEL;
    const MEANWHILE: &'static str = "keys are checked in Postgres on every request until then";

    fn listening(&self, up: bool) {
        if up {
            self.drop_where(|_, _| true);
            self.listening.send_replace(true);
        } else {
            self.listening.send_replace(false);
            self.drop_where(|_, _| true);
        }
    }

    fn notified(&self, payload: &str) {
        match payload.split_once(':') {
            Some(("key", key_id)) => self.drop_where(|k, _| k == key_id),
            Some(("org", org)) => match org.parse::<i64>() {
                Ok(org) => self.drop_where(|_, o| o == org),
                Err(_) => self.drop_where(|_, _| true),
            },
            _ => self.drop_where(|_, _| true),
        }
        // No receiver is fine: nobody waits.
        let _ = self.notified.send(Arc::from(payload));
    }
}

impl Lease {
    /// This request's token taken from a fresh grant (none when refused).
    fn spend_one(mut self) -> Self {
        if self.unspent > 0 {
            self.unspent -= 1;
            self.spent = 1;
        }
        self
    }

    /// The verdict of the request that last spent from this lease (refused if it got no token).
    fn verdict(&self, organization_id: i64) -> Verdict {
        Verdict {
            organization_id,
            limit: self.limit,
            remaining: self.bucket + f64::from(self.unspent),
            refill_per_sec: self.refill_per_sec,
            allowed: self.spent > 0,
        }
    }
}
