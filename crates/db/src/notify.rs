//! Following a Postgres `NOTIFY` channel for as long as the process runs. The per-replica caches that
//! notifications invalidate (routes, API keys) share this loop: connect, `LISTEN`, hand every payload
//! to the cache, and on a lost connection tell the cache (which then trusts nothing it holds, since
//! notifications may have been missed) and reconnect.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// Wait before reconnecting after the listening connection failed.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

/// A cache kept fresh by one channel's notifications.
pub trait Subscriber: Send + Sync + 'static {
    /// The channel.
    const CHANNEL: &'static str;
    /// What the replica does while it cannot listen, for the log line.
    const MEANWHILE: &'static str;
    /// Notifications start (`true`) or stop (`false`) arriving: whatever is cached may be stale.
    fn listening(&self, up: bool);
    /// One notification's payload.
    fn notified(&self, payload: &str);
}

/// Follows `S::CHANNEL` until the process ends.
pub async fn follow<S: Subscriber>(pool: PgPool, subscriber: Arc<S>) {
    loop {
        match follow_once(&pool, &*subscriber).await {
            Ok(()) => tracing::warn!(channel = S::CHANNEL, "notifications lost; reconnecting"),
            Err(e) => tracing::warn!(
                channel = S::CHANNEL,
                error.chain = %api_error::chain(&e),
                "cannot listen for notifications; {}",
                S::MEANWHILE
            ),
        }
        tokio::time::sleep(RELISTEN_DELAY).await;
    }
}

async fn follow_once<S: Subscriber>(pool: &PgPool, subscriber: &S) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(S::CHANNEL).await?;
    subscriber.listening(true);
    let outcome = loop {
        match listener.try_recv().await {
            Ok(Some(n)) => subscriber.notified(n.payload()),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    subscriber.listening(false);
    outcome
}
