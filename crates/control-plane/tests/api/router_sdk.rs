//! The official Python SDK through the router: runs `tests/router_sdk/` with pytest against the
//! control plane, whose fake runtime starts a real `warren-agent` per sandbox. The SDK reaches each
//! agent at `public_host` (`http://{id}.sandbox.localhost:{port}`), so Python must resolve
//! `*.localhost` (install `libnss-myhostname`; `.ci/run` does).

use crate::router_support::spawn_router_app;
use crate::sdk::{python, workspace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_through_the_router() {
    let r = spawn_router_app().await;
    let py = tokio::task::spawn_blocking(python).await.expect("venv");
    let out = tokio::process::Command::new(py)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(workspace().join("tests/router_sdk"))
        .env("WARREN_URL", &r.app.address)
        .env("HOPX_API_KEY", &r.app.api_key)
        .env("NO_PROXY", "127.0.0.1,localhost,.localhost")
        .output()
        .await
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pytest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("5 passed"), "{stdout}");
}
