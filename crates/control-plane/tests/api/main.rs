//! Integration tests of the control plane over real TCP against a real Postgres (see
//! `test_support::postgres`), with the fake runtime. One binary, one module per resource.

mod auth;
mod bad_input;
mod helpers;
mod lifecycle;
mod rate_limit;
mod replicas;
mod sandboxes;
mod sdk;
mod templates;
