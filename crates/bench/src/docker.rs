//! The raw Docker baselines (engine API through bollard, and the `docker` CLI where the issue names it).

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt as _;

pub fn connect() -> anyhow::Result<Docker> {
    Docker::connect_with_local_defaults().context("connect to the Docker engine")
}

/// A plain container of `image` that prints `ready` and then sleeps, on the default bridge.
async fn create_plain(docker: &Docker, name: &str, image: &str) -> anyhow::Result<()> {
    let body = ContainerCreateBody {
        image: Some(image.into()),
        entrypoint: Some(vec!["sh".into(), "-c".into()]),
        cmd: Some(vec!["echo ready; exec sleep infinity".into()]),
        labels: Some([("warren.bench".to_owned(), "1".to_owned())].into()),
        host_config: Some(HostConfig {
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    docker.create_container(Some(options), body).await?;
    Ok(())
}

/// The raw floor: engine create, attach and start of `image` until a process prints a line. The
/// container is left running (for the pause baseline); the caller removes it.
pub async fn floor(docker: &Docker, name: &str, image: &str) -> anyhow::Result<Duration> {
    let t = Instant::now();
    create_plain(docker, name, image).await?;
    let attach = AttachContainerOptionsBuilder::new()
        .stream(true)
        .stdout(true)
        .build();
    let mut output = docker.attach_container(name, Some(attach)).await?.output;
    docker.start_container(name, None).await?;
    let mut seen = String::new();
    while !seen.contains("ready") {
        let chunk = output.next().await.context("output ended early")??;
        seen.push_str(&chunk.to_string());
    }
    Ok(t.elapsed())
}

pub async fn remove(docker: &Docker, name: &str) -> anyhow::Result<()> {
    let remove = RemoveContainerOptionsBuilder::new().force(true).build();
    docker.remove_container(name, Some(remove)).await?;
    Ok(())
}

/// The sandbox agent's address (`ip:7777`) from the engine: the container's own address, or that of
/// the network-namespace holder it joined (`NetworkMode: container:<holder>`).
pub async fn agent_addr(docker: &Docker, container: &str) -> anyhow::Result<String> {
    let mut info = docker.inspect_container(container, None).await?;
    let joined = info
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.as_deref())
        .and_then(|m| m.strip_prefix("container:"))
        .map(str::to_owned);
    if let Some(holder) = joined {
        info = docker.inspect_container(&holder, None).await?;
    }
    let ip = info
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|n| {
            n.into_values()
                .find_map(|e| e.ip_address.filter(|ip| !ip.is_empty()))
        })
        .context("container has no IP")?;
    Ok(format!("{ip}:7777"))
}

pub async fn full_id(docker: &Docker, container: &str) -> anyhow::Result<String> {
    docker
        .inspect_container(container, None)
        .await?
        .id
        .context("container without id")
}

/// Memory cgroup (v1) usage and RSS of a container, in bytes: of its own cgroup for a plain
/// container, of its sandbox's cgroup parent (agent and user processes) for a Warren sandbox.
pub fn memory(full_id: &str) -> anyhow::Result<(u64, u64)> {
    let dir = memory_cgroup(full_id).display().to_string();
    let usage = std::fs::read_to_string(format!("{dir}/memory.usage_in_bytes"))
        .with_context(|| format!("read {dir}"))?;
    let stat = std::fs::read_to_string(format!("{dir}/memory.stat"))?;
    let rss = stat
        .lines()
        .find_map(|l| l.strip_prefix("total_rss "))
        .context("no total_rss")?;
    Ok((usage.trim().parse()?, rss.trim().parse()?))
}

/// The memory cgroup that holds all of the container's processes: `docker/<id>`, or the Warren
/// sandbox parent `warren/<instance>/<sandbox>` holding `<id>` and the user processes' `user`.
fn memory_cgroup(full_id: &str) -> std::path::PathBuf {
    let root = std::path::Path::new("/sys/fs/cgroup/memory");
    let warren = std::fs::read_dir(root.join("warren")).into_iter().flatten();
    let parents = warren
        .filter_map(|i| std::fs::read_dir(i.ok()?.path()).ok())
        .flatten();
    parents
        .filter_map(|p| Some(p.ok()?.path()))
        .find(|p| p.join(full_id).is_dir())
        .unwrap_or_else(|| root.join("docker").join(full_id))
}

/// Runs the `docker` CLI and returns how long it took; fails on a non-zero exit.
pub async fn cli(args: &[&str]) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let out = tokio::process::Command::new("docker")
        .args(args)
        .output()
        .await?;
    let elapsed = t.elapsed();
    if !out.status.success() {
        bail!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(elapsed)
}
