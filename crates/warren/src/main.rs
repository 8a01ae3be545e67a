//! `warren`: parses the command line and hands over to [`warren::cli::run`].

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    warren::cli::run(warren::cli::Cli::parse()).await
}
