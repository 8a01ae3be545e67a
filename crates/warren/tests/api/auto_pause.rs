//! Auto-pause (issue 15, docs/auto-pause.md) on the real engine: a `warren serve` whose idle pauser
//! looks every second, driven by `tests/auto_pause_sdk/` with the official Python SDK through the
//! router: an idle sandbox pauses after its `auto_pause` and an SDK `run_code` resumes it with its
//! kernel state; a background command or a listening server keeps one running; an unauthenticated
//! request does not wake one; a pause the user asked for stays; bad values are 400. In the
//! `docker-engine` test group.

use test_support::python::run_pytest;

use crate::docker::db_with_key;
use crate::volume_support::{engine_as, finish, serve_as};

/// The Docker instance of this test (no other test's reconciler removes its containers).
const INSTANCE: &str = "warren-tests-auto-pause";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sandboxes_pause_and_resume_on_traffic() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine_as(INSTANCE).await;
    let server = serve_as(
        INSTANCE,
        &db,
        &[
            ("WARREN_SANDBOXES__AUTO_PAUSE_MIN_SECONDS", "1"),
            ("WARREN_SANDBOXES__AUTO_PAUSE_INTERVAL_SECONDS", "1"),
        ],
    )
    .await;
    let base = server.base.clone();
    let out = tokio::spawn(async move {
        let env = [
            ("WARREN_URL", base.as_str()),
            ("HOPX_API_KEY", key.as_str()),
        ];
        run_pytest("tests/auto_pause_sdk", &env).await
    })
    .await;
    finish(server, &pool, &engine).await;
    let out = out.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    assert!(out.contains(" passed") && !out.contains("skipped"), "{out}");
}
