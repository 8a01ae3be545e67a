//! The service layer: sandbox lifecycle rules and transaction boundaries. Handlers call these; these
//! call `db` and the runtime.

pub mod actions;
pub mod create;
pub mod reaper;
pub mod status;
