//! The official TypeScript SDK's test suites (`tests/e2e_ts/`): node's built-in test runner over a
//! package whose `package-lock.json` pins `@hopx-ai/sdk`. Needs `node` and `npm` (20 or later) and,
//! the first time, access to the npm registry (`npm ci`).

use std::process::Command;

use crate::python::{passing_stdout, workspace};

/// Installs `suite`'s locked dependencies unless present, then runs `node --test` in it with `env`;
/// panics with the runner's output unless every test passes. Returns its stdout.
pub async fn run_node_tests(suite: &str, env: &[(&str, &str)]) -> String {
    let dir = workspace().join(suite);
    let installed = dir.join("node_modules");
    if !installed.exists() {
        let dir = dir.clone();
        let ci = tokio::task::spawn_blocking(move || {
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(dir)
                .status()
        })
        .await
        .unwrap();
        assert!(ci.is_ok_and(|s| s.success()), "npm ci in {suite} failed");
    }
    let mut node = tokio::process::Command::new("node");
    node.arg("--test")
        .current_dir(&dir)
        .envs(env.iter().copied());
    passing_stdout(node, &format!("node --test {suite}")).await
}
