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
    pub docker: runtime::DockerSettings,
    pub capacity: CapacitySettings,
    pub pool: PoolSettings,
    pub reconcile: ReconcileSettings,
    pub templates: TemplateSettings,
    pub log: LogSettings,
    pub embedded: EmbeddedSettings,
    pub bootstrap: BootstrapSettings,
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
    /// Seconds a client has to send a request's head; on a keep-alive HTTP/1.1 connection also the
    /// longest wait for the next request.
    pub header_read_timeout_seconds: u32,
    /// Seconds a connection with no request in flight stays open (HTTP/2 gets a GOAWAY).
    pub idle_timeout_seconds: u32,
    /// Client connections open at once (API and router together); more are answered 503 and closed.
    pub max_connections: u32,
    /// An API request body (a template upload, say) bringing fewer than this many bytes per second
    /// over a `body_rate_window_seconds` window is cut with 408. Not applied to proxied requests.
    pub body_min_bytes_per_second: u32,
    pub body_rate_window_seconds: u32,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8080,
            max_body_bytes: 1024 * 1024,
            header_read_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            max_connections: 4096,
            body_min_bytes_per_second: 1024,
            body_rate_window_seconds: 30,
        }
    }
}

impl ServerSettings {
    /// The minimum body rate of API requests.
    pub fn body_rate(&self) -> listener::MinRate {
        listener::MinRate {
            bytes_per_second: self.body_min_bytes_per_second.into(),
            window: std::time::Duration::from_secs(self.body_rate_window_seconds.into()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// A libpq-style URL, e.g. `postgres://user:password@host:5432/warren`. Empty (the default): the
    /// embedded mode, a private Postgres in `embedded.data_dir` (`docs/operations.md`).
    pub url: SecretString,
    /// Size of the connection pool.
    pub max_connections: u32,
    /// Seconds to wait for a free connection before answering 503.
    pub acquire_timeout_seconds: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::default(),
            max_connections: 20,
            acquire_timeout_seconds: 5,
        }
    }
}

impl DatabaseSettings {
    /// No URL is configured: Warren runs its own Postgres (see [`EmbeddedSettings`]).
    pub fn is_embedded(&self) -> bool {
        use secrecy::ExposeSecret as _;
        self.url.expose_secret().is_empty()
    }

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
    /// How long, in milliseconds, a replica keeps a checked API key and the rate-limit tokens it
    /// leased for it before asking Postgres again (a revocation reaches every replica at once through
    /// `NOTIFY`; this bounds it if a notification is lost). 0 turns the cache off.
    pub auth_cache_ms: u32,
    /// The most tokens a replica leases at once for one key, as a fraction of the limit (at least 1
    /// token). Unspent tokens go back to the bucket; the budget shared by N replicas can be
    /// under-spent by at most N × this fraction, never exceeded.
    pub rate_lease_fraction: f64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            rate_limit: 600,
            rate_window_seconds: 60,
            max_live_sandboxes: 100,
            auth_cache_ms: 1000,
            rate_lease_fraction: 0.01,
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
    /// Builds this replica runs at once (each replica runs the builds it accepted).
    pub max_concurrent_builds: u32,
    /// Builds waiting for a slot, counted over every replica on the database, before new ones are
    /// refused (503 `BUILD_QUEUE_FULL`).
    pub max_queued_builds: u32,
    /// Seconds one build may take before it fails.
    pub build_timeout_seconds: u32,
    /// Seconds a replica's lease on each build it accepted lasts; renewed every third of it. A
    /// build whose lease expired (its replica stopped) is failed by the leader.
    pub build_lease_seconds: u32,
    /// Seconds between the leader's passes over builds whose lease expired and unused uploads.
    pub housekeeping_interval_seconds: u32,
    /// Largest chunk of a build log stored in one row, in bytes (split at a line end where one
    /// falls in the chunk).
    pub log_chunk_bytes: u32,
    /// Chunks of a build log kept: past them the oldest are dropped and the log starts with a line
    /// saying so.
    pub log_max_chunks: u32,
    /// Base URL of this server as clients reach it, for upload URLs (e.g. `https://warren.example`);
    /// default: the scheme of `router.scheme` and the request's `Host`.
    pub public_url: Option<String>,
    /// At `serve`, build each built-in template image (`warren/template-*:latest`) the engine lacks,
    /// from the Dockerfiles embedded in the binary, before serving (`warren images` does it alone).
    pub ensure_builtin_images: bool,
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
            build_lease_seconds: 60,
            housekeeping_interval_seconds: 30,
            log_chunk_bytes: 64 * 1024,
            log_max_chunks: 64,
            public_url: None,
            ensure_builtin_images: false,
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

/// The embedded mode, when `database.url` is empty: a private Postgres cluster run from the locally
/// installed server binaries, and these defaults under the file and the environment:
/// `runtime.kind = "docker"`, `templates.ensure_builtin_images = true`, `bootstrap.organization =
/// "dev"`, and `templates.upload_dir` and `docker.state_dir` under `data_dir`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedSettings {
    /// Where the embedded mode keeps its data (Postgres in `postgres/`); default `/var/lib/warren` as
    /// root, else `$XDG_DATA_HOME/warren` (`~/.local/share/warren`).
    pub data_dir: Option<std::path::PathBuf>,
}

impl EmbeddedSettings {
    pub fn data_dir(&self) -> Result<std::path::PathBuf, ConfigError> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => default_data_dir(
                nix::unistd::Uid::effective().is_root(),
                std::env::var_os("XDG_DATA_HOME"),
                std::env::var_os("HOME"),
            )
            .ok_or(ConfigError::Invalid(
                "embedded.data_dir is not set, and neither is XDG_DATA_HOME or HOME",
            )),
        }
    }
}

