//! `warren`: parses the command line and hands over to [`control_plane::cli::run`].

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    control_plane::cli::run(control_plane::cli::Cli::parse()).await
}
