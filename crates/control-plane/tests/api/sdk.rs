//! The official Python SDK, `hopx-ai==0.5.0`, against the control plane (with the fake runtime):
//! runs `tests/control_sdk/` with pytest.
//!
//! Python: `WARREN_TEST_PYTHON` if set (an interpreter with `hopx-ai==0.5.0` and `pytest`), else a
//! venv made once in `target/control-sdk-venv` with `python3 -m venv` and pip (needs `python3-venv`
//! and access to PyPI the first time).

use std::path::{Path, PathBuf};
use std::process::Command;

use test_support::spawn_app;

const SDK: &str = "hopx-ai==0.5.0";

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WARREN_TEST_PYTHON") {
        return p.into();
    }
    let venv = workspace().join("target/control-sdk-venv");
    let py = venv.join("bin/python");
    let ready = Command::new(&py)
        .args([
            "-c",
            "import importlib.metadata as m, pytest; assert m.version('hopx-ai') == '0.5.0'",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let made = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "python3 -m venv failed (install python3-venv)"
        );
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", SDK, "pytest"])
            .status();
        assert!(
            pip.is_ok_and(|s| s.success()),
            "pip install {SDK} pytest failed"
        );
    }
    py
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk() {
    let app = spawn_app().await;
    let py = tokio::task::spawn_blocking(python).await.unwrap();
    let out = tokio::process::Command::new(py)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(workspace().join("tests/control_sdk"))
        .env("WARREN_URL", &app.address)
        .env("HOPX_API_KEY", &app.api_key)
        .env("NO_PROXY", "127.0.0.1,localhost")
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
