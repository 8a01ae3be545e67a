//! What a desktop operation answers when it cannot do what was asked. The agent maps it to its error
//! envelope in one place (`agent::error`); the status is a plain number so this crate needs no HTTP stack.

use serde_json::{Map, Value};

/// A refused or failed desktop operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DesktopError {
    /// HTTP status.
    pub status: u16,
    /// Stable UPPER_SNAKE code.
    pub code: &'static str,
    pub message: String,
    pub details: Map<String, Value>,
}

pub type DesktopResult<T> = Result<T, DesktopError>;

impl DesktopError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// 400 `INVALID_REQUEST`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_REQUEST", message)
    }

    /// 400 `INVALID_COORDINATES`: a point or region not on the screen.
    pub fn off_screen(what: &str, width: u32, height: u32) -> Self {
        Self::new(
            400,
            "INVALID_COORDINATES",
            format!("{what} is not on the {width}x{height} screen"),
        )
        .with_detail("screen_width", width)
        .with_detail("screen_height", height)
    }

    /// 501 `DESKTOP_NOT_AVAILABLE`, with the programs the image lacks.
    pub fn not_available(missing: Vec<String>) -> Self {
        Self::new(
            501,
            "DESKTOP_NOT_AVAILABLE",
            "Desktop automation is not available in this sandbox",
        )
        .with_detail("missing_dependencies", missing)
    }

    /// 503 `DESKTOP_STARTING`: the display is not (or no longer) up; it is being (re)started.
    pub fn display_down(reason: impl std::fmt::Display) -> Self {
        Self::new(
            503,
            "DESKTOP_STARTING",
            format!("The display is not ready yet ({reason}); retry shortly"),
        )
    }

    /// 500 `DESKTOP_ERROR`: a desktop program failed. `what` is safe to show (no paths of the agent).
    pub fn failed(what: impl Into<String>) -> Self {
        Self::new(500, "DESKTOP_ERROR", what)
    }
}
