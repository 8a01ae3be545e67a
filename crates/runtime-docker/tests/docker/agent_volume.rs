//! The agent from a named volume (`agent_volume`), as a Warren running in a container gives it to
//! sandboxes (docs/deployment.md).

use std::process::Command;

use runtime::{RuntimeError, SandboxRuntime as _};
use runtime_docker::{DockerRuntime, DockerSettings};

use crate::helpers::*;

/// A named volume holding the static agent as `warren-agent`; removed when dropped.
struct AgentVolume(String);

impl AgentVolume {
    fn filled() -> Self {
        let volume = Self(format!("warren-test-agent-{}", sandbox_id()));
        let agent = test_support::docker::docker_settings().agent_binary;
        let source = format!("{}:/src/warren-agent:ro", agent.display());
        let target = format!("{}:/agent", volume.0);
        let out = Command::new("docker")
            .args([
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                &source,
                "-v",
                &target,
            ])
            .args(["debian:bookworm-slim", "cp", "/src/warren-agent", "/agent/"])
            .output()
            .expect("run docker");
        assert!(out.status.success(), "{out:?}");
        volume
    }
}

impl Drop for AgentVolume {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
    }
}

fn settings(volume: &str) -> DockerSettings {
    DockerSettings {
        instance: "runtime-docker-tests".into(),
        agent_volume: Some(volume.into()),
        // Not used when there is a volume.
        agent_binary: "/nonexistent/warren-agent".into(),
        ..test_support::docker::docker_settings()
    }
}

#[tokio::test]
async fn sandboxes_run_the_agent_of_the_volume_read_only() {
    let missing = format!("warren-test-agent-{}", sandbox_id());
    match DockerRuntime::connect(&settings(&missing)).await {
        Err(RuntimeError::Failed(e)) => assert!(e.to_string().contains(&missing), "{e}"),
        other => panic!("connect without the volume: {other:?}"),
    }

    let volume = AgentVolume::filled();
    let rt = DockerRuntime::connect(&settings(&volume.0)).await.unwrap();
    let (spec, key, _cleanup) = spec(BASE_IMAGE);
    let id = spec.sandbox_id.clone();
    let sbx = rt.create(&spec).await.unwrap();
    assert_eq!(bash(sbx.agent_addr, &id, &key, "id -u").await, "1000\n");
    let out = Command::new("docker")
        .args(["inspect", "--format"])
        .arg("{{json .Config.Entrypoint}} {{range .Mounts}}{{.Name}}:{{.Destination}}:{{.RW}} {{end}}")
        .arg(format!("warren-{id}"))
        .output()
        .expect("run docker");
    let inspect = String::from_utf8(out.stdout).unwrap();
    assert!(
        inspect.starts_with(r#"["/.warren/bin/warren-agent"]"#),
        "{inspect}"
    );
    assert!(
        inspect.contains(&format!(" {}:/.warren/bin:false ", volume.0)),
        "{inspect}"
    );
    rt.destroy(&id).await.unwrap();
    assert!(!container_exists(&id));
}