fn default_data_dir(
    root: bool,
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<std::path::PathBuf> {
    let absolute =
        |v: Option<std::ffi::OsString>| v.map(std::path::PathBuf::from).filter(|p| p.is_absolute());
    if root {
        Some("/var/lib/warren".into())
    } else if let Some(xdg) = absolute(xdg_data_home) {
        Some(xdg.join("warren"))
    } else {
        absolute(home).map(|h| h.join(".local/share/warren"))
    }
}

/// First-start bootstrap, at `serve`: see `control_plane::bootstrap`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapSettings {
    /// An organization to create, with an API key, when it does not exist (default: none; `dev` in the
    /// embedded mode).
    pub organization: Option<String>,
    /// That key (`wrn_<16 hex>_<64 hex>`, stored hashed only), e.g. from `WARREN_BOOTSTRAP__API_KEY`;
    /// default: a new key, printed once.
    pub api_key: Option<SecretString>,
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
    /// Defaults, then `file` (if any), then the environment; in the embedded mode (no
    /// `database.url`) the embedded defaults ([`EmbeddedSettings`]) come between the defaults and
    /// the file.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let settings = Self::from_figment(Self::figment(file))?;
        if !settings.database.is_embedded() {
            return Ok(settings);
        }
        let data_dir = settings.embedded.data_dir()?;
        Self::from_figment(embedded_defaults(&data_dir).merge(Self::figment(file)))
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
        if let Some(key) = &self.bootstrap.api_key {
            use secrecy::ExposeSecret as _;
            if api_keys::parse(key.expose_secret()).is_none() {
                return Err(ConfigError::Invalid(
                    "bootstrap.api_key must be a Warren API key: wrn_<16 hex digits>_<64 hex digits>",
                ));
            }
            if self.bootstrap.organization.is_none() {
                return Err(ConfigError::Invalid(
                    "bootstrap.api_key needs bootstrap.organization",
                ));
            }
        }
        if self.bootstrap.organization.as_deref() == Some("") {
            return Err(ConfigError::Invalid(
                "bootstrap.organization must not be empty",
            ));
        }
        let s = &self.sandboxes;
        if self.limits.rate_limit == 0 || self.limits.rate_window_seconds == 0 {
            return Err(ConfigError::Invalid("limits.rate_* must be positive"));
        }
        if !(0.0..=1.0).contains(&self.limits.rate_lease_fraction) {
            return Err(ConfigError::Invalid(
                "limits.rate_lease_fraction must be between 0 and 1",
            ));
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
        if s.token_ttl_seconds > s.max_token_lifetime_seconds {
            return Err(ConfigError::Invalid(
                "sandboxes.token_ttl_seconds must not exceed sandboxes.max_token_lifetime_seconds",
            ));
        }
        if s.token_rotation_grace_seconds > s.max_token_lifetime_seconds {
            return Err(ConfigError::Invalid(
                "sandboxes.token_rotation_grace_seconds must not exceed sandboxes.max_token_lifetime_seconds",
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
        if t.build_lease_seconds == 0
            || t.housekeeping_interval_seconds == 0
            || t.log_max_chunks == 0
            || !(1024..=16 * 1024 * 1024).contains(&t.log_chunk_bytes)
        {
            return Err(ConfigError::Invalid(
                "templates.build_lease_seconds, housekeeping_interval_seconds and log_max_chunks \
                 must be positive, and log_chunk_bytes 1024 to 16777216",
            ));
        }
        let c = &self.capacity;
        if c.vcpu == Some(0) || c.memory_mb == Some(0) || c.disk_mb == Some(0) {
            return Err(ConfigError::Invalid("capacity.* must be positive"));
        }
        if c.disk_overcommit == 0 || !(1..=100).contains(&c.org_share_percent) {
            return Err(ConfigError::Invalid(
                "capacity.disk_overcommit must be positive and capacity.org_share_percent 1 to 100",
            ));
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
        let srv = &self.server;
        if srv.max_body_bytes == 0
            || srv.header_read_timeout_seconds == 0
            || srv.idle_timeout_seconds == 0
            || srv.max_connections == 0
            || srv.body_rate_window_seconds == 0
        {
            return Err(ConfigError::Invalid(
                "server.max_body_bytes, *_timeout_seconds, max_connections and \
                 body_rate_window_seconds must be positive",
            ));
        }
        if self.router.max_connections_per_sandbox == 0 {
            return Err(ConfigError::Invalid(
                "router.max_connections_per_sandbox must be positive",
            ));
        }
        Ok(())
    }
}

/// What the embedded mode changes from the compiled-in defaults.
fn embedded_defaults(data_dir: &Path) -> Figment {
    use figment::providers::Serialized;
    Figment::new()
        .merge(Serialized::default("runtime.kind", "docker"))
        .merge(Serialized::default("templates.ensure_builtin_images", true))
        .merge(Serialized::default("bootstrap.organization", "dev"))
        .merge(Serialized::default(
            "templates.upload_dir",
            data_dir.join("template-uploads"),
        ))
        .merge(Serialized::default(
            "docker.state_dir",
            data_dir.join("runtime"),
        ))
        .merge(Serialized::default("embedded.data_dir", data_dir))
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
            jail.set_env("WARREN_CAPACITY__ORG_SHARE_PERCENT", "50");
            jail.set_env("WARREN_RUNTIME__KIND", "docker");
            let s = Settings::load(None).expect("loads");
            assert_eq!(s.pool.templates.get("code-interpreter"), Some(&2));
            assert_eq!(s.pool.templates.get("base"), Some(&1));
            assert_eq!((s.capacity.vcpu, s.capacity.memory_mb), (Some(6), None));
            assert_eq!(s.capacity.org_share_percent, 50);
            assert_eq!(
                (s.capacity.disk_mb, s.capacity.disk_overcommit),
                (None, 128)
            );
            assert_eq!(s.runtime.kind, RuntimeKind::Docker);
            Ok(())
        });
    }

    #[test]
    fn the_data_dir_is_var_lib_as_root_else_xdg_data_home_else_under_home() {
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        let dir =
            |root, xdg, home| default_data_dir(root, xdg, home).map(|p| p.display().to_string());
        assert_eq!(
            dir(true, os("/x"), os("/h")).as_deref(),
            Some("/var/lib/warren")
        );
        assert_eq!(dir(false, os("/x"), os("/h")).as_deref(), Some("/x/warren"));
        assert_eq!(
            dir(false, os("relative"), os("/h")).as_deref(),
            Some("/h/.local/share/warren"),
            "a relative XDG_DATA_HOME is ignored, as the spec says"
        );
        assert_eq!(dir(false, None, None), None);
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail's closure returns figment::Error"
    )]
    fn no_database_url_is_the_embedded_mode_with_its_defaults_under_file_and_env() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WARREN_EMBEDDED__DATA_DIR", "/d");
            jail.set_env("WARREN_BOOTSTRAP__ORGANIZATION", "mine");
            let s = Settings::load(None).expect("loads");
            assert!(s.database.is_embedded());
            assert_eq!(s.runtime.kind, RuntimeKind::Docker);
            assert!(s.templates.ensure_builtin_images);
            assert_eq!(s.bootstrap.organization.as_deref(), Some("mine"));
            assert_eq!(s.docker.state_dir, Path::new("/d/runtime"));
            assert_eq!(s.templates.upload_dir, Path::new("/d/template-uploads"));

            jail.set_env("WARREN_DATABASE__URL", "postgres://db/warren");
            let s = Settings::load(None).expect("loads");
            assert!(!s.database.is_embedded());
            assert_eq!(s.runtime.kind, RuntimeKind::None);
            assert!(!s.templates.ensure_builtin_images);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail's closure returns figment::Error"
    )]
    fn the_bootstrap_key_must_be_a_well_formed_key_for_a_named_organization() {
        figment::Jail::expect_with(|jail| {
            let key = api_keys::generate().full;
            jail.set_env("WARREN_DATABASE__URL", "postgres://db/warren");
            jail.set_env("WARREN_BOOTSTRAP__API_KEY", &key);
            assert!(Settings::load(None).is_err(), "no organization");
            jail.set_env("WARREN_BOOTSTRAP__ORGANIZATION", "acme");
            assert!(Settings::load(None).is_ok());
            jail.set_env("WARREN_BOOTSTRAP__API_KEY", &key[..key.len() - 1]);
            assert!(Settings::load(None).is_err(), "malformed");
            Ok(())
        });
    }

    #[test]
    fn debug_shows_no_database_password_nor_bootstrap_key() {
        let key = api_keys::generate().full;
        let mut s = Settings::default();
        s.database.url = SecretString::from("postgres://warren:pg-pass-1@db/warren");
        s.bootstrap.api_key = Some(SecretString::from(key.clone()));
        let shown = format!("{s:?}");
        assert!(shown.contains("max_connections"), "{shown}");
        assert!(!shown.contains("pg-pass-1"), "{shown}");
        assert!(!shown.contains(&key), "{shown}");
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
