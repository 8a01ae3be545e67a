//! `warren-agent [--] [start command…]`: see the library docs and `docs/agent.md`.
//! `warren-agent --hold`: does nothing until SIGTERM or SIGINT (the process of the Docker backend's
//! network-namespace holders, docs/runtime-docker.md).

use std::process::ExitCode;

use warren_agent::Application;
use warren_agent::config::Config;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--hold") {
        return hold();
    }
    let filter = std::env::var("WARREN_AGENT_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::from_env(std::env::vars(), std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    // SAFETY: no other thread has started yet, and the configuration holds every variable needed.
    unsafe { warren_agent::scrub::initial_environment() };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build();
    let result = runtime.map_err(anyhow::Error::from).and_then(|rt| {
        rt.block_on(async {
            let app = Application::build(config).await?;
            app.run_until_stopped().await
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "warren-agent failed");
            ExitCode::FAILURE
        }
    }
}

/// Waits for SIGTERM or SIGINT with both blocked, so that as PID 1 (which has no default action for
/// them) it still ends on `docker stop`.
fn hold() -> ExitCode {
    use nix::sys::signal::{SigSet, Signal};
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    match signals.thread_block().and_then(|()| signals.wait()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warren-agent --hold: {e}");
            ExitCode::FAILURE
        }
    }
}
