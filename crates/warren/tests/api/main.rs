//! Integration tests of the control plane over real TCP against a real Postgres (see
//! `test_support::postgres`), with the fake runtime. One binary, one module per resource.

mod auth;
mod bad_input;
mod bench_smoke;
mod capacity;
mod chaos;
mod chaos_restarts;
mod credentials;
mod docker;
mod e2e;
mod embedded;
mod escape_router;
mod exhaustion;
mod gvisor;
mod helpers;
mod hostile_strings;
mod lifecycle;
mod lifecycle_races;
mod listener_limits;
mod mcp;
mod metrics;
mod openapi;
mod pause_cycles;
mod pool;
mod rate_limit;
mod reconcile;
mod replicas;
mod router;
mod router_sdk;
mod router_support;
mod sandboxes;
mod sdk;
mod stack;
mod template_build;
mod template_jobs;
mod templates;
