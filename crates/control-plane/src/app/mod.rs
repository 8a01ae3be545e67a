//! The service layer: sandbox lifecycle rules and transaction boundaries. Handlers call these; these
//! call `db` and the runtime. Background work: the expiry reaper (every replica), and on the leader
//! replica ([`leader`]) the reconciler and the warm-pool refill.

pub mod actions;
pub mod capacity;
pub mod create;
pub mod credentials;
pub mod lazy_docker;
pub mod leader;
pub mod pool;
pub mod reaper;
pub mod reconcile;
