//! The Warren control plane: organizations and API keys, per-organization rate limits and sandbox caps
//! kept in Postgres (shared by every replica), and the sandbox and template lifecycle API of
//! `shared/api/CONTRACT.md` §2. The `warren` binary (`src/main.rs`) is a thin shell over [`cli`].
//!
//! Layout: [`http`] (routes, extractors, auth middleware) → [`app`] (lifecycle rules, transaction
//! boundaries, the reaper) → [`db`] (one module per table group), with sandboxes driven through the
//! [`runtime::SandboxRuntime`] trait. [`router`] serves the sandboxes' own hosts on the same port. Errors go through [`error::ApiError`], the one place that maps
//! them to status codes and stable codes.

pub mod admin;
pub mod app;
pub mod auth_cache;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod cursor;
pub mod db;
pub mod embedded;
pub mod error;
pub mod http;
pub mod ids;
pub mod images;
pub mod keys;
pub mod metrics;
pub mod request_id;
pub mod router;
pub mod serve;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod templates;
pub mod views;
