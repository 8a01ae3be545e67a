//! The tools, one module per area; each is a `#[tool_router]` on [`crate::WarrenMcp`].

pub mod code;
pub mod commands;
pub mod desktop;
pub mod files;
pub mod sandboxes;
pub mod state;
pub mod system;
