//! The Warren control plane's HTTP API: organizations and API keys, per-organization rate limits
//! and sandbox caps kept in Postgres (shared by every replica), and the sandbox and template
//! lifecycle API of `shared/api/CONTRACT.md` §2.
//!
//! Layout: [`http`] (routes, extractors, the auth middleware and its [`auth_cache`]) calls the
//! `scheduler` crate (lifecycle rules, transaction boundaries, background work) and the
//! `template_builder` crate, which call the `db` crate, with sandboxes driven through the
//! [`runtime::SandboxRuntime`] trait: this crate links no runtime backend. [`startup`] wires it all
//! behind the `router` crate, which serves the sandboxes' own hosts on the same port. Errors go
//! through `api_error::ApiError`, the one place that maps them to status codes and stable codes.
//! The `warren` crate is the binary.

pub mod admin;
pub mod auth_cache;
pub mod bootstrap;
pub mod http;
pub mod metrics;
pub mod startup;
pub mod state;
pub mod wake;
