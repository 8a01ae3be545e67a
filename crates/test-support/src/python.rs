//! The Python interpreter that runs the official SDK's test suites (`tests/`).
//!
//! `WARREN_TEST_PYTHON` if set (an interpreter with `hopx-ai==0.5.0` and `pytest`; `scripts/test.sh`
//! points it at `.venv`), else a venv made once in `target/sdk-venv` from `tests/requirements.txt`
//! with `python3 -m venv` and pip (needs `python3-venv` and access to PyPI the first time).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An interpreter with the pinned SDK and pytest; made on first use, once per process.
pub fn sdk_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Some(p) = std::env::var_os("WARREN_TEST_PYTHON") {
            return p.into();
        }
        let venv = workspace().join("target/sdk-venv");
        let py = venv.join("bin/python");
        let ready = Command::new(&py)
            .args([
                "-c",
                "import importlib.metadata as m, pytest; assert m.version('hopx-ai') == '0.5.0' and m.version('mcp') == '2.3.0'",
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
                .args(["install", "--quiet", "-r"])
                .arg(workspace().join("tests/requirements.txt"))
                .status();
            assert!(
                pip.is_ok_and(|s| s.success()),
                "pip install -r tests/requirements.txt failed"
            );
        }
        py
    })
}

/// Runs `pytest -q` on `suite` (a path under the workspace) with `env`; panics with pytest's output
/// unless it passes. Returns pytest's stdout.
pub async fn run_pytest(suite: &str, env: &[(&str, &str)]) -> String {
    let py = tokio::task::spawn_blocking(sdk_python).await.unwrap();
    let mut pytest = tokio::process::Command::new(py);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(workspace().join(suite))
        .envs(env.iter().copied());
    passing_stdout(pytest, &format!("pytest {suite}")).await
}

/// Runs `cmd` (a test runner) with no proxy for local hosts; panics with its output unless it exits
/// successfully. Returns its stdout.
pub(crate) async fn passing_stdout(mut cmd: tokio::process::Command, what: &str) -> String {
    let out = cmd
        .env("NO_PROXY", "127.0.0.1,localhost,.localhost")
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
