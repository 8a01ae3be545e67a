//! Scenario 7: memory per idle sandbox with many live, and create latency as they accumulate.

use std::time::Instant;

use crate::Ctx;
use crate::docker;
use crate::report::{Row, Table, fmt_ms};
use crate::stats::Samples;

/// Sandboxes whose kernel is warmed for the second memory figure.
const WARMED: usize = 10;
/// A built-in template without Python: its agent starts no kernel, for the "agent alone" figure.
const NO_KERNEL_TEMPLATE: &str = "base";
const MB: f64 = 1024.0 * 1024.0;

/// Memory-cgroup usage and RSS of each container, in MB held as milliseconds (pct() gives MB back).
fn memory_of(ids: &[String]) -> anyhow::Result<(Samples, Samples)> {
    let (mut usage, mut rss) = (Samples::default(), Samples::default());
    for id in ids {
        let (u, r) = docker::memory(id)?;
        usage.push(std::time::Duration::from_secs_f64(u as f64 / MB / 1000.0));
        rss.push(std::time::Duration::from_secs_f64(r as f64 / MB / 1000.0));
    }
    Ok((usage, rss))
}

/// A `/proc/meminfo` field (e.g. `MemAvailable:`) in MB; 0 when unreadable.
fn meminfo_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

pub async fn idle(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let w = &ctx.warren;
    let before = meminfo_mb("MemAvailable:");
    let step = (o.density / 4).max(1);
    let mut buckets = vec![Samples::default(); o.density.div_ceil(step)];
    let mut sandboxes = Vec::new();
    for i in 0..o.density {
        let t = Instant::now();
        sandboxes.push(w.create(&o.cold_template).await?);
        buckets[i / step].push(t.elapsed());
    }
    let after = meminfo_mb("MemAvailable:");
    let mut ids = Vec::new();
    for sb in &sandboxes {
        ids.push(docker::full_id(&ctx.docker, &sb.container()).await?);
    }
    let (idle_usage, idle_rss) = memory_of(&ids)?;
    let mut warmed = Vec::new();
    for (sb, id) in sandboxes.iter().zip(&ids).take(WARMED) {
        w.print_1(sb).await?;
        warmed.push(id.clone());
    }
    let (warm_usage, warm_rss) = memory_of(&warmed)?;
    let mut bare = Vec::new();
    for _ in 0..WARMED.min(o.density) {
        let sb = w.create(NO_KERNEL_TEMPLATE).await?;
        bare.push(docker::full_id(&ctx.docker, &sb.container()).await?);
    }
    let (bare_usage, bare_rss) = memory_of(&bare)?;
    // Samples hold MB as milliseconds: pct() gives MB back.
    let mb = |s: &Samples, p: f64| format!("{:.1} MB", s.pct(p));
    let mut t = Table::new(format!(
        "7. Density: {} idle `{}` sandboxes",
        o.density, o.cold_template
    ));
    t.row(
        Row::new(
            "idle (kernel started at boot, no code run): cgroup usage p50 / max",
            format!("{} / {}", mb(&idle_usage, 50.0), mb(&idle_usage, 100.0)),
        )
        .target("≤ 15 MB", idle_usage.pct(50.0) <= 15.0),
    );
    t.row(Row::new(
        "idle (kernel started at boot): RSS p50 / max",
        format!("{} / {}", mb(&idle_rss, 50.0), mb(&idle_rss, 100.0)),
    ));
    t.row(Row::new(
        format!(
            "warm kernel (print(1) ran; n = {}): usage p50 / max",
            warm_usage.count()
        ),
        format!("{} / {}", mb(&warm_usage, 50.0), mb(&warm_usage, 100.0)),
    ));
    t.row(Row::new(
        "warm kernel: RSS p50 / max",
        format!("{} / {}", mb(&warm_rss, 50.0), mb(&warm_rss, 100.0)),
    ));
    t.row(
        Row::new(
            format!(
                "kernel not started (`{NO_KERNEL_TEMPLATE}`, no Python; n = {}): usage p50 / max",
                bare_usage.count()
            ),
            format!("{} / {}", mb(&bare_usage, 50.0), mb(&bare_usage, 100.0)),
        )
        .target("≤ 15 MB", bare_usage.pct(50.0) <= 15.0),
    );
    t.row(Row::new(
        "kernel not started: RSS p50 / max",
        format!("{} / {}", mb(&bare_rss, 50.0), mb(&bare_rss, 100.0)),
    ));
    let used = before - after;
    t.row(
        Row::new(
            format!("host MemAvailable with {} live", o.density),
            format!(
                "{after:.0} MB ({used:.0} MB less, {:.1} MB each)",
                used / o.density as f64
            ),
        )
        .target(
            "all fit, ≥ 25 % of memory left",
            after >= 0.25 * meminfo_mb("MemTotal:"),
        ),
    );
    for (i, b) in buckets.iter().enumerate() {
        t.row(Row::new(
            format!(
                "create latency with {}..{} live p50 / p99",
                i * step,
                ((i + 1) * step).min(o.density)
            ),
            format!("{} / {}", fmt_ms(b.pct(50.0)), fmt_ms(b.pct(99.0))),
        ));
    }
    t.note(
        "Memory from the memory cgroup (v1) of each container: `memory.usage_in_bytes` (includes page cache, \
         e.g. the files written at start) and `total_rss` from `memory.stat`. The agent starts its Python \
         kernel in the background as soon as it listens (docs/agent.md), so an idle sandbox of a Python \
         template holds a started kernel; the `base` template has no Python and shows the agent alone. \
         Creates are sequential; the latency is the API's create call (container started, agent healthy).",
    );
    Ok(t)
}
