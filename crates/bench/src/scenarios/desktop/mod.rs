//! Scenario 9 (issue 14): desktop sandboxes. Create to first screenshot, cold and warm, beside create to
//! first `print(1)`; a screenshot through the router beside ImageMagick `import` inside the sandbox and
//! through `docker exec`; a click and a typed key to changed pixels; memory beside a code-interpreter sandbox.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use reqwest::Method;
use serde_json::{Value, json};

mod input;

use crate::Ctx;
use crate::docker;
use crate::report::{Row, Table, fmt_ms};
use crate::stats::Samples;
use crate::warren::{Path, Sandbox, Warren, ok_json};

const MB: f64 = 1024.0 * 1024.0;
/// How long after its first screenshot a sandbox's memory is read.
const SETTLE: Duration = Duration::from_secs(10);

/// `GET /desktop/screenshot` through the router: the PNG, checked, and its width and height.
async fn screenshot(w: &Warren, sb: &Sandbox) -> anyhow::Result<(Vec<u8>, u32, u32)> {
    let resp = w
        .agent(sb, Path::Router, "", Method::GET, "/desktop/screenshot")
        .send()
        .await?;
    let status = resp.status();
    let png = resp.bytes().await?.to_vec();
    if !status.is_success() {
        bail!(
            "screenshot: HTTP {status}: {}",
            String::from_utf8_lossy(&png)
        );
    }
    ensure!(
        png.len() > 24 && png.starts_with(b"\x89PNG"),
        "screenshot is no PNG"
    );
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    let (width, height) = (be(16), be(20));
    Ok((png, width, height))
}

