//! Shared set-up: the runtime, sandboxes that clean up after themselves, and calls
//! to a sandbox's agent.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use api_types::agent::{ExecuteRequest, ExecuteResponse};
use runtime::{Isolation, Resources, SandboxSpec};
use runtime_docker::{DockerRuntime, DockerSettings};
use sandbox_token::TokenKey;

/// The smallest template image (bash, curl, coreutils).
pub const BASE_IMAGE: &str = "warren/template-base:latest";
/// A template image with Python.
pub const PYTHON_IMAGE: &str = "warren/template-python:latest";
/// The built-in desktop template (Xvfb, x11vnc, Chromium, …).
pub const DESKTOP_IMAGE: &str = "warren/template-desktop:latest";

/// Connects with the settings every real-engine test uses (`test_support::docker`: the static
/// agent from `WARREN_AGENT_STATIC_BIN` or a cached static debug build).
pub async fn runtime() -> DockerRuntime {
    let settings = DockerSettings {
        // Apart from the control plane's tests, whose reconciler removes containers it has no row for.
        instance: "runtime-docker-tests".into(),
        ..test_support::docker::docker_settings()
    };
    DockerRuntime::connect(&settings)
        .await
        .expect("connect to the Docker engine")
}

/// A fresh sandbox id.
pub fn sandbox_id() -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!("t{}", &uuid[..11])
}

pub fn resources() -> Resources {
    Resources {
        vcpu: 1,
        memory_mb: 512,
        disk_mb: 200,
    }
}

/// A sandbox spec with a fresh id and key; the guard removes the sandbox even when a test fails.
pub fn spec(image: &str) -> (SandboxSpec, TokenKey, Cleanup) {
    let key = TokenKey::generate();
    let spec = SandboxSpec {
        sandbox_id: sandbox_id(),
        template: "test".into(),
        image: image.into(),
        isolation: Isolation::Container,
        resources: resources(),
        env_vars: BTreeMap::new(),
        internet_access: true,
        token_key_hex: key.to_hex(),
        viewer_base: None,
        preview_epoch: 0,
        volumes: Vec::new(),
        snapshot_id: None,
    };
    let cleanup = Cleanup(spec.sandbox_id.clone());
    (spec, key, cleanup)
}

/// Removes a sandbox's container, its network holder and its subvolume when dropped (after a panic too).
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let container = format!("warren-{}", self.0);
        let holder = holder_of(&self.0).unwrap_or_default();
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &container, &holder])
            .output();
        // The sandbox's cgroups (children first), which the engine leaves.
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.filter_map(|e| e.ok()) {
                let parent = h.path().join("warren/runtime-docker-tests").join(&self.0);
                let children = std::fs::read_dir(&parent).into_iter().flatten();
                for child in children.filter_map(|e| e.ok()) {
                    let _ = std::fs::remove_dir(child.path());
                }
                let _ = std::fs::remove_dir(parent);
            }
        }
        let dir = subvolume(&self.0);
        if dir.exists() {
            let _ = Command::new("btrfs")
                .args(["subvolume", "delete"])
                .arg(dir)
                .output();
        }
    }
}

/// The id of the network holder the container of `sandbox_id` joined, if it exists.
pub fn holder_of(sandbox_id: &str) -> Option<String> {
    let mode = inspect(
        &format!("warren-{sandbox_id}"),
        "{{.HostConfig.NetworkMode}}",
    )?;
    mode.strip_prefix("container:").map(str::to_owned)
}

/// Where the sandbox's subvolume is.
pub fn subvolume(sandbox_id: &str) -> PathBuf {
    DockerSettings::default()
        .sandbox_disk_dir
        .expect("a default disk dir")
        .join(sandbox_id)
}

/// Whether Docker knows the container of `sandbox_id`.
pub fn container_exists(sandbox_id: &str) -> bool {
    Command::new("docker")
        .args(["inspect", &format!("warren-{sandbox_id}")])
        .output()
        .expect("run docker")
        .status
        .success()
}

/// Docker's answer to `docker inspect --format FORMAT NAME`, if NAME exists.
pub fn inspect(name: &str, format: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["inspect", "--format", format, name])
        .output()
        .expect("run docker");
    out.status.success().then(|| {
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    })
}

/// The environment the container of `sandbox_id` was created with.
pub fn container_env(sandbox_id: &str) -> String {
    let out = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{json .Config.Env}}",
            &format!("warren-{sandbox_id}"),
        ])
        .output()
        .expect("run docker");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// An agent client for tests (no proxy).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Runs `code` in `language` through the agent at `addr`.
pub async fn run(
    addr: SocketAddr,
    sandbox_id: &str,
    key: &TokenKey,
    language: &str,
    code: &str,
) -> ExecuteResponse {
    try_run(addr, sandbox_id, key, language, code)
        .await
        .expect("reach the agent")
}

/// [`run`], for agents that may fail to answer.
pub async fn try_run(
    addr: SocketAddr,
    sandbox_id: &str,
    key: &TokenKey,
    language: &str,
    code: &str,
) -> reqwest::Result<ExecuteResponse> {
    let token = key.sign(sandbox_id, now_unix() + 3600);
    let request = ExecuteRequest {
        code: code.into(),
        language: language.into(),
        workdir: None,
        timeout: Some(30),
        env: None,
        name: None,
        callback_url: None,
        callback_headers: None,
        callback_signature_secret: None,
    };
    let response = http()
        .post(format!("http://{addr}/execute"))
        .bearer_auth(token)
        .json(&request)
        .send()
        .await?
        .error_for_status()?;
    response.json().await
}

/// Runs a bash script through the agent; its stdout, after checking it exited 0.
pub async fn bash(addr: SocketAddr, sandbox_id: &str, key: &TokenKey, script: &str) -> String {
    let out = run(addr, sandbox_id, key, "bash", script).await;
    assert!(out.success, "{script}: {out:?}");
    out.stdout
}

/// Starts `command` through the agent's `/commands/background` (it outlives the request, where a
/// foreground command's leftovers are killed when it ends).
pub async fn background(addr: SocketAddr, sandbox_id: &str, key: &TokenKey, command: &str) {
    let token = key.sign(sandbox_id, now_unix() + 3600);
    let body = serde_json::json!({"command": command, "timeout": 3600});
    http()
        .post(format!("http://{addr}/commands/background"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("reach the agent")
        .error_for_status()
        .expect("a background command starts");
}

/// For each target (ip:port), whether a TCP connection to it succeeds from inside the sandbox
/// within 2 s. The probes run in parallel.
pub async fn connects(
    addr: SocketAddr,
    sandbox_id: &str,
    key: &TokenKey,
    targets: &[SocketAddr],
) -> Vec<bool> {
    let probes: String = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "(timeout 2 bash -c 'echo > /dev/tcp/{}/{}' 2>/dev/null && echo {i}=open || echo {i}=closed) &\n",
                t.ip(),
                t.port()
            )
        })
        .collect();
    let out = bash(addr, sandbox_id, key, &format!("{probes}wait")).await;
    (0..targets.len())
        .map(|i| {
            if out.contains(&format!("{i}=open")) {
                true
            } else {
                assert!(out.contains(&format!("{i}=closed")), "{out:?}");
                false
            }
        })
        .collect()
}

/// Whether the agent at `addr` answers `/health` with 200.
pub async fn healthy(addr: SocketAddr) -> bool {
    matches!(
        http().get(format!("http://{addr}/health")).send().await,
        Ok(r) if r.status() == 200
    )
}

/// Now, in unix seconds (token expiries).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
