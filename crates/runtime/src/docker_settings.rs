//! What the Docker backend can be told (`[docker]` of `warren`'s configuration). Every field has a
//! default that works on a machine set up by `scripts/docker-engine.sh --sandbox-disk`. The settings
//! live here, beside the trait, so the configuration can name them without linking the backend.

use std::path::PathBuf;

use crate::Isolation;
use serde::Deserialize;

/// Settings of the Docker backend (the `[runtime.docker]` section of `warren`'s configuration).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerSettings {
    /// The engine's API socket, `unix:///path` (or a bare path).
    pub socket: String,
    /// Name of this Warren installation, put on its containers (label `warren.instance`): `list`
    /// reports only this installation's containers, so installations (or test suites) sharing an
    /// engine never reconcile away each other's sandboxes.
    pub instance: String,
    /// Path on the host of the static `warren-agent` (`scripts/build-agent.sh`), bind-mounted read-only
    /// into every sandbox and made its entrypoint.
    pub agent_binary: PathBuf,
    /// A named Docker volume holding `warren-agent` at its root, mounted read-only at `/.warren/bin`
    /// in every sandbox instead of the `agent_binary` bind. For a Warren that runs in a container
    /// itself: the engine resolves a bind's source on the host, where Warren's own files are not, but
    /// a volume by its name (docs/deployment.md). `None`: `agent_binary` is used.
    pub agent_volume: Option<String>,
    /// A btrfs filesystem with quotas enabled where each sandbox gets a subvolume, limited to its
    /// `disk_mb`, for everything its user can write. `None` (or a directory that is not a btrfs mount
    /// with quotas) leaves what sandboxes write unbounded, with a warning at connect.
    pub sandbox_disk_dir: Option<PathBuf>,
    /// Directory of the backend's own records (root-only): the configuration of claimed warm-pool
    /// sandboxes, replayed when one is started again, and each sandbox's secrets file, bind-mounted
    /// into its container (so a path the engine can see).
    pub state_dir: PathBuf,
    /// The shared network of sandboxes with internet access (created on connect if missing).
    pub network: NetworkSettings,
    /// The shared `--internal` network of sandboxes with `internet_access: false`.
    pub internal_network: NetworkSettings,
    /// Spare network-namespace holders each process keeps started per sandbox network: a sandbox
    /// container joins one (`container:` network mode) instead of the network itself, which skips
    /// the engine's network setup (embedded DNS, iptables; ~100+ ms) at its start. The egress
    /// network's spares start at connect, the internal network's after its first sandbox. `0`: every
    /// sandbox container joins its network itself, as before.
    pub network_holders: usize,
    /// Install the host firewall rules that keep sandboxes off the host's own ports and off link-local
    /// addresses (iptables; needs root). Off only where something else enforces the same.
    pub firewall: bool,
    /// Seconds a create (or start) may take until the agent answers `/health`.
    pub ready_timeout_seconds: u64,
    /// Seconds any single engine call may take before the engine counts as unavailable.
    pub engine_timeout_seconds: u64,
    /// OCI runtime of sandboxes whose template has `isolation = "container"`: `runc`, or
    /// `runsc-hostnet` (gVisor on the container's own network namespace) where configured in the
    /// engine, to run every sandbox under gVisor. Not `runsc-nonet`: its agent is unreachable.
    pub oci_runtime: String,
    /// OCI runtime of sandboxes whose template has `isolation = "gvisor"`: a gVisor runtime the
    /// engine's `daemon.json` defines with `--network=host` (the container's own namespace).
    pub gvisor_runtime: String,
    /// Most processes (and threads) a sandbox may have at once.
    pub pids_limit: i64,
    /// Size of each sandbox's `/dev/shm`, in MiB.
    pub shm_size_mb: u32,
    /// Root of the host's cgroup v1 hierarchies. Each sandbox gets a cgroup parent under
    /// `warren/<instance>/` there with its pids and memory limits, and a `user` cgroup for its user
    /// processes with `headroom` less (docs/runtime-docker.md). `None`, or an engine that does not
    /// use the `cgroupfs` driver on cgroup v1: user processes share the agent's limits.
    pub cgroup_root: Option<PathBuf>,
    /// What each sandbox's limits keep for its agent, beyond what its user processes may take.
    pub headroom: Headroom,
}

