//! `[sandboxes]`, `[router]`, `[runtime]`, `[capacity]`, `[pool]` and `[reconcile]`: how sandboxes
//! are made, reached, admitted, pooled and reconciled.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    /// `timeout_seconds` of a sandbox created without one.
    pub default_timeout_seconds: u32,
    /// Largest `timeout_seconds` accepted.
    pub max_timeout_seconds: u32,
    /// Lifetime of an agent token (`auth_token`), in seconds; also the default of preview links.
    pub token_ttl_seconds: u32,
    /// Longest lifetime a token or preview link may claim; the router refuses later expiries even
    /// when correctly signed.
    pub max_token_lifetime_seconds: u32,
    /// How long the previous token key keeps verifying after `token/rotate` without `grace_seconds`.
    pub token_rotation_grace_seconds: u32,
    /// The region every sandbox reports; a create naming another region is refused.
    pub region: String,
    /// Seconds between two passes of the expiry reaper.
    pub reaper_interval_seconds: u32,
    /// How long an `Idempotency-Key` of `POST /v1/sandboxes` answers with the sandbox it made.
    pub idempotency_ttl_seconds: u32,
    /// Smallest `auto_pause` accepted (idle seconds before an auto-pause); the largest is
    /// `max_timeout_seconds`.
    pub auto_pause_min_seconds: u32,
    /// Seconds between two passes of the idle pauser (on the leader).
    pub auto_pause_interval_seconds: u32,
    /// Whether the time an auto-paused sandbox spends paused is added back to its deadline (its
    /// clock stops while paused). Off: paused time counts against `timeout_seconds`, as for any pause.
    pub auto_pause_stops_clock: bool,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            default_timeout_seconds: 3600,
            max_timeout_seconds: 7 * 24 * 3600,
            token_ttl_seconds: 24 * 3600,
            max_token_lifetime_seconds: 7 * 24 * 3600,
            token_rotation_grace_seconds: 600,
            region: "local".into(),
            reaper_interval_seconds: 5,
            idempotency_ttl_seconds: 24 * 3600,
            auto_pause_min_seconds: 10,
            auto_pause_interval_seconds: 2,
            auto_pause_stops_clock: false,
        }
    }
}

/// The shape of `public_host`: `{scheme}://{sandbox_id}.{domain}[:{public_port}]`, and the router that
/// serves those hosts (see `docs/router.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterSettings {
    pub scheme: String,
    pub domain: String,
    /// Port clients reach the router on; defaults to `server.port`.
    pub public_port: Option<u16>,
    /// Which roles `warren serve` plays on its port.
    pub mode: RouterMode,
    /// Seconds a resolved route stays cached; a backstop, changes are pushed by Postgres `NOTIFY`.
    pub cache_ttl_seconds: u32,
    /// Seconds to wait for a TCP connection to a sandbox before answering 502.
    pub connect_timeout_seconds: u32,
    /// Requests in flight plus open WebSockets (and other upgrades) per sandbox; the next one is
    /// answered 429 `TOO_MANY_CONNECTIONS`.
    pub max_connections_per_sandbox: u32,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            scheme: "http".into(),
            domain: "sandbox.localhost".into(),
            public_port: None,
            mode: RouterMode::default(),
            cache_ttl_seconds: 5,
            connect_timeout_seconds: 5,
            max_connections_per_sandbox: 256,
        }
    }
}

/// What `warren serve` answers on its port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterMode {
    /// Sandbox hosts (`{id}.{domain}`, `{port}-{id}.{domain}`) go to the router, every other host to
    /// the control-plane API.
    #[default]
    Both,
    /// Only the router; other hosts get 404 `ROUTE_NOT_FOUND`.
    Router,
    /// Only the control-plane API; sandbox hosts are not routed.
    Api,
}

/// Which backend runs sandboxes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeKind {
    /// No backend: the API serves, but creating a sandbox answers 503 `RUNTIME_UNAVAILABLE`.
    #[default]
    None,
    /// One hardened container per sandbox on the Docker engine of `[docker]`.
    Docker,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    pub kind: RuntimeKind,
    /// Seconds a create (or a warm-pool start, or a claim) may take before it counts as failed.
    pub create_timeout_seconds: u32,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            kind: RuntimeKind::default(),
            create_timeout_seconds: 120,
        }
    }
}

/// What all live sandboxes together (creating, running, paused, and the warm pool; for disk, stopped
/// ones too) may be given, and what share of it one organization may hold. Unset values come from
/// the host: see `app::capacity`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapacitySettings {
    /// vCPUs; default 4 × the host's CPUs (CPU limits are quotas that share the cores).
    pub vcpu: Option<u32>,
    /// MiB of memory; default the host's total memory (memory is not overcommitted).
    pub memory_mb: Option<u32>,
    /// MiB of sandbox disk (the templates' `disk_gb` quotas) promised together; default the size of
    /// the `docker.sandbox_disk_dir` filesystem × `disk_overcommit`, unlimited where there is none.
    pub disk_mb: Option<u32>,
    /// How many times its size the sandbox disk is promised by default: a quota is a ceiling, and
    /// idle sandboxes write little. 1: every sandbox can fill its quota at once.
    pub disk_overcommit: u32,
    /// Percent of each of vCPU, memory and disk one organization may hold; 100: no share limit.
    /// Over it a create or start is 403 `RESOURCE_LIMIT_ERROR`.
    pub org_share_percent: u32,
}

impl Default for CapacitySettings {
    fn default() -> Self {
        Self {
            vcpu: None,
            memory_mb: None,
            disk_mb: None,
            disk_overcommit: 128,
            org_share_percent: 100,
        }
    }
}

/// The warm pool: sandboxes started ahead of demand, per built-in template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolSettings {
    /// Warm sandboxes to keep per built-in template name, e.g. `{ "code-interpreter" = 2 }`;
    /// templates not listed have none.
    pub templates: std::collections::BTreeMap<String, u32>,
}

/// The reconciler and the leadership that runs it (and the pool refill) on one replica.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconcileSettings {
    /// Seconds between two reconciliation passes (one also runs when a replica becomes leader).
    pub interval_seconds: u32,
    /// Seconds between a follower's attempts to become leader.
    pub leader_retry_seconds: u32,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            interval_seconds: 30,
            leader_retry_seconds: 5,
        }
    }
}
