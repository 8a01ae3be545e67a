//! End to end, issue 5's "done when": ONE real `warren serve` with the Docker runtime on a private
//! database, driven by the official SDKs exactly as a user would: the Python suite `tests/e2e_sdk/`
//! (`hopx-ai` 0.5.0, see `test_support::python`) and the TypeScript suite `tests/e2e_ts/`
//! (`@hopx-ai/sdk` 0.5.1, see `test_support::node`), at once, each with its own code-interpreter
//! sandbox. Every agent call and preview goes through the router at
//! `{id}.sandbox.localhost:{port}`, so Python must resolve `*.localhost` (`libnss-myhostname`).
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use test_support::node::run_node_tests;
use test_support::python::run_pytest;

use crate::docker::{clean_up, db_with_key, engine, serve_docker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_end_to_end_on_the_docker_engine() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine().await;
    let server = serve_docker(&db, &[]).await;
    let base = server.base.clone();
    let python = tokio::spawn({
        let (base, key) = (base.clone(), key.clone());
        async move {
            run_pytest(
                "tests/e2e_sdk",
                &[("WARREN_URL", &base), ("HOPX_API_KEY", &key)],
            )
            .await
        }
    });
    let typescript = tokio::spawn(async move {
        run_node_tests(
            "tests/e2e_ts",
            &[("WARREN_URL", &base), ("HOPX_API_KEY", &key)],
        )
        .await
    });
    // Both finish (a failed suite panics its task) before the containers go; then failures surface.
    let (python, typescript) = (python.await, typescript.await);
    drop(server);
    clean_up(&pool, &engine).await;
    let python = python.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let typescript = typescript.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    assert!(python.contains("25 passed"), "{python}");
    assert!(typescript.contains("# pass 5"), "{typescript}");
}
