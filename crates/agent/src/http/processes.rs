//! `POST /processes/kill-all` (a Warren extension): ends every user process at once, a fork bomb
//! included, except the image's start command (and what still runs under it), which the sandbox
//! exists for. The Python kernel is started again when it was among them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long a killed kernel may take to be reaped before it is started again.
const KERNEL_REAP_GRACE: Duration = Duration::from_secs(2);

pub fn routes() -> Router<AppState> {
    Router::new().route("/processes/kill-all", post(kill_all))
}

async fn kill_all(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let spared = match state.start_pid.load(Ordering::Relaxed) {
        0 => None,
        pid => Some(pid as i32),
    };
    // `None` while an execution holds the kernel: that execution then sees it die.
    let kernel = state.kernel.pid();
    state.background.mark_all_killed();
    let killed =
        tokio::task::spawn_blocking(move || crate::procs::session::kill_descendants(spared))
            .await
            .map_err(|e| ApiError::internal("kill the user processes", e))?;
    let kernel_killed = kernel.is_none_or(|pid| killed.contains(&(pid as i32)));
    let kernel_restarted = kernel_killed && state.warm_kernel(KERNEL_REAP_GRACE).await;
    tracing::info!(
        killed = killed.len(),
        kernel_restarted,
        "killed every user process"
    );
    Ok(Json(json!({
        "killed": killed.len(),
        "kernel_restarted": kernel_restarted,
        "timestamp": crate::util::now_ts(),
    })))
}