/// What of a sandbox's limits its agent keeps for itself: for each limit, the larger of a minimum
/// and a percentage. Under gVisor (no host cgroup per process) only the pids margin applies, as the
/// user's `RLIMIT_NPROC`, which the gVisor kernel counts per sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Headroom {
    /// Processes kept at least.
    pub pids_min: u32,
    /// Percent of the pids limit kept at least.
    pub pids_percent: u32,
    /// MiB of memory kept at least.
    pub memory_min_mb: u32,
    /// Percent of the memory limit kept at least.
    pub memory_percent: u32,
    /// CPU weight (`cpu.shares`) of all user processes together against the agent's 1024: how
    /// the sandbox's CPU quota is shared when both want it.
    pub cpu_shares: u32,
}

impl Headroom {
    /// The limit of user processes under a sandbox limit of `total`.
    fn below(total: u64, min: u64, percent: u32) -> u64 {
        let margin = min.max(total * u64::from(percent) / 100);
        total.saturating_sub(margin).max(1)
    }

    /// Processes user code may have at once, in a sandbox of `pids` processes.
    pub fn user_pids(&self, pids: u64) -> u64 {
        Self::below(pids, u64::from(self.pids_min), self.pids_percent)
    }

    /// Bytes of memory user code may use, in a sandbox of `memory` bytes.
    pub fn user_memory(&self, memory: u64) -> u64 {
        Self::below(
            memory,
            u64::from(self.memory_min_mb) << 20,
            self.memory_percent,
        )
    }
}

impl Default for Headroom {
    fn default() -> Self {
        Self {
            pids_min: 16,
            pids_percent: 10,
            memory_min_mb: 32,
            memory_percent: 10,
            cpu_shares: 128,
        }
    }
}

impl DockerSettings {
    /// The OCI runtime of a sandbox isolated as `isolation`.
    pub fn oci_runtime_of(&self, isolation: Isolation) -> &str {
        match isolation {
            Isolation::Container => &self.oci_runtime,
            Isolation::Gvisor => &self.gvisor_runtime,
        }
    }
}

/// One shared bridge network Warren manages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// Docker network name.
    pub name: String,
    /// Host bridge interface name; must start with `wsbx`, which the firewall rules match.
    pub bridge: String,
    /// IPv4 subnet in CIDR form, given explicitly so Docker's default address pools are not used.
    pub subnet: String,
}

impl Default for DockerSettings {
    fn default() -> Self {
        Self {
            socket: "unix:///var/run/docker.sock".into(),
            instance: "default".into(),
            agent_binary: "/usr/local/lib/warren/warren-agent".into(),
            agent_volume: None,
            sandbox_disk_dir: Some("/var/lib/warren/sandbox-disk".into()),
            state_dir: "/var/lib/warren/runtime".into(),
            network: NetworkSettings {
                name: "warren-sandboxes".into(),
                bridge: "wsbx0".into(),
                subnet: "10.88.0.0/16".into(),
            },
            internal_network: NetworkSettings {
                name: "warren-sandboxes-internal".into(),
                bridge: "wsbx1".into(),
                subnet: "10.89.0.0/16".into(),
            },
            network_holders: 2,
            firewall: true,
            ready_timeout_seconds: 60,
            engine_timeout_seconds: 30,
            oci_runtime: "runc".into(),
            gvisor_runtime: "runsc-hostnet".into(),
            pids_limit: 1024,
            shm_size_mb: 64,
            cgroup_root: Some("/sys/fs/cgroup".into()),
            headroom: Headroom::default(),
        }
    }
}
