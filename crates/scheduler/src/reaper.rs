//! The expiry reaper: deletes sandboxes whose `expires_at` has passed, as Hopx does, and forgets
//! expired idempotency keys. A background task runs [`Reaper::run_once`] every
//! `sandboxes.reaper_interval_seconds`; tests call it directly.

use std::time::Duration;

use crate::Scheduler;
use crate::create::destroy_quietly;
use api_error::chain;

const BATCH: i64 = 100;

#[derive(Clone)]
pub struct Reaper {
    state: Scheduler,
}

impl Reaper {
    pub fn new(state: Scheduler) -> Self {
        Self { state }
    }

    /// One pass: marks every expired sandbox deleted and removes it from the runtime, and deletes
    /// expired idempotency keys. Returns the sandbox ids it reaped.
    pub async fn run_once(&self) -> Result<Vec<String>, sqlx::Error> {
        db::idempotency::delete_expired(&self.state.pool).await?;
        let mut reaped = Vec::new();
        loop {
            let spare = self.state.settings.sandboxes.auto_pause_stops_clock;
            let ids = db::sandboxes::reap_expired(&self.state.pool, BATCH, spare).await?;
            for id in &ids {
                tracing::info!(sandbox.id = %id, "sandbox expired; deleting");
                destroy_quietly(&self.state, id).await;
            }
            let done = ids.len() < BATCH as usize;
            reaped.extend(ids);
            if done {
                return Ok(reaped);
            }
        }
    }

    /// Runs forever, one pass per interval.
    pub async fn run_forever(self) {
        let every =
            Duration::from_secs(self.state.settings.sandboxes.reaper_interval_seconds.into());
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.run_once().await {
                tracing::warn!(error.chain = %chain(&e), "reaper pass failed");
            }
        }
    }
}
