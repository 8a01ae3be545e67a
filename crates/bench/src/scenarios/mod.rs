//! The eight scenarios of issue 8, the desktop one of issue 14 and the state one of issue 15, one
//! table each.

mod api;
mod create;
mod density;
mod desktop;
mod exec;
mod files;
mod pause;
mod router;
mod state;

use crate::Ctx;
use crate::report::{Row, Table, fmt_ms};
use crate::stats::Samples;

/// Scenarios 1..=COUNT.
pub(crate) const COUNT: u8 = 10;
/// The desktop scenario, which needs the desktop template and its image.
pub(crate) const DESKTOP: u8 = 9;
/// The state scenario (snapshots, fork, auto-pause), which needs the btrfs sandbox disk and short
/// auto-pause settings (config/bench.toml).
pub(crate) const STATE: u8 = 10;

pub(crate) async fn run(ctx: &Ctx, n: u8) -> anyhow::Result<Table> {
    match n {
        1 => create::first_run(ctx).await,
        2 => create::concurrent(ctx).await,
        3 => exec::round_trip(ctx).await,
        4 => router::throughput(ctx).await,
        5 => api::throughput(ctx).await,
        6 => files::transfer(ctx).await,
        7 => density::idle(ctx).await,
        8 => pause::pause_resume(ctx).await,
        9 => desktop::desktop(ctx).await,
        10 => state::state(ctx).await,
        _ => anyhow::bail!("no scenario {n}"),
    }
}

/// Rows p50, p95 (when `p95`), p99 of `warren` beside the same percentile of `base`.
fn percentile_rows(table: &mut Table, what: &str, warren: &Samples, base: &Samples, p95: bool) {
    let ps: &[f64] = if p95 {
        &[50.0, 95.0, 99.0]
    } else {
        &[50.0, 99.0]
    };
    for &p in ps {
        let (w, b) = (warren.pct(p), base.pct(p));
        table.row(Row::new(format!("{what} p{p}"), fmt_ms(w)).against(fmt_ms(b), w, b));
    }
}
