//! Loading: defaults, the embedded mode's defaults, a TOML file, then the environment, and the
//! checks the loaded settings must pass.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use crate::*;

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
        let v = &self.volumes;
        if v.max_size_mb == 0 || v.max_size_mb > v.org_quota_mb {
            return Err(ConfigError::Invalid(
                "volumes.max_size_mb must be in 1..=volumes.org_quota_mb",
            ));
        }
        if self.snapshots.max_fork_count == 0 {
            return Err(ConfigError::Invalid(
                "snapshots.max_fork_count must be positive",
            ));
        }
        if s.idempotency_ttl_seconds == 0 {
            return Err(ConfigError::Invalid(
                "sandboxes.idempotency_ttl_seconds must be positive",
            ));
        }
        if s.reaper_interval_seconds == 0 {
            return Err(ConfigError::Invalid(
                "sandboxes.reaper_interval_seconds must be positive",
            ));
        }
        if s.auto_pause_interval_seconds == 0 || s.auto_pause_min_seconds == 0 {
            return Err(ConfigError::Invalid(
                "sandboxes.auto_pause_interval_seconds and auto_pause_min_seconds must be positive",
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
