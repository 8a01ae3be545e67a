//! Issue 17's "done when": Warren's MCP server driven by the official MCP Python SDK (`mcp` 2.3.0,
//! `tests/mcp_sdk/`) against ONE real `warren serve` with the Docker runtime: `/mcp` over
//! Streamable HTTP (the client's automatic mode and the older session handshake forced) and
//! `warren mcp` over stdio (this test's `warren` binary). Agent calls go through the router at
//! `{id}.sandbox.localhost:{port}`.
//!
//! Another organization holds a running sandbox; the suite checks that its id reads exactly like a
//! missing one. In the `docker-engine` test group (`.config/nextest.toml`).

use test_support::python::run_pytest;

use crate::docker::{clean_up, create, db_with_key, engine, serve_docker};

const WARREN: &str = env!("CARGO_BIN_EXE_warren");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_mcp_client_over_http_and_stdio() {
    let (db, pool, key) = db_with_key().await;
    control_plane::admin::create_org(&pool, "other", None, None)
        .await
        .unwrap();
    let (_, other_key) = control_plane::admin::create_key(&pool, "other", None)
        .await
        .unwrap();
    let engine = engine().await;
    let server = serve_docker(&db, &[]).await;
    let foreign = create(&reqwest::Client::new(), &server.base, &other_key)
        .await
        .expect("the other organization's sandbox");
    let foreign_id = foreign["id"].as_str().unwrap().to_owned();
    let suite = tokio::spawn({
        let base = server.base.clone();
        async move {
            run_pytest(
                "tests/mcp_sdk",
                &[
                    ("WARREN_URL", &base),
                    ("WARREN_API_KEY", &key),
                    ("WARREN_BIN", WARREN),
                    ("FOREIGN_SANDBOX_ID", &foreign_id),
                ],
            )
            .await
        }
    })
    .await;
    drop(server);
    clean_up(&pool, &engine).await;
    let out = suite.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    assert!(out.contains("19 passed"), "{out}");
}
