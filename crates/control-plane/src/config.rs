//! Settings: compiled-in defaults, then a TOML file, then `WARREN_*` environment variables.
//!
//! Environment variables use `__` between section and key (`WARREN_DATABASE__URL`,
//! `WARREN_SERVER__PORT`); variables without `__` (such as `WARREN_CONFIG`) are not settings and are
//! ignored. Every key is documented in `docs/configuration.md`.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;

/// Everything `warren` can be told.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub limits: LimitSettings,
    pub sandboxes: SandboxSettings,
    pub router: RouterSettings,
    pub runtime: RuntimeSettings,
    /// The Docker backend (`runtime.kind = "docker"`); see `docs/configuration.md`.
    pub docker: runtime_docker::DockerSettings,
    pub capacity: CapacitySettings,
    pub pool: PoolSettings,
    pub reconcile: ReconcileSettings,
    pub templates: TemplateSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on (0 picks a free one).
    pub port: u16,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8080,
            max_body_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// A libpq-style URL, e.g. `postgres://user:password@host:5432/warren`.
    pub url: SecretString,
    /// Size of the connection pool.
    pub max_connections: u32,
    /// Seconds to wait for a free connection before answering 503.
    pub acquire_timeout_seconds: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("postgres://postgres@127.0.0.1:5432/warren"),
            max_connections: 20,
            acquire_timeout_seconds: 5,
        }
    }
}

impl DatabaseSettings {
    pub fn connect_options(&self) -> Result<PgConnectOptions, sqlx::Error> {
        use secrecy::ExposeSecret as _;
        self.url.expose_secret().parse()
    }
}

/// Per-organization limits; each can be overridden per organization in the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Requests an organization may make per window (token bucket capacity).
    pub rate_limit: u32,
    /// The window, in seconds, over which `rate_limit` refills.
    pub rate_window_seconds: u32,
    /// Sandboxes an organization may hold at once (creating, running, paused or stopped).
    pub max_live_sandboxes: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            rate_limit: 600,
            rate_window_seconds: 60,
            max_live_sandboxes: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    /// `timeout_seconds` of a sandbox created without one.
    pub default_timeout_seconds: u32,
    /// Largest `timeout_seconds` accepted.
    pub max_timeout_seconds: u32,
    /// Lifetime of an agent token (`auth_token`), in seconds.
    pub token_ttl_seconds: u32,
    /// The region every sandbox reports; a create naming another region is refused.
    pub region: String,
    /// Seconds between two passes of the expiry reaper.
    pub reaper_interval_seconds: u32,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            default_timeout_seconds: 3600,
            max_timeout_seconds: 7 * 24 * 3600,
            token_ttl_seconds: 24 * 3600,
            region: "local".into(),
            reaper_interval_seconds: 5,
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

/// What all live sandboxes together (creating, running, paused, and the warm pool) may be given.
/// Unset values come from the host: see `app::capacity`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapacitySettings {
    /// vCPUs; default 4 × the host's CPUs (CPU limits are quotas that share the cores).
    pub vcpu: Option<u32>,
    /// MiB of memory; default the host's total memory (memory is not overcommitted).
    pub memory_mb: Option<u32>,
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

/// Custom templates: uploads of COPY sources and the image builds (`docs/templates.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateSettings {
    /// Directory of uploaded COPY sources (created when needed; shared by replicas that share a
    /// load balancer, or uploads must reach the replica that builds).
    pub upload_dir: std::path::PathBuf,
    /// Largest upload (`content_length`) accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Seconds an upload URL stays valid, and an upload no build used is kept.
    pub upload_ttl_seconds: u32,
    /// Builds this replica runs at once.
    pub max_concurrent_builds: u32,
    /// Builds waiting for a slot before new ones are refused (503 `BUILD_QUEUE_FULL`).
    pub max_queued_builds: u32,
    /// Seconds one build may take before it fails.
    pub build_timeout_seconds: u32,
    /// Base URL of this server as clients reach it, for upload URLs (e.g. `https://warren.example`);
    /// default: the scheme of `router.scheme` and the request's `Host`.
    pub public_url: Option<String>,
}

