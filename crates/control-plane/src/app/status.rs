//! The sandbox state machine.
//!
//! ```text
//! creating ──► running ◄──► paused
//!    │            │  ▲         │
//!    ▼            ▼  │ start   │ stop
//!  error       stopped ◄───────┘
//! (every state but deleted) ──► deleted
//! ```

use crate::error::ApiError;

/// An action that moves a sandbox between live states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Stop,
    Start,
}

impl Action {
    /// The statuses this action may start from.
    pub fn from(self) -> &'static [&'static str] {
        match self {
            Action::Pause => &["running"],
            Action::Resume => &["paused"],
            Action::Stop => &["running", "paused"],
            Action::Start => &["stopped"],
        }
    }

    /// The status this action ends in.
    pub fn to(self) -> &'static str {
        match self {
            Action::Pause => "paused",
            Action::Resume | Action::Start => "running",
            Action::Stop => "stopped",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Stop => "stop",
            Action::Start => "start",
        }
    }

    /// `Ok` when the action is possible from `status`, else the 409 to answer.
    pub fn check(self, status: &str) -> Result<(), ApiError> {
        if self.from().contains(&status) {
            Ok(())
        } else {
            Err(ApiError::InvalidTransition(format!(
                "Cannot {} a sandbox that is {status} (allowed from: {})",
                self.verb(),
                self.from().join(", ")
            )))
        }
    }
}

/// Every status a sandbox can have; `deleted` is never shown by the API.
pub const ALL: &[&str] = &[
    "creating", "running", "paused", "stopped", "error", "deleted",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_table() {
        let actions = [Action::Pause, Action::Resume, Action::Stop, Action::Start];
        let allowed: Vec<(&str, Action)> = ALL
            .iter()
            .flat_map(|s| actions.iter().map(move |a| (*s, *a)))
            .filter(|(s, a)| a.check(s).is_ok())
            .collect();
        assert_eq!(
            allowed,
            vec![
                ("running", Action::Pause),
                ("running", Action::Stop),
                ("paused", Action::Resume),
                ("paused", Action::Stop),
                ("stopped", Action::Start),
            ]
        );
        let err = Action::Pause.check("stopped").unwrap_err().to_string();
        assert!(
            err.contains("Cannot pause a sandbox that is stopped"),
            "{err}"
        );
    }
}
