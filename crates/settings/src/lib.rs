//! Settings: compiled-in defaults, then a TOML file, then `WARREN_*` environment variables.
//!
//! Environment variables use `__` between section and key (`WARREN_DATABASE__URL`,
//! `WARREN_SERVER__PORT`); variables without `__` (such as `WARREN_CONFIG`) are not settings and are
//! ignored. Every key is documented in `docs/configuration.md`.

mod load;
mod operations;
mod sandboxes;
mod serving;
#[cfg(test)]
mod tests;
mod volumes;

pub use operations::*;
pub use sandboxes::*;
pub use serving::*;
pub use volumes::*;

use serde::Deserialize;

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
    pub volumes: VolumeSettings,
    pub snapshots: SnapshotSettings,
    pub log: LogSettings,
    pub embedded: EmbeddedSettings,
    pub bootstrap: BootstrapSettings,
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration")]
    Parse(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(&'static str),
}
