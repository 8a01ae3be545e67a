//! Test harness for Warren.
//!
//! * [`postgres`]: a private Postgres cluster started from the installed `initdb`/`pg_ctl` when
//!   `DATABASE_URL` is unset, shared by every test process (cargo test and nextest alike), and a fresh
//!   migrated database per test, cloned from a template database.
//! * [`app`]: [`spawn_app`] builds the real control plane (`Application::build`) on a random port over
//!   real TCP, with a [`runtime::fake::FakeRuntime`], an organization and an API key.
//! * [`agent`]: real `warren-agent` processes behind the fake runtime's sandboxes (router tests).
//! * [`docker`]: settings of the real Docker backend, with the static agent.
//! * [`python`]: the interpreter with the official SDK, and running its pytest suites.
//! * [`node`]: running the official TypeScript SDK's suites with node's built-in test runner.
//! * [`attacks`]: the resource attacks of the exhaustion suites.

pub mod agent;
pub mod app;
pub mod attacks;
pub mod docker;
pub mod node;
pub mod postgres;
pub mod python;

pub use app::{Replica, TestApp, spawn_app, spawn_app_on, spawn_app_with};
pub use postgres::{TestDatabase, test_database};
