//! User processes: spawning as the sandbox user, reaping, supervised capture, background registry.

pub mod background;
pub mod capture;
pub mod limits;
pub mod session;
pub mod spawn;
pub mod system;
