//! The cold-create figure: create-to-healthy p50 over 20 creates against the raw Docker floor
//! (engine create and start of the same image until a process prints a line), in the same run; and
//! the claim of a warm-pool sandbox (the runtime's share of a pooled create).
//! Ignored by default: `cargo nextest run -p runtime-docker --run-ignored only bench::`; use a
//! release agent (`WARREN_AGENT_STATIC_BIN=$(scripts/build-agent.sh | tail -1)`).

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt as _;
use runtime::{PooledSpec, SandboxRuntime as _};

use crate::helpers::*;

const ROUNDS: usize = 20;

#[tokio::test]
#[ignore = "benchmark"]
async fn cold_create_against_the_raw_floor() {
    let rt = runtime().await;
    let docker = Docker::connect_with_local_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        let (spec, _key, _cleanup) = spec(BASE_IMAGE);
        let t = Instant::now();
        rt.create(&spec).await.unwrap();
        let create = t.elapsed();
        rt.destroy(&spec.sandbox_id).await.unwrap();
        let raw = raw_floor(&docker).await;
        // The first round warms caches and is dropped.
        if round > 0 {
            ours.push(create);
            floor.push(raw);
        }
    }
    let (p50_ours, p50_floor) = (p50(&mut ours), p50(&mut floor));
    println!(
        "cold create-to-healthy p50 {p50_ours:?} | raw floor (create+start until first line) p50 \
         {p50_floor:?} | ratio {:.2} (n={ROUNDS})",
        p50_ours.as_secs_f64() / p50_floor.as_secs_f64()
    );

    let mut claims = Vec::new();
    for _ in 0..ROUNDS {
        let (spec, _key, _cleanup) = spec(BASE_IMAGE);
        let pooled = rt
            .create_pooled(&PooledSpec {
                sandbox_id: spec.sandbox_id.clone(),
                template: spec.template.clone(),
                image: spec.image.clone(),
                isolation: spec.isolation,
                resources: spec.resources,
                configure_secret: "bench-secret".into(),
            })
            .await
            .unwrap();
        let t = Instant::now();
        rt.claim(&pooled, &spec).await.unwrap();
        claims.push(t.elapsed());
        rt.destroy(&spec.sandbox_id).await.unwrap();
    }
    claims.sort();
    println!(
        "claim of a pooled sandbox p50 {:?} p95 {:?} (n={ROUNDS})",
        claims[ROUNDS / 2],
        claims[ROUNDS * 95 / 100]
    );
}

fn p50(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Engine create, attach, start until `ready` is printed; then removal (not timed).
async fn raw_floor(docker: &Docker) -> Duration {
    let name = format!("warren-floor-{}", sandbox_id());
    let t = Instant::now();
    let body = ContainerCreateBody {
        image: Some(BASE_IMAGE.into()),
        cmd: Some(vec![
            "sh".into(),
            "-c".into(),
            "echo ready; exec sleep infinity".into(),
        ]),
        host_config: Some(HostConfig {
            network_mode: Some(runtime_docker::DockerSettings::default().network.name),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::new().name(&name).build();
    docker.create_container(Some(options), body).await.unwrap();
    let attach = AttachContainerOptionsBuilder::new()
        .stream(true)
        .stdout(true)
        .build();
    let mut output = docker
        .attach_container(&name, Some(attach))
        .await
        .unwrap()
        .output;
    docker.start_container(&name, None).await.unwrap();
    let mut seen = String::new();
    while !seen.contains("ready") {
        let chunk = output.next().await.expect("output ends early").unwrap();
        seen.push_str(&chunk.to_string());
    }
    let elapsed = t.elapsed();
    let remove = RemoveContainerOptionsBuilder::new().force(true).build();
    docker.remove_container(&name, Some(remove)).await.unwrap();
    elapsed
}
