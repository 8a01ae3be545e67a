//! Scenarios 1 and 2: create to first `print(1)`, warm and cold, against the raw Docker floor; and
//! concurrent creates.

use std::time::{Duration, Instant};

use super::percentile_rows;
use crate::Ctx;
use crate::docker;
use crate::report::{Row, Table, fmt_ms};
use crate::stats::Samples;

pub async fn first_run(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let (mut warm, mut cold, mut floor) =
        (Samples::default(), Samples::default(), Samples::default());
    // The create call alone, cold and warm: the rest is the first print(1) (the kernel's start).
    let (mut cold_create, mut warm_create) = (Samples::default(), Samples::default());
    for i in 0..o.n {
        // Cold and floor alternate, so load changes hit both.
        let run = ctx.warren.create_to_first_run(&o.cold_template).await?;
        cold.push(run.total);
        cold_create.push(run.create);
        ctx.warren.delete(&run.sandbox.id).await?;
        let name = format!("warren-bench-floor-{i}");
        let f = docker::floor(&ctx.docker, &name, &o.cold_image).await;
        docker::remove(&ctx.docker, &name).await?;
        floor.push(f?);
    }
    for _ in 0..o.n {
        tokio::time::sleep(Duration::from_millis(o.warm_pace_ms)).await;
        let run = ctx.warren.create_to_first_run(&o.warm_template).await?;
        warm.push(run.total);
        warm_create.push(run.create);
        ctx.warren.delete(&run.sandbox.id).await?;
    }
    let mut t = Table::new(format!(
        "1. Create to first successful print(1) through the router (n = {})",
        o.n
    ));
    percentile_rows(
        &mut t,
        &format!("cold `{}`", o.cold_template),
        &cold,
        &floor,
        true,
    );
    let ratio = cold.pct(50.0) / floor.pct(50.0);
    t.rows[0] = t.rows[0].clone().target("≤ 1.3 × floor", ratio <= 1.3);
    for (p, limit) in [(50.0, 50.0), (95.0, f64::INFINITY), (99.0, 150.0)] {
        let w = warm.pct(p);
        let row = Row::new(format!("warm `{}` (pool) p{p}", o.warm_template), fmt_ms(w)).against(
            fmt_ms(floor.pct(p)),
            w,
            floor.pct(p),
        );
        t.row(if limit.is_finite() {
            row.target(format!("≤ {limit} ms"), w <= limit)
        } else {
            row
        });
    }
    for (name, s) in [("cold", &cold_create), ("warm", &warm_create)] {
        t.row(Row::new(
            format!("{name}: the create call alone p50 / p99"),
            format!("{} / {}", fmt_ms(s.pct(50.0)), fmt_ms(s.pct(99.0))),
        ));
    }
    t.note(format!(
        "Baseline: the raw Docker floor, engine create + attach + start of `{}` (bollard) until `sh -c 'echo ready'` \
         prints, cap-drop ALL, default bridge. Cold and floor alternate. Warm creates are {} ms apart so the pool \
         refills; each sandbox is deleted (not timed) before the next create.",
        o.cold_image, o.warm_pace_ms
    ));
    Ok(t)
}

pub async fn concurrent(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let start = Instant::now();
    let results = futures::future::join_all((0..o.concurrent).map(|_| async {
        let t = Instant::now();
        ctx.warren
            .create(&o.cold_template)
            .await
            .map(|_| t.elapsed())
    }))
    .await;
    let all = start.elapsed();
    let mut lat = Samples::default();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(d) => lat.push(d),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let mut t = Table::new(format!(
        "2. {} concurrent creates of `{}`",
        o.concurrent, o.cold_template
    ));
    t.row(
        Row::new("succeeded", format!("{} / {}", lat.count(), o.concurrent))
            .target("all", errors.is_empty()),
    );
    for p in [50.0, 95.0, 99.0] {
        t.row(Row::new(format!("create latency p{p}"), fmt_ms(lat.pct(p))));
    }
    t.row(Row::new(
        "creates per second",
        format!("{:.1}", lat.count() as f64 / all.as_secs_f64()),
    ));
    t.row(Row::new(
        "all done after",
        fmt_ms(all.as_secs_f64() * 1000.0),
    ));
    if let Some(e) = errors.first() {
        t.note(format!("First error: {e}"));
    }
    Ok(t)
}
