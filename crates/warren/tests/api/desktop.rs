//! Desktop sandboxes (issue 14) end to end: ONE real `warren serve` with the Docker runtime on a
//! private database, the built-in `desktop` template, driven as a user would:
//! - `tests/desktop_sdk/`: every `sandbox.desktop` method of the official Python SDK (`hopx-ai`
//!   0.5.0), each checked by its effect inside the sandbox, and a code-interpreter sandbox's
//!   `DesktopNotAvailableError`;
//! - `tests/desktop_browser/`: the official TypeScript SDK's core desktop flow, and the noVNC viewer
//!   at the URL the agent returns, opened in headless Chromium (Debian's `chromium`, driven by
//!   `playwright-core`), checked against the agent's own screenshot; without its preview token the
//!   router refuses it. Page screenshots are kept in `target/test-artifacts/desktop/`.
//!
//! The suites run one after the other (a desktop sandbox is heavy for a 2-core machine). Every call goes
//! through the router at `{id}.sandbox.localhost:{port}` and `6080-{id}.sandbox.localhost:{port}`.
//! In the `docker-engine` test group (`.config/nextest.toml`).

use std::path::PathBuf;

use test_support::node::run_node_tests;
use test_support::python::{run_pytest, workspace};

use crate::docker::{clean_up, db_with_key, engine, serve_docker};

/// `target/test-artifacts/desktop` of the target directory this test binary was built in.
fn artifacts() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/api-… → target
    let target = exe
        .ancestors()
        .nth(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let dir = target.join("test-artifacts/desktop");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_sandboxes_with_the_official_sdks_and_a_browser() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine().await;
    let server = serve_docker(&db, &[]).await;
    let base = server.base.clone();
    let artifacts = artifacts().display().to_string();
    let python = tokio::spawn({
        let (base, key) = (base.clone(), key.clone());
        async move {
            run_pytest(
                "tests/desktop_sdk",
                &[("WARREN_URL", &base), ("HOPX_API_KEY", &key)],
            )
            .await
        }
    })
    .await;
    let browser = tokio::spawn(async move {
        run_node_tests(
            "tests/desktop_browser",
            &[
                ("WARREN_URL", &base),
                ("HOPX_API_KEY", &key),
                ("WARREN_ARTIFACTS", &artifacts),
            ],
        )
        .await
    })
    .await;
    drop(server);
    clean_up(&pool, &engine).await;
    let python = python.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let browser = browser.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    assert!(
        python.contains(" passed") && !python.contains("skipped"),
        "{python}"
    );
    assert!(browser.contains("# fail 0"), "{browser}");
}
