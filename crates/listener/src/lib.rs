//! Serving HTTP on a TCP listener with the limits every Warren listener has (`warren serve` and
//! `warren-agent`): a header-read timeout, a keep-alive idle timeout, a cap on open connections
//! ([`serve`]), and a minimum request-body rate for uploads ([`MinRate`]). A slow client cannot hold a
//! connection, a task and a file handle for ever.

mod activity;
mod min_rate;
mod serve;

pub use min_rate::{Cut, MinRate};
pub use serve::{Limits, refusal, serve};
