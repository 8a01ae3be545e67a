//! `warren-bench`: run the benchmark scenarios against a live Warren (see docs/BENCHMARKS.md).

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bench::run(bench::Options::parse()).await
}
