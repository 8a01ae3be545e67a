//! The official Python SDK through the router: runs `tests/router_sdk/` with pytest against the
//! control plane, whose fake runtime starts a real `warren-agent` per sandbox. The SDK reaches each
//! agent at `public_host` (`http://{id}.sandbox.localhost:{port}`), so Python must resolve
//! `*.localhost` (install `libnss-myhostname`; `.ci/run` does). Python: see `test_support::python`.

use test_support::python::run_pytest;

use crate::router_support::spawn_router_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_through_the_router() {
    let r = spawn_router_app().await;
    let stdout = run_pytest(
        "tests/router_sdk",
        &[
            ("WARREN_URL", &r.app.address),
            ("HOPX_API_KEY", &r.app.api_key),
        ],
    )
    .await;
    assert!(stdout.contains("5 passed"), "{stdout}");
}
