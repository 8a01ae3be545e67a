//! `[server]`, `[database]` and `[limits]`: how `warren serve` listens, reaches Postgres and
//! limits each organization.

use secrecy::SecretString;
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on (0 picks a free one).
    pub port: u16,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a client has to send a request's head; on a keep-alive HTTP/1.1 connection also the
    /// longest wait for the next request.
    pub header_read_timeout_seconds: u32,
    /// Seconds a connection with no request in flight stays open (HTTP/2 gets a GOAWAY).
    pub idle_timeout_seconds: u32,
    /// Client connections open at once (API and router together); more are answered 503 and closed.
    pub max_connections: u32,
    /// An API request body (a template upload, say) bringing fewer than this many bytes per second
    /// over a `body_rate_window_seconds` window is cut with 408. Not applied to proxied requests.
    pub body_min_bytes_per_second: u32,
    pub body_rate_window_seconds: u32,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8080,
            max_body_bytes: 1024 * 1024,
            header_read_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            max_connections: 4096,
            body_min_bytes_per_second: 1024,
            body_rate_window_seconds: 30,
        }
    }
}

impl ServerSettings {
    /// The minimum body rate of API requests.
    pub fn body_rate(&self) -> listener::MinRate {
        listener::MinRate {
            bytes_per_second: self.body_min_bytes_per_second.into(),
            window: std::time::Duration::from_secs(self.body_rate_window_seconds.into()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// A libpq-style URL, e.g. `postgres://user:password@host:5432/warren`. Empty (the default): the
    /// embedded mode, a private Postgres in `embedded.data_dir` (`docs/operations.md`).
    pub url: SecretString,
    /// Size of the connection pool.
    pub max_connections: u32,
    /// Seconds to wait for a free connection before answering 503.
    pub acquire_timeout_seconds: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::default(),
            max_connections: 20,
            acquire_timeout_seconds: 5,
        }
    }
}

impl DatabaseSettings {
    /// No URL is configured: Warren runs its own Postgres (see [`EmbeddedSettings`]).
    pub fn is_embedded(&self) -> bool {
        use secrecy::ExposeSecret as _;
        self.url.expose_secret().is_empty()
    }

    pub fn connect_options(&self) -> Result<PgConnectOptions, sqlx::Error> {
        use secrecy::ExposeSecret as _;
        self.url.expose_secret().parse()
    }
}

/// Per-organization limits; each can be overridden per organization in the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Requests an organization may make per window (token bucket capacity).
    pub rate_limit: u32,
    /// The window, in seconds, over which `rate_limit` refills.
    pub rate_window_seconds: u32,
    /// Sandboxes an organization may hold at once (creating, running, paused or stopped).
    pub max_live_sandboxes: u32,
    /// How long, in milliseconds, a replica keeps a checked API key and the rate-limit tokens it
    /// leased for it before asking Postgres again (a revocation reaches every replica at once through
    /// `NOTIFY`; this bounds it if a notification is lost). 0 turns the cache off.
    pub auth_cache_ms: u32,
    /// The most tokens a replica leases at once for one key, as a fraction of the limit (at least 1
    /// token). Unspent tokens go back to the bucket; the budget shared by N replicas can be
    /// under-spent by at most N × this fraction, never exceeded.
    pub rate_lease_fraction: f64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            rate_limit: 600,
            rate_window_seconds: 60,
            max_live_sandboxes: 100,
            auth_cache_ms: 1000,
            rate_lease_fraction: 0.01,
        }
    }
}
