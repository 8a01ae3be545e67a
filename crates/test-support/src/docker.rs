//! Real-engine helpers: settings of the Docker backend for tests, with the static `warren-agent` it
//! mounts into every sandbox.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use runtime_docker::DockerSettings;

/// `[docker]` for tests: the default engine, networks and sandbox disk, the static agent, a state
/// directory under the temporary directory, and an `instance` of their own, so that a Warren running
/// on the same engine and the tests never reconcile away each other's containers. Two checkouts
/// testing on one engine at once set `WARREN_TEST_INSTANCE` apart (default `warren-tests`).
pub fn docker_settings() -> DockerSettings {
    let instance =
        std::env::var("WARREN_TEST_INSTANCE").unwrap_or_else(|_| "warren-tests".to_owned());
    let state_dir = std::env::temp_dir().join(format!("{instance}-state"));
    DockerSettings {
        instance,
        agent_binary: static_agent().to_owned(),
        state_dir,
        ..DockerSettings::default()
    }
}

/// `WARREN_AGENT_STATIC_BIN` if set, else a static debug build of the agent (cargo caches it).
fn static_agent() -> &'static Path {
    static AGENT: OnceLock<PathBuf> = OnceLock::new();
    AGENT.get_or_init(|| {
        if let Some(given) = std::env::var_os("WARREN_AGENT_STATIC_BIN") {
            return PathBuf::from(given);
        }
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let triple = "x86_64-unknown-linux-gnu";
        let mut cargo = std::process::Command::new(env!("CARGO"));
        // A test process carries its own package's `CARGO_*` variables; build scripts that watch them
        // (ring's watches CARGO_MANIFEST_DIR) would rebuild half the tree on every change of caller.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_") && !matches!(&*name, "CARGO_HOME" | "CARGO_TARGET_DIR") {
                cargo.env_remove(&*name);
            }
        }
        let built = cargo
            .current_dir(&workspace)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .args([
                "build",
                "--quiet",
                "-p",
                "agent",
                "--bin",
                "warren-agent",
                "--target",
                triple,
            ])
            .status()
            .expect("run cargo build for the static agent");
        assert!(built.success(), "building the static agent failed");
        // Where cargo put it: `CARGO_TARGET_DIR` when the caller set one (relative to the
        // workspace, where cargo ran), else the workspace's `target`.
        let target =
            workspace.join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or("target".into()));
        target.join(format!("{triple}/debug/warren-agent"))
    })
}
