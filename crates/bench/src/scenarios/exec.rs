//! Scenario 3: `print(1)` on the warm kernel and the command `true`, through the router, against
//! `docker exec`.

use std::time::Instant;

use reqwest::Method;

use super::percentile_rows;
use crate::Ctx;
use crate::docker;
use crate::report::Table;
use crate::stats::Samples;
use crate::warren::{PRINT_1, Path, ok_json};

const TRUE: &str = r#"{"command":"true","timeout":60}"#;

pub async fn round_trip(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let w = &ctx.warren;
    let sb = w.create_to_first_run(&o.warm_template).await?.sandbox;
    let (mut print, mut tru) = (Samples::default(), Samples::default());
    for (samples, path, body) in [
        (&mut print, "/execute", PRINT_1),
        (&mut tru, "/commands/run", TRUE),
    ] {
        for _ in 0..o.calls {
            let t = Instant::now();
            let resp = w
                .agent(&sb, Path::Router, "", Method::POST, path)
                .body(body)
                .send()
                .await?;
            let v = ok_json(resp).await?;
            samples.push(t.elapsed());
            anyhow::ensure!(
                v["exit_code"].as_i64().unwrap_or(0) == 0,
                "{path} failed: {v}"
            );
        }
    }
    let container = sb.container();
    let (mut d_print, mut d_true) = (Samples::default(), Samples::default());
    for _ in 0..o.docker_calls {
        d_print.push(docker::cli(&["exec", &container, "python3", "-c", "print(1)"]).await?);
        d_true.push(docker::cli(&["exec", &container, "true"]).await?);
    }
    let mut t = Table::new(format!(
        "3. Execution round trip through the router ({} calls) vs `docker exec` ({} calls)",
        o.calls, o.docker_calls
    ));
    percentile_rows(&mut t, "print(1), warm kernel", &print, &d_print, false);
    let p50 = print.pct(50.0);
    t.rows[0] = t.rows[0].clone().target("≤ 3 ms", p50 <= 3.0);
    percentile_rows(&mut t, "command `true`", &tru, &d_true, false);
    let speedup = d_print.pct(50.0) / p50;
    t.row(
        crate::report::Row::new(
            "docker exec print(1) p50 / Warren print(1) p50",
            format!("{speedup:.1} ×"),
        )
        .target("≥ 20 ×", speedup >= 20.0),
    );
    t.note(
        "Baseline: the `docker` CLI, `docker exec <container> python3 -c 'print(1)'` (a new interpreter each \
         time) and `docker exec <container> true`, on the same sandbox container. Warren's `true` is \
         `POST /commands/run {\"command\":\"true\"}` (run by a shell).",
    );
    Ok(t)
}
