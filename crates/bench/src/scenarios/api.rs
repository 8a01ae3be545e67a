//! Scenario 5: control-plane reads per second with authentication and rate limiting on.

use reqwest::Method;

use crate::Ctx;
use crate::load;
use crate::report::{Row, Table, fmt_ms};

pub async fn throughput(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let w = &ctx.warren;
    let sb = w.create(&o.warm_template).await?;
    let health = {
        let req = w.http.get(format!("{}/health", w.url)).build()?;
        load::run(&w.http, o.connections, ctx.load_time(), &req).await
    };
    let mut t = Table::new(format!(
        "5. Control plane reads, {} connections, {} s each, with API key and rate limit",
        o.connections, o.seconds
    ));
    t.row(Row::new(
        "GET /health (no auth) rps",
        format!("{:.0}", health.rps),
    ));
    for path in [
        format!("/v1/sandboxes/{}", sb.id),
        "/v1/sandboxes".to_owned(),
    ] {
        let req = w.api(Method::GET, &path).build()?;
        let l = load::run(&w.http, o.connections, ctx.load_time(), &req).await;
        let name = if path.ends_with("sandboxes") {
            "GET /v1/sandboxes"
        } else {
            "GET /v1/sandboxes/{id}"
        };
        let row = Row::new(format!("{name} rps"), format!("{:.0}", l.rps)).against(
            format!("{:.0} (/health)", health.rps),
            l.rps,
            health.rps,
        );
        t.row(if path.ends_with("sandboxes") {
            row
        } else {
            row.target(
                "≥ 5000 and ≥ 0.5 × /health",
                l.rps >= 5000.0 && l.rps >= 0.5 * health.rps,
            )
        });
        t.row(Row::new(
            format!("{name} p50 / p99"),
            format!(
                "{} / {}",
                fmt_ms(l.latency.pct(50.0)),
                fmt_ms(l.latency.pct(99.0))
            ),
        ));
        if l.errors > 0 {
            t.note(format!("{name}: {} requests failed (non-2xx).", l.errors));
        }
    }
    t.note("The list holds the one sandbox of this scenario (the organization has no other).");
    Ok(t)
}
