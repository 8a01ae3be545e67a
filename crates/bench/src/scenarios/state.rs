//! Scenario 10 (issue 15): state beyond a container. A snapshot of a sandbox that wrote 100 MB
//! beside the engine's own `docker commit` of a container that wrote the same; fork × 10 of it
//! beside ten cold creates at once; resume on traffic (auto-paused → the first request through the
//! router answered) beside the engine's unpause of the same container plus one request to its agent.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use futures::future::try_join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::Ctx;
use crate::docker;
use crate::report::{Row, Table, fmt_ms};
use crate::stats::Samples;
use crate::warren::{Path, Sandbox, Warren, ok_json};

/// What the snapshotted sandbox writes first.
const WRITE_100_MB: &str = "head -c 100M /dev/urandom > /workspace/blob && sync";
/// Forks (and cold creates of the baseline) at once.
const FORKS: usize = 10;
/// The idle time of the resumed sandbox; the server accepts it from 1 s (config/bench.toml).
const IDLE_SECONDS: u64 = 1;

async fn bash(w: &Warren, sb: &Sandbox, script: &str) -> anyhow::Result<()> {
    let resp = w
        .agent(sb, Path::Router, "", Method::POST, "/execute")
        .json(&json!({ "language": "bash", "code": script, "timeout": 300 }))
        .send()
        .await?;
    let v = ok_json(resp).await?;
    ensure!(v["exit_code"].as_i64() == Some(0), "`{script}`: {v}");
    Ok(())
}

async fn status(w: &Warren, id: &str) -> anyhow::Result<String> {
    let v = ok_json(
        w.api(Method::GET, &format!("/v1/sandboxes/{id}"))
            .send()
            .await?,
    )
    .await?;
    Ok(v["status"].as_str().unwrap_or_default().to_owned())
}

/// `POST path` with `body` on the API, timed; the answer.
async fn timed_post(w: &Warren, path: &str, body: Value) -> anyhow::Result<(Duration, Value)> {
    let t = Instant::now();
    let v = ok_json(w.api(Method::POST, path).json(&body).send().await?).await?;
    Ok((t.elapsed(), v))
}

pub async fn state(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let w = &ctx.warren;
    let template = o.cold_template.as_str();
    let cold = || json!({ "internet_access": false });

    // Snapshots of a sandbox that wrote 100 MB, and the engine's commit of a container that did.
    let parent = w.create_with(template, cold()).await?;
    bash(w, &parent, WRITE_100_MB).await?;
    let (mut snap, mut commit) = (Samples::default(), Samples::default());
    let snapshots = format!("/v1/sandboxes/{}/snapshots", parent.id);
    for _ in 0..o.n {
        let (d, v) = timed_post(w, &snapshots, json!({})).await?;
        snap.push(d);
        let id = v["id"].as_str().context("snapshot id")?;
        ok_json(
            w.api(Method::DELETE, &format!("/v1/snapshots/{id}"))
                .send()
                .await?,
        )
        .await?;
    }
    let name = "warren-bench-commit";
    docker::floor(&ctx.docker, name, &o.cold_image).await?;
    let committed = async {
        let write = "head -c 100M /dev/urandom > /blob && sync";
        docker::cli(&["exec", "-u", "0", name, "sh", "-c", write]).await?;
        for i in 0..o.n {
            let tag = format!("warren-bench-commit:{i}");
            commit.push(docker::cli(&["commit", name, &tag]).await?);
            docker::cli(&["rmi", &tag]).await?;
        }
        anyhow::Ok(())
    }
    .await;
    docker::remove(&ctx.docker, name).await?;
    committed?;

    // Fork × 10 of it, and ten cold creates at once.
    let (fork, forked) = timed_post(
        w,
        &format!("/v1/sandboxes/{}/fork", parent.id),
        json!({ "count": FORKS }),
    )
    .await?;
    let forks: Vec<&str> = forked
        .as_array()
        .context("fork answer")?
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    ensure!(forks.len() == FORKS, "forks made: {forked}");
    for id in &forks {
        w.delete(id).await.ok();
    }
    let t = Instant::now();
    let made = try_join_all((0..FORKS).map(|_| w.create_with(template, cold()))).await?;
    let creates = t.elapsed();
    for sb in made {
        w.delete(&sb.id).await?;
    }
    w.delete(&parent.id).await?;

    // Resume on traffic, and the engine's unpause of the same container plus one request.
    let sb = w
        .create_with(
            template,
            json!({ "auto_pause": IDLE_SECONDS, "internet_access": false }),
        )
        .await?;
    w.print_1(&sb).await?;
    let (mut resume, mut unpause) = (Samples::default(), Samples::default());
    let direct = docker::agent_addr(&ctx.docker, &sb.container()).await?;
    for _ in 0..o.n {
        let t = Instant::now();
        while status(w, &sb.id).await? != "paused" {
            ensure!(t.elapsed() < Duration::from_secs(30), "never auto-paused");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let t = Instant::now();
        let r = w
            .agent(&sb, Path::Router, "", Method::GET, "/info")
            .send()
            .await?;
        ensure!(r.status().is_success(), "after the resume: {}", r.status());
        resume.push(t.elapsed());
        // The baseline, on the running container: the engine pauses it, then unpause + a request.
        ctx.docker.pause_container(&sb.container()).await?;
        let t = Instant::now();
        ctx.docker.unpause_container(&sb.container()).await?;
        let r = w
            .http
            .get(format!("http://{direct}/info"))
            .bearer_auth(&sb.token)
            .send()
            .await?;
        ensure!(r.status().is_success(), "direct: {}", r.status());
        unpause.push(t.elapsed());
    }
    w.delete(&sb.id).await?;

    let mut t = Table::new(format!(
        "10. Snapshots, fork and resume on traffic (n = {})",
        o.n
    ));
    let (s, c) = (snap.pct(50.0), commit.pct(50.0));
    t.row(
        Row::new("snapshot of a sandbox that wrote 100 MB p50", fmt_ms(s))
            .against(format!("{} (`docker commit` of 100 MB)", fmt_ms(c)), s, c)
            .target("≤ 1000 ms", s <= 1000.0),
    );
    let (f, cr) = (ms(fork), ms(creates));
    t.row(
        Row::new(format!("fork × {FORKS} of it, all running"), fmt_ms(f))
            .against(
                format!("{} ({FORKS} cold creates at once)", fmt_ms(cr)),
                f,
                cr,
            )
            .target("≤ 1.5 × baseline", f <= 1.5 * cr),
    );
    let (r, u) = (resume.pct(50.0), unpause.pct(50.0));
    t.row(
        Row::new(
            "resume on traffic: auto-paused → first request answered p50",
            fmt_ms(r),
        )
        .against(
            format!("{} (engine unpause + one request)", fmt_ms(u)),
            r,
            u,
        )
        .target("≤ 50 ms", r <= 50.0),
    );
    t.note(format!(
        "Snapshot: `POST /v1/sandboxes/{{id}}/snapshots` of a running `{template}` sandbox after \
         `{WRITE_100_MB}` (filesystem only, `memory: false`), each deleted after; baseline `docker commit` \
         (CLI) of a plain container of the same image that wrote the same. Fork: one `POST .../fork \
         {{\"count\": {FORKS}}}` until its answer (every fork running), beside {FORKS} concurrent cold \
         creates (`internet_access: false`, no pool). Resume: a sandbox with `auto_pause: {IDLE_SECONDS}`, \
         polled until `paused`, then `GET /info` through the router timed; baseline: the engine's \
         unpause (bollard) of the same container paused by the engine, plus the same request straight \
         to its agent."
    ));
    Ok(t)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