/// Create (with `extra` fields), then a first screenshot (`desktop`) or `print(1)` until one
/// succeeds, timed from the create request's start.
async fn to_first(
    w: &Warren,
    template: &str,
    extra: Value,
    desktop: bool,
) -> anyhow::Result<(Sandbox, Duration)> {
    let t = Instant::now();
    let sb = w.create_with(template, extra).await?;
    for tries in 1.. {
        let done = if desktop {
            screenshot(w, &sb).await.map(drop)
        } else {
            w.print_1(&sb).await
        };
        match done {
            Ok(()) => break,
            Err(e) if tries >= 100 => return Err(e.context(format!("sandbox {}", sb.id))),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    Ok((sb, t.elapsed()))
}

/// A command through the agent's `/commands/run`; its stdout, failing on a non-zero exit.
async fn run(w: &Warren, sb: &Sandbox, script: &str) -> anyhow::Result<String> {
    let resp = w
        .agent(sb, Path::Router, "", Method::POST, "/commands/run")
        .json(&json!({ "command": script, "timeout": 300 }))
        .send()
        .await?;
    let v = ok_json(resp).await?;
    ensure!(v["exit_code"].as_i64() == Some(0), "`{script}` failed: {v}");
    Ok(v["stdout"].as_str().unwrap_or_default().to_owned())
}

async fn post(w: &Warren, sb: &Sandbox, path: &str, body: Value) -> anyhow::Result<Value> {
    let resp = w
        .agent(sb, Path::Router, "", Method::POST, path)
        .json(&body)
        .send()
        .await?;
    ok_json(resp).await.with_context(|| path.to_owned())
}

/// Milliseconds held in samples, from nanoseconds printed one a line.
fn nanos(out: &str) -> anyhow::Result<Samples> {
    let mut s = Samples::default();
    for l in out.lines().filter(|l| !l.trim().is_empty()) {
        s.push(Duration::from_nanos(
            l.trim().parse().context(l.to_owned())?,
        ));
    }
    Ok(s)
}

pub async fn desktop(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let w = &ctx.warren;
    let desk = o.desktop_template.as_str();
    // No internet access: such a sandbox never comes from the pool, so this is a cold create of the
    // pooled desktop template; its baseline has the same shape.
    let cold_shape = || json!({ "internet_access": false });
    let (mut cold, mut cold_base) = (Samples::default(), Samples::default());
    for _ in 0..o.n {
        let (sb, d) = to_first(w, desk, cold_shape(), true).await?;
        cold.push(d);
        w.delete(&sb.id).await?;
        let (sb, d) = to_first(w, &o.cold_template, cold_shape(), false).await?;
        cold_base.push(d);
        w.delete(&sb.id).await?;
    }
    let (mut warm, mut warm_base) = (Samples::default(), Samples::default());
    for _ in 0..o.n {
        tokio::time::sleep(Duration::from_millis(o.desktop_pace_ms)).await;
        let (sb, d) = to_first(w, desk, json!({}), true).await?;
        warm.push(d);
        w.delete(&sb.id).await?;
        let (sb, d) = to_first(w, &o.warm_template, json!({}), false).await?;
        warm_base.push(d);
        w.delete(&sb.id).await?;
    }

    // Screenshots: through the router, `import` inside the sandbox, `import` through `docker exec`.
    let (sb, _) = to_first(w, desk, json!({}), true).await?;
    let (png, width, height) = screenshot(w, &sb).await?;
    let mut shots = Samples::default();
    for _ in 0..o.shots {
        let t = Instant::now();
        screenshot(w, &sb).await?;
        shots.push(t.elapsed());
    }
    let inside = nanos(
        &run(
            w,
            &sb,
            &format!(
                "for i in $(seq {}); do s=$(date +%s%N); import -display :1 -window root png:- >/dev/null \
                 || exit 1; e=$(date +%s%N); echo $((e - s)); done",
                o.shots
            ),
        )
        .await?,
    )?;
    let container = sb.container();
    let mut exec = Samples::default();
    for _ in 0..o.shots {
        let args = [
            "exec", &container, "import", "-display", ":1", "-window", "root", "png:-",
        ];
        exec.push(docker::cli(&args).await?);
    }

    // Input until a screenshot differs: clicks that move the focus between two xterms, typed keys.
    let input = input::reactions(w, &sb, &png, o.shots).await?;
    w.delete(&sb.id).await?;

    // Memory, 10 s after the first screenshot (and first print(1) for the baseline).
    let (d, _) = to_first(w, desk, json!({}), true).await?;
    let (c, _) = to_first(w, &o.cold_template, json!({}), false).await?;
    tokio::time::sleep(SETTLE).await;
    let (d_use, d_rss) = docker::memory(&docker::full_id(&ctx.docker, &d.container()).await?)?;
    let (c_use, c_rss) = docker::memory(&docker::full_id(&ctx.docker, &c.container()).await?)?;

    let mut t = Table::new(format!(
        "9. Desktop sandboxes (`{desk}`; n = {}, {} screenshots per series)",
        o.n, o.shots
    ));
    let pcts: &[f64] = if o.n >= 10 { &[50.0, 90.0] } else { &[50.0] };
    for (name, s, base, what, limit) in [
        (
            "cold (no pool)",
            &cold,
            &cold_base,
            &o.cold_template,
            1500.0,
        ),
        ("warm (pool)", &warm, &warm_base, &o.warm_template, 100.0),
    ] {
        for &p in pcts {
            let (v, b) = (s.pct(p), base.pct(p));
            let row = Row::new(format!("create → first screenshot, {name} p{p}"), fmt_ms(v))
                .against(format!("{} (`{what}` → print(1))", fmt_ms(b)), v, b);
            t.row(if p == 50.0 {
                row.target(format!("≤ {limit} ms"), v <= limit)
            } else {
                row
            });
        }
    }
    let shot = shots.pct(50.0);
    let size = format!("screenshot {width}×{height} through the router p50");
    t.row(
        Row::new(&size, fmt_ms(shot))
            .against(
                format!("{} (`import` inside)", fmt_ms(inside.pct(50.0))),
                shot,
                inside.pct(50.0),
            )
            .target("≤ 40 ms", shot <= 40.0),
    );
    t.row(Row::new(&size, fmt_ms(shot)).against(
        format!("{} (`docker exec … import`)", fmt_ms(exec.pct(50.0))),
        shot,
        exec.pct(50.0),
    ));
    t.row(Row::new(
        "screenshot p99 / PNG size",
        format!(
            "{} / {:.0} KB",
            fmt_ms(shots.pct(99.0)),
            png.len() as f64 / 1024.0
        ),
    ));
    for (what, r) in [("click", &input.click), ("typed key", &input.key)] {
        let s = r.seen.pct(50.0);
        t.row(
            Row::new(
                format!("{what} → changed pixels in a screenshot p50"),
                fmt_ms(s),
            )
            .against(format!("{} (one screenshot)", fmt_ms(shot)), s, shot)
            .target("≤ 50 ms", s <= 50.0),
        );
        t.row(Row::new(
            format!("the {what} call alone p50 / screenshots until the change p50"),
            format!("{} / {:.0}", fmt_ms(r.call.pct(50.0)), r.tries.pct(50.0)),
        ));
    }
    for (name, dv, cv) in [("cgroup usage", d_use, c_use), ("total_rss", d_rss, c_rss)] {
        let (dm, cm) = (dv as f64 / MB, cv as f64 / MB);
        t.row(
            Row::new(
                format!("memory 10 s after the first screenshot: {name}"),
                format!("{dm:.1} MB"),
            )
            .against(format!("{cm:.1} MB (`{}`)", o.cold_template), dm, cm)
            .target("≤ 80 MB", dm <= 80.0),
        );
    }
    t.note(format!(
        "Create → first screenshot: from the create request's start to the end of the first successful \
         `GET /desktop/screenshot` through the router; the baseline is create → first `print(1)` of `{}` \
         (cold) and `{}` (warm, its pool), measured alternately in the same run. Cold creates ask \
         `internet_access: false`, which no pool serves, for both the desktop and its baseline; warm creates \
         are {} ms apart so the pools refill. Screenshots: {} through the router, beside ImageMagick \
         `import -display :1 -window root png:-` timed inside the sandbox (a shell loop through \
         `/commands/run` with `date +%s%N` around each, no HTTP) and the same `import` as a whole \
         `docker exec` from the host, its PNG read by the CLI. {} Memory: the \
         memory cgroup (v1) of the sandbox (`memory.usage_in_bytes`, which includes page cache, and \
         `total_rss` of `memory.stat`), {} s after its first screenshot, beside a `{}` sandbox {} s after \
         its first print(1).",
        o.cold_template,
        o.warm_template,
        o.desktop_pace_ms,
        o.shots,
        input::METHOD,
        SETTLE.as_secs(),
        o.cold_template,
        SETTLE.as_secs(),
    ));
    Ok(t)
}
