//! Scenario 8: pause and resume through the API, against the engine's pause/unpause.

use std::time::Instant;

use reqwest::Method;

use super::percentile_rows;
use crate::Ctx;
use crate::docker;
use crate::report::Table;
use crate::stats::Samples;
use crate::warren::ok_json;

pub async fn pause_resume(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let w = &ctx.warren;
    let sb = w.create_to_first_run(&o.warm_template).await?.sandbox;
    let (mut pause, mut resume) = (Samples::default(), Samples::default());
    for _ in 0..o.pause_rounds {
        for (samples, action) in [(&mut pause, "pause"), (&mut resume, "resume")] {
            let t = Instant::now();
            ok_json(
                w.api(Method::POST, &format!("/v1/sandboxes/{}/{action}", sb.id))
                    .send()
                    .await?,
            )
            .await?;
            samples.push(t.elapsed());
        }
    }
    w.print_1(&sb).await?;
    let name = "warren-bench-pause";
    docker::floor(&ctx.docker, name, &o.cold_image).await?;
    let (mut raw_pause, mut raw_unpause) = (Samples::default(), Samples::default());
    let raw = async {
        for _ in 0..o.pause_rounds {
            let t = Instant::now();
            ctx.docker.pause_container(name).await?;
            raw_pause.push(t.elapsed());
            let t = Instant::now();
            ctx.docker.unpause_container(name).await?;
            raw_unpause.push(t.elapsed());
        }
        anyhow::Ok(())
    }
    .await;
    docker::remove(&ctx.docker, name).await?;
    raw?;
    let mut t = Table::new(format!(
        "8. Pause and resume ({} rounds) vs engine pause/unpause",
        o.pause_rounds
    ));
    percentile_rows(&mut t, "pause", &pause, &raw_pause, false);
    percentile_rows(&mut t, "resume", &resume, &raw_unpause, false);
    t.note("Warren: `POST /v1/sandboxes/{id}/pause` and `/resume` (API, database and engine); baseline: the engine API's pause/unpause (bollard) of a plain container of the same image. print(1) runs after the last resume.");
    Ok(t)
}
