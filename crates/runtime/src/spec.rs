//! The requests and answers that cross the runtime interface.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

/// The compute a sandbox may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    pub vcpu: u32,
    pub memory_mb: u32,
    pub disk_mb: u32,
}

/// How strongly a sandbox is isolated from the host: a template attribute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Isolation {
    /// A hardened container on the host's kernel (runc for the Docker backend).
    #[default]
    Container,
    /// The gVisor user-space kernel between the sandbox and the host's kernel.
    Gvisor,
}

impl Isolation {
    /// Every value, by its name.
    pub const ALL: [Self; 2] = [Self::Container, Self::Gvisor];

    /// The name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Container => "container",
            Self::Gvisor => "gvisor",
        }
    }
}

impl std::str::FromStr for Isolation {
    type Err = UnknownIsolation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| UnknownIsolation(s.chars().take(64).collect()))
    }
}

/// A name that is no [`Isolation`].
#[derive(Debug, thiserror::Error)]
#[error("unknown isolation {0:?}: use \"container\" or \"gvisor\"")]
pub struct UnknownIsolation(pub String);

/// Everything a backend needs to create a sandbox.
#[derive(Clone)]
pub struct SandboxSpec {
    /// The sandbox id, a short DNS label.
    pub sandbox_id: String,
    /// Template name, for labels and logs.
    pub template: String,
    /// The image the sandbox runs (a local Docker image name for the Docker backend).
    pub image: String,
    pub isolation: Isolation,
    pub resources: Resources,
    /// User environment variables for the agent and the code it runs.
    pub env_vars: BTreeMap<String, String>,
    pub internet_access: bool,
    /// The sandbox's token key as hex; the agent reads it from `WARREN_AGENT_TOKEN_KEY` and verifies
    /// `auth_token`s with it alone (the sandbox id comes in `WARREN_AGENT_SANDBOX_ID`).
    pub token_key_hex: String,
    /// The public URL of the sandbox's desktop viewer port (`DESKTOP_VIEWER_PORT`), e.g.
    /// `http://6080-abc.sandbox.localhost:8080`; the agent cannot know its external host, and
    /// reads it from `WARREN_AGENT_VIEWER_BASE`. `None`: the agent makes no viewer links.
    pub viewer_base: Option<String>,
    /// The sandbox's preview epoch (`WARREN_AGENT_PREVIEW_EPOCH`), which the viewer's preview links
    /// are signed for.
    pub preview_epoch: i64,
    /// Volumes mounted into the sandbox (validated paths, at most one volume per path).
    pub volumes: Vec<VolumeMount>,
    /// The snapshot ([`crate::SandboxRuntime::snapshot`]) whose files the sandbox starts with, a
    /// copy of its own; `None`: the image's.
    pub snapshot_id: Option<String>,
}

/// A volume (made by [`crate::SandboxRuntime::create_volume`]) mounted into a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    pub volume_id: String,
    /// Absolute in-sandbox path; [`crate::mount_path_refusal`] accepted it.
    pub mount_path: String,
    pub read_only: bool,
}

impl fmt::Debug for SandboxSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxSpec")
            .field("sandbox_id", &self.sandbox_id)
            .field("template", &self.template)
            .field("image", &self.image)
            .field("isolation", &self.isolation)
            .field("resources", &self.resources)
            .field("env_vars", &self.env_vars.keys().collect::<Vec<_>>())
            .field("internet_access", &self.internet_access)
            .field("viewer_base", &self.viewer_base)
            .field("preview_epoch", &self.preview_epoch)
            .field("volumes", &self.volumes)
            .field("snapshot_id", &self.snapshot_id)
            .finish_non_exhaustive()
    }
}

/// A warm-pool sandbox to start before it has an owner. Its id is final: the sandbox keeps it when
/// claimed, so every later operation is keyed by it as for any other sandbox.
#[derive(Clone)]
pub struct PooledSpec {
    pub sandbox_id: String,
    pub template: String,
    pub image: String,
    pub isolation: Isolation,
    pub resources: Resources,
    /// The secret of the agent's one-time configure step (`WARREN_AGENT_CONFIGURE_SECRET`).
    pub configure_secret: String,
}

impl fmt::Debug for PooledSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledSpec")
            .field("sandbox_id", &self.sandbox_id)
            .field("template", &self.template)
            .field("image", &self.image)
            .field("isolation", &self.isolation)
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

/// A started warm-pool sandbox, waiting to be claimed.
#[derive(Clone, PartialEq, Eq)]
pub struct PooledSandbox {
    pub sandbox_id: String,
    pub agent_addr: SocketAddr,
    pub configure_secret: String,
}

impl fmt::Debug for PooledSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledSandbox")
            .field("sandbox_id", &self.sandbox_id)
            .field("agent_addr", &self.agent_addr)
            .finish_non_exhaustive()
    }
}

/// A sandbox the backend made ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSandbox {
    pub sandbox_id: String,
    /// Where the sandbox's agent listens, as reachable from the host (the router proxies to it).
    pub agent_addr: SocketAddr,
}

/// What the backend says a sandbox is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeState {
    Running,
    Paused,
    Stopped,
}

/// One entry of [`crate::SandboxRuntime::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeStatus {
    pub sandbox_id: String,
    pub state: RuntimeState,
}

type Source = Box<dyn std::error::Error + Send + Sync>;

/// Why a runtime operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("sandbox {0} is not known to the runtime")]
    NotFound(String),
    #[error("not enough capacity to place the sandbox: {0}")]
    InsufficientCapacity(String),
    #[error("the runtime backend is unavailable")]
    Unavailable(#[source] Source),
    #[error("the runtime operation failed")]
    Failed(#[source] Source),
}
