//! The official Python SDK, `hopx-ai==0.5.0`, against the control plane (with the fake runtime):
//! runs `tests/control_sdk/` with pytest.
//!
//! Python: see `test_support::python`.

use test_support::python::run_pytest;
use test_support::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk() {
    let app = spawn_app().await;
    let stdout = run_pytest(
        "tests/control_sdk",
        &[("WARREN_URL", &app.address), ("HOPX_API_KEY", &app.api_key)],
    )
    .await;
    assert!(stdout.contains("5 passed"), "{stdout}");
}
