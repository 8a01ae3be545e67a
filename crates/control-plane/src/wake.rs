//! Resume on traffic (docs/auto-pause.md): the router's [`router::Wake`] for auto-paused sandboxes.
//! A replica with the runtime resumes the sandbox itself (the scheduler's [`Waker`]); a router-only
//! replica asks through the database (`NOTIFY warren_wake`), and a replica with the runtime that
//! follows that channel ([`WakeRequests`]) resumes it, while the asking replica waits for the route.

use std::sync::Arc;
use std::time::Duration;

use router::routes::{Route, Routes};
use router::{BoxFuture, Wake};
use scheduler::Scheduler;
use scheduler::idle::Waker;
use sqlx::PgPool;

use crate::state::AppState;

/// How long a router-only replica waits for another replica's resume.
const REMOTE_WAIT: Duration = Duration::from_secs(10);
const REMOTE_POLL: Duration = Duration::from_millis(20);

/// The waker of this replica: local with a runtime, else through the database.
pub fn waker(state: &AppState) -> Arc<dyn Wake> {
    if state.runtime.is_some() {
        Arc::new(Local(Waker::new(state.scheduler.clone())))
    } else {
        Arc::new(Remote {
            pool: state.pool.clone(),
            routes: state.routes.clone(),
        })
    }
}

struct Local(Waker);

impl Wake for Local {
    fn wake<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0.wake(id).await.map_err(|e| {
                tracing::warn!(sandbox.id = %id, error = %e, "resume on traffic failed");
                e.code().to_owned()
            })
        })
    }
}

struct Remote {
    pool: PgPool,
    routes: Arc<Routes>,
}

impl Wake for Remote {
    fn wake<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            db::activity::request_wake(&self.pool, id)
                .await
                .map_err(|_| "the database is unavailable".to_owned())?;
            let deadline = tokio::time::Instant::now() + REMOTE_WAIT;
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(REMOTE_POLL).await;
                match &*self.routes.get(id).await.map_err(|e| e.to_string())? {
                    Route::Running(r) if r.asleep => {}
                    _ => return Ok(()),
                }
            }
            Err("no replica with the runtime resumed it in time".to_owned())
        })
    }
}

/// Resumes the sandboxes router-only replicas ask for (`NOTIFY warren_wake, '{id}'`).
pub struct WakeRequests(Waker);

impl WakeRequests {
    pub fn new(scheduler: Scheduler) -> Self {
        Self(Waker::new(scheduler))
    }
}

impl db::notify::Subscriber for WakeRequests {
    const CHANNEL: &'static str = db::activity::WAKE_CHANNEL;
    const MEANWHILE: &'static str = "router-only replicas cannot resume auto-paused sandboxes";

    fn listening(&self, _up: bool) {}

    fn notified(&self, id: &str) {
        let (waker, id) = (self.0.clone(), id.to_owned());
        tokio::spawn(async move {
            if let Err(e) = waker.wake(&id).await {
                tracing::warn!(sandbox.id = %id, error = %e, "asked resume failed");
            }
        });
    }
}
