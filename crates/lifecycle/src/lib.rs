//! The sandbox lifecycle, in one place: [`SandboxStatus`] (what Postgres stores), [`Action`] (what a
//! client or the reconciler asks) and the transitions between them.
//!
//! ```text
//!            creating ──────────────► running ──pausing──► paused
//!               │                     ▲  │ ▲                │ │
//!               ▼                     │  │ └───resuming─────┘ │
//!             error        starting ──┘  stopping             │ stopping
//!                              ▲            ▼                 ▼
//!                              └────────  stopped ◄───────────┘
//! (every state but deleted) ──► deleted
//! ```
//!
//! Every action writes its transitional state (`pausing`, `resuming`, `stopping`, `starting`) before
//! the runtime is asked to do anything, and its final state after; a conditional update from the
//! state read is what serializes two actions on one sandbox. A row left in a transitional state (the
//! server died mid-action) is finished by the reconciler, which drives the runtime toward the
//! action's target. Only `running` is routed. The API shows each transitional state as the state the
//! sandbox is leaving, except `stopping`, which is shown as `stopped` (a stop cannot be undone once
//! begun), so the SDKs only ever see the statuses of the Hopx contract.

use std::fmt;
use std::str::FromStr;

/// Every state of a sandbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SandboxStatus {
    Creating,
    Starting,
    Running,
    Pausing,
    Paused,
    Resuming,
    Stopping,
    Stopped,
    Error,
    Deleted,
}

use SandboxStatus as S;

impl SandboxStatus {
    pub const ALL: [Self; 10] = [
        S::Creating,
        S::Starting,
        S::Running,
        S::Pausing,
        S::Paused,
        S::Resuming,
        S::Stopping,
        S::Stopped,
        S::Error,
        S::Deleted,
    ];

    /// The name stored in Postgres (and in `NOTIFY` payloads).
    pub fn as_str(self) -> &'static str {
        match self {
            S::Creating => "creating",
            S::Starting => "starting",
            S::Running => "running",
            S::Pausing => "pausing",
            S::Paused => "paused",
            S::Resuming => "resuming",
            S::Stopping => "stopping",
            S::Stopped => "stopped",
            S::Error => "error",
            S::Deleted => "deleted",
        }
    }

    /// The state a stored name stands for; a name this version does not know reads as `error`.
    pub fn stored(name: &str) -> Self {
        name.parse().unwrap_or(S::Error)
    }

    /// The status the API shows (one of the Hopx contract's).
    pub fn wire(self) -> &'static str {
        match self {
            S::Pausing => "running",
            S::Resuming => "paused",
            S::Starting | S::Stopping => "stopped",
            s => s.as_str(),
        }
    }

    /// The states the API shows as `wire` (empty for a name the API never shows).
    pub fn shown_as(wire: &str) -> Vec<Self> {
        Self::ALL.into_iter().filter(|s| s.wire() == wire).collect()
    }

    /// The action under way in a transitional state.
    pub fn in_progress(self) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.via() == self)
    }

    /// Whether the router sends traffic to the sandbox.
    pub fn routable(self) -> bool {
        self == S::Running
    }

    /// Whether the sandbox exists for its organization: counted against its live limit, owning a
    /// runtime sandbox the reconciler keeps (every state but `error` and `deleted`).
    pub fn is_live(self) -> bool {
        !matches!(self, S::Error | S::Deleted)
    }

    /// Whether the sandbox holds CPU and memory (admitted against the capacity): every live state but
    /// `stopped`, whose sandbox keeps only its disk.
    pub fn is_active(self) -> bool {
        self.is_live() && self != S::Stopped
    }

    /// The names of the states `pick` selects, as bound to a query (`status = ANY($n)`).
    pub fn names_where(pick: fn(Self) -> bool) -> Vec<String> {
        let picked: Vec<Self> = Self::ALL.into_iter().filter(|s| pick(*s)).collect();
        Self::names(&picked)
    }

    /// The names of `states`.
    pub fn names(states: &[Self]) -> Vec<String> {
        states.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

impl fmt::Display for SandboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one of `all` whose `name` is `s`.
fn named<T: Copy>(all: &[T], name: fn(T) -> &'static str, s: &str) -> Result<T, UnknownStatus> {
    all.iter()
        .copied()
        .find(|x| name(*x) == s)
        .ok_or_else(|| UnknownStatus(s.to_owned()))
}

/// A stored name that is no [`SandboxStatus`] (or [`PoolStatus`]).
#[derive(Debug, thiserror::Error)]
#[error("unknown sandbox status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for SandboxStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        named(&Self::ALL, Self::as_str, s)
    }
}

/// An action that moves a sandbox between live states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Pause,
    Resume,
    Stop,
    Start,
}

impl Action {
    pub const ALL: [Self; 4] = [Action::Pause, Action::Resume, Action::Stop, Action::Start];

    /// The states this action may start from.
    pub fn from(self) -> &'static [SandboxStatus] {
        match self {
            Action::Pause => &[S::Running],
            Action::Resume => &[S::Paused],
            Action::Stop => &[S::Running, S::Paused],
            Action::Start => &[S::Stopped],
        }
    }

    /// The state written before the runtime is asked, and held while it works.
    pub fn via(self) -> SandboxStatus {
        match self {
            Action::Pause => S::Pausing,
            Action::Resume => S::Resuming,
            Action::Stop => S::Stopping,
            Action::Start => S::Starting,
        }
    }

    /// The state the action ends in.
    pub fn to(self) -> SandboxStatus {
        match self {
            Action::Pause => S::Paused,
            Action::Resume | Action::Start => S::Running,
            Action::Stop => S::Stopped,
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Stop => "stop",
            Action::Start => "start",
        }
    }

    /// `Ok` when the action may begin from `status`, else why not.
    pub fn check(self, status: SandboxStatus) -> Result<(), Refused> {
        if self.from().contains(&status) {
            Ok(())
        } else {
            Err(Refused {
                action: self,
                status,
            })
        }
    }
}

/// An action asked of a sandbox in a state it cannot begin from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct Refused {
    pub action: Action,
    pub status: SandboxStatus,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed: Vec<&str> = self.action.from().iter().map(|s| s.as_str()).collect();
        write!(
            f,
            "Cannot {} a sandbox that is {} (allowed from: {})",
            self.action.verb(),
            self.status,
            allowed.join(", ")
        )?;
        if let Some(under_way) = self.status.in_progress() {
            write!(
                f,
                "; a {} is under way, retry when it ends",
                under_way.verb()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

/// The state of a warm-pool sandbox, which belongs to nobody yet (its own table, no sandbox row): a
/// claim turns a `ready` one into a `running` sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolStatus {
    /// Being created and configured.
    Starting,
    /// Running, its agent waiting for the configure step of a claim.
    Ready,
}

impl PoolStatus {
    pub const ALL: [Self; 2] = [PoolStatus::Starting, PoolStatus::Ready];

    pub fn as_str(self) -> &'static str {
        match self {
            PoolStatus::Starting => "starting",
            PoolStatus::Ready => "ready",
        }
    }
}

impl FromStr for PoolStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        named(&Self::ALL, Self::as_str, s)
    }
}
