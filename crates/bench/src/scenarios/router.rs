//! Scenario 4: the router against straight to the agent, at N concurrent connections.

use reqwest::Method;

use crate::Ctx;
use crate::docker;
use crate::load;
use crate::report::{Row, Table, fmt_ms};
use crate::warren::{PRINT_1, Path};

pub async fn throughput(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let sb = ctx
        .warren
        .create_to_first_run(&o.warm_template)
        .await?
        .sandbox;
    let addr = docker::agent_addr(&ctx.docker, &sb.container()).await?;
    let mut t = Table::new(format!(
        "4. Router vs direct to the agent, {} connections, {} s per side",
        o.connections, o.seconds
    ));
    for (method, path, body) in [
        (Method::GET, "/health", ""),
        (Method::POST, "/execute", PRINT_1),
    ] {
        let mut figures = Vec::new();
        for via in [Path::Direct, Path::Router] {
            let req = ctx
                .warren
                .agent(&sb, via, &addr, method.clone(), path)
                .body(body)
                .build()?;
            figures.push(load::run(&ctx.warren.http, o.connections, ctx.load_time(), &req).await);
        }
        let (d, r) = (&figures[0], &figures[1]);
        let name = format!("{method} {path}");
        t.row(
            Row::new(format!("{name} rps"), format!("{:.0}", r.rps))
                .against(format!("{:.0}", d.rps), r.rps, d.rps)
                .target("≥ 0.85 × direct", r.rps >= 0.85 * d.rps),
        );
        for p in [50.0, 99.0] {
            let (rl, dl) = (r.latency.pct(p), d.latency.pct(p));
            t.row(Row::new(format!("{name} p{p}"), fmt_ms(rl)).against(fmt_ms(dl), rl, dl));
        }
        if r.errors + d.errors > 0 {
            t.note(format!(
                "{name}: {} routed and {} direct requests failed.",
                r.errors, d.errors
            ));
        }
    }
    t.note(format!(
        "Baseline: the same client straight to the agent at {addr} (its address from `docker inspect`). The \
         in-process router bench with a fake runtime is `cargo bench -p control-plane --bench router` (docs/router.md)."
    ));
    Ok(t)
}