impl Default for TemplateSettings {
    fn default() -> Self {
        Self {
            upload_dir: "/var/lib/warren/template-uploads".into(),
            max_upload_bytes: 512 * 1024 * 1024,
            upload_ttl_seconds: 24 * 3600,
            max_concurrent_builds: 2,
            max_queued_builds: 16,
            build_timeout_seconds: 1800,
            public_url: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A `tracing_subscriber` filter, e.g. `info` or `control_plane=debug,info`.
    pub filter: String,
    /// One JSON object per line instead of text.
    pub json: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            json: false,
        }
    }
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration")]
    Parse(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(&'static str),
}

impl Settings {
    /// Defaults, then `file` (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file))
    }

    /// The layered sources, for callers that add their own.
    pub fn figment(file: Option<&Path>) -> Figment {
        // Defaults come from the `#[serde(default)]` impls above.
        let mut fig = Figment::new();
        if let Some(file) = file {
            fig = fig.merge(Toml::file_exact(file));
        }
        fig.merge(
            Env::prefixed("WARREN_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        )
    }

    pub fn from_figment(fig: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = fig.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.sandboxes;
        if self.limits.rate_limit == 0 || self.limits.rate_window_seconds == 0 {
            return Err(ConfigError::Invalid("limits.rate_* must be positive"));
        }
        if s.default_timeout_seconds == 0 || s.default_timeout_seconds > s.max_timeout_seconds {
            return Err(ConfigError::Invalid(
                "sandboxes.default_timeout_seconds must be in 1..=max_timeout_seconds",
            ));
        }
        if s.token_ttl_seconds < 3600 {
            return Err(ConfigError::Invalid(
                "sandboxes.token_ttl_seconds must be at least 3600 (the SDKs refresh below 1 h)",
            ));
        }
        if s.reaper_interval_seconds == 0 {
            return Err(ConfigError::Invalid(
                "sandboxes.reaper_interval_seconds must be positive",
            ));
        }
        if self.runtime.create_timeout_seconds == 0
            || self.reconcile.interval_seconds == 0
            || self.reconcile.leader_retry_seconds == 0
        {
            return Err(ConfigError::Invalid(
                "runtime.create_timeout_seconds and reconcile.*_seconds must be positive",
            ));
        }
        let t = &self.templates;
        if t.max_concurrent_builds == 0 || t.build_timeout_seconds == 0 || t.upload_ttl_seconds == 0
        {
            return Err(ConfigError::Invalid(
                "templates.max_concurrent_builds, build_timeout_seconds and upload_ttl_seconds \
                 must be positive",
            ));
        }
        if self.capacity.vcpu == Some(0) || self.capacity.memory_mb == Some(0) {
            return Err(ConfigError::Invalid("capacity.* must be positive"));
        }
        if self.router.cache_ttl_seconds == 0 || self.router.connect_timeout_seconds == 0 {
            return Err(ConfigError::Invalid(
                "router.cache_ttl_seconds and router.connect_timeout_seconds must be positive",
            ));
        }
        if self.router.domain.is_empty() || self.router.domain.starts_with('.') {
            return Err(ConfigError::Invalid(
                "router.domain must be a domain name such as sandbox.localhost",
            ));
        }
        if self.server.max_body_bytes == 0 {
            return Err(ConfigError::Invalid(
                "server.max_body_bytes must be positive",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_config_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let mut seen = 0;
        for entry in walk(&dir) {
            if entry.extension().is_some_and(|e| e == "toml") {
                Settings::from_figment(Figment::new().merge(Toml::file_exact(&entry)))
                    .unwrap_or_else(|e| panic!("{}: {e:?}", entry.display()));
                seen += 1;
            }
        }
        assert!(seen >= 2, "expected example files in config/, found {seen}");
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("config/ exists") {
            let path = entry.expect("readable").path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail's closure returns figment::Error"
    )]
    fn env_overrides_file_and_unrelated_vars_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "w.toml",
                "[server]\nport = 9000\n[limits]\nrate_limit = 5\n",
            )?;
            jail.set_env("WARREN_SERVER__PORT", "9100");
            jail.set_env("WARREN_CONFIG", "w.toml");
            jail.set_env("WARREN_AGENT_TOKEN_KEY", "ab");
            let s = Settings::load(Some(Path::new("w.toml"))).expect("loads");
            assert_eq!(s.server.port, 9100);
            assert_eq!(s.limits.rate_limit, 5);
            assert_eq!(s.sandboxes.token_ttl_seconds, 86_400);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail's closure returns figment::Error"
    )]
    fn pool_sizes_and_capacity_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WARREN_POOL__TEMPLATES", "{code-interpreter=2,base=1}");
            jail.set_env("WARREN_CAPACITY__VCPU", "6");
            jail.set_env("WARREN_RUNTIME__KIND", "docker");
            let s = Settings::load(None).expect("loads");
            assert_eq!(s.pool.templates.get("code-interpreter"), Some(&2));
            assert_eq!(s.pool.templates.get("base"), Some(&1));
            assert_eq!((s.capacity.vcpu, s.capacity.memory_mb), (Some(6), None));
            assert_eq!(s.runtime.kind, RuntimeKind::Docker);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail's closure returns figment::Error"
    )]
    fn unknown_keys_and_bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[server]\nprot = 1\n")?;
            assert!(Settings::load(Some(Path::new("bad.toml"))).is_err());
            jail.create_file("short.toml", "[sandboxes]\ntoken_ttl_seconds = 60\n")?;
            assert!(Settings::load(Some(Path::new("short.toml"))).is_err());
            Ok(())
        });
    }
}
