//! Postgres access: one module per table group, `sqlx::query!`/`query_as!` macros checked at compile
//! time against the schema (offline data in `.sqlx/`; re-prepare after changing a query or migration:
//! `SQLX_OFFLINE=false DATABASE_URL=… cargo sqlx prepare --workspace`).
//!
//! Repository functions take an executor (`&PgPool` or `&mut PgConnection`); the caller owns the
//! transaction.

pub mod activity;
pub mod api_keys;
pub mod auth;
pub mod capacity;
pub mod credentials;
pub mod cursor;
pub mod idempotency;
pub mod ids;
pub mod metrics;
pub mod notify;
pub mod orgs;
pub mod pool;
pub mod reconcile;
pub mod sandboxes;
pub mod snapshots;
pub mod template_build_logs;
pub mod template_builds;
pub mod template_uploads;
pub mod templates;
pub mod volumes;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use settings::DatabaseSettings;

/// The schema in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// A pool that connects on first use, so `warren serve` starts (and `/health` answers) while the
/// database is still coming up. Connections are not pinged before each use (sqlx's default): that
/// ping is a round trip to Postgres per query; a connection that died answers its next query with an
/// I/O error (503 `DATABASE_UNAVAILABLE`) and is replaced.
pub fn pool(settings: &DatabaseSettings) -> Result<PgPool, sqlx::Error> {
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        .connect_lazy_with(settings.connect_options()?))
}
