//! Auto-pause (docs/auto-pause.md): on the leader, the idle pauser pauses each running sandbox with
//! `auto_pause` that has had no API or router traffic for that many seconds and whose agent reports no
//! work; [`Waker`] resumes such a sandbox when a request arrives for it (the router calls it).

use std::time::Duration;

use api_types::agent::Activity;
use axum::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lifecycle::Action;
use sandbox_token::TokenKey;

use crate::Scheduler;
use crate::actions;
use api_error::{ApiError, chain};
use db::activity::IdleRow;

/// Sandboxes looked at per pass.
const BATCH: i64 = 100;
/// How long the agent may take to say what it is doing.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest activity answer read.
const MAX_ANSWER: usize = 64 << 10;
/// How long a wake waits for an auto-pause under way to end.
const WAKE_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct IdlePauser {
    state: Scheduler,
}

impl IdlePauser {
    pub fn new(state: Scheduler) -> Self {
        Self { state }
    }

    /// One pass: the ids it paused. Idle sandboxes whose agent reports work are marked active now
    /// (asked again after their idle time); those whose agent does not answer are left for the next
    /// pass.
    pub async fn run_once(&self) -> Result<Vec<String>, ApiError> {
        // This replica's own traffic first, so it is not mistaken for idleness.
        self.state.activity.flush(&self.state.pool).await?;
        let mut paused = Vec::new();
        for row in db::activity::idle(&self.state.pool, BATCH).await? {
            match ask(&row).await {
                Ok(work) if work.busy => {
                    tracing::debug!(sandbox.id = %row.id, ?work, "idle but working; not pausing");
                    db::activity::mark_active(&self.state.pool, std::slice::from_ref(&row.id))
                        .await?;
                }
                Ok(_) => {
                    if self.pause(&row).await {
                        paused.push(row.id);
                    }
                }
                Err(e) => {
                    tracing::warn!(sandbox.id = %row.id, error.chain = %chain(&*e), "the agent did not say whether it works; not pausing");
                }
            }
        }
        Ok(paused)
    }

    async fn pause(&self, row: &IdleRow) -> bool {
        let state = &self.state;
        let Some(runtime) = state.runtime.as_ref() else {
            return false;
        };
        // The reconciler leaves a pause under way in this process alone.
        let _in_flight = state.in_flight.begin(&row.id);
        match db::activity::begin_idle_pause(&state.pool, &row.id).await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::warn!(sandbox.id = %row.id, error = %e, "auto-pause not begun");
                return false;
            }
        }
        state
            .routes
            .changed(&row.id, lifecycle::SandboxStatus::Pausing);
        let status = lifecycle::SandboxStatus::Running;
        match actions::drive(state, runtime.as_ref(), &row.id, Action::Pause, status).await {
            Ok(Some(_)) => {
                tracing::info!(sandbox.id = %row.id, "idle: paused (auto_pause)");
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(sandbox.id = %row.id, error.chain = %chain(&e), "auto-pause failed");
                false
            }
        }
    }

    /// Runs forever, one pass per `sandboxes.auto_pause_interval_seconds`.
    pub async fn run_forever(self) {
        let every = self.state.settings.sandboxes.auto_pause_interval_seconds;
        let mut tick = tokio::time::interval(Duration::from_secs(every.into()));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.run_once().await {
                tracing::warn!(error.chain = %chain(&e), "idle pauser pass failed");
            }
        }
    }
}

/// `GET /_warren/activity` of the sandbox's agent, with a token of a minute.
async fn ask(row: &IdleRow) -> anyhow::Result<Activity> {
    let addr = row
        .agent_addr
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("no agent address"))?;
    let key = TokenKey::from_bytes(&row.token_key)?;
    let token = key.sign(&row.id, chrono::Utc::now().timestamp() + 60);
    let req = http::Request::get(format!("http://{addr}/_warren/activity"))
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let answer = tokio::time::timeout(ASK_TIMEOUT, client.request(req)).await??;
    anyhow::ensure!(
        answer.status().is_success(),
        "the agent answered {}",
        answer.status()
    );
    let body = axum::body::to_bytes(Body::new(answer.into_body()), MAX_ANSWER).await?;
    Ok(serde_json::from_slice(&body)?)
}

/// Resumes sandboxes the idle pauser paused, for requests that arrived for them.
#[derive(Clone)]
pub struct Waker {
    state: Scheduler,
}

impl Waker {
    pub fn new(state: Scheduler) -> Self {
        Self { state }
    }

    /// Resumes sandbox `id` if the idle pauser paused it (a twin request waits for the same resume);
    /// with `sandboxes.auto_pause_stops_clock` its deadline moves on by the time it was paused.
    pub async fn wake(&self, id: &str) -> Result<(), ApiError> {
        let state = &self.state;
        let deadline = tokio::time::Instant::now() + WAKE_WAIT;
        let org_id = loop {
            match db::activity::auto_paused(&state.pool, id).await? {
                None => return Ok(()),
                // The pause is under way: resume once it is done.
                Some((_, status))
                    if status == "pausing" && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Some((org_id, _)) => break org_id,
            }
        };
        if state.settings.sandboxes.auto_pause_stops_clock {
            db::activity::add_paused_time(&state.pool, id).await?;
        }
        state.activity.touch(id);
        actions::apply(state, org_id, id, Action::Resume)
            .await
            .map(drop)
    }
}
