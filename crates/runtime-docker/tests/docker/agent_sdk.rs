//! The agent's official-SDK suite (`tests/agent_sdk`, `Sandbox.debug`) against an agent inside a real
//! sandbox container: the code-interpreter template, made by the Docker backend, hardened as in
//! production (user code as uid 1000, disk quota, capabilities dropped).

use runtime::SandboxRuntime as _;
use test_support::python::run_pytest;

use crate::helpers::*;

const CODE_INTERPRETER_IMAGE: &str = "warren/template-code-interpreter:latest";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_suite_passes_against_the_agent_in_a_container() {
    let rt = runtime().await;
    let (mut spec, key, _cleanup) = spec(CODE_INTERPRETER_IMAGE);
    spec.resources.memory_mb = 2048;
    spec.resources.disk_mb = 1024;
    let sandbox = rt.create(&spec).await.expect("create the sandbox");
    let url = format!("http://{}", sandbox.agent_addr);
    let stdout = run_pytest(
        "tests/agent_sdk",
        &[
            ("WARREN_AGENT_URL", &url),
            ("WARREN_AGENT_SANDBOX_ID", &spec.sandbox_id),
            ("WARREN_AGENT_TOKEN_KEY", &key.to_hex()),
        ],
    )
    .await;
    assert!(stdout.contains(" passed"), "{stdout}");
    assert!(
        !stdout.contains("skipped"),
        "every test runs in a container: {stdout}"
    );
    rt.destroy(&spec.sandbox_id).await.unwrap();
}
