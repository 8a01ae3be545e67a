//! The `warren` binary's library: the command line ([`cli`]), what `warren serve` does before it
//! listens ([`serve`]), the sandbox runtime it drives ([`runtime`], the one place that links the
//! Docker backend) and logging ([`telemetry`]). `src/main.rs` is a thin shell over [`cli::run`].

pub mod cli;
pub mod runtime;
pub mod serve;
pub mod telemetry;
