//! `[templates]`, `[log]`, `[embedded]` and `[bootstrap]`: template builds, logging, the embedded
//! mode and the first-start organization.

use secrecy::SecretString;
use serde::Deserialize;

use crate::ConfigError;

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

pub(crate) fn default_data_dir(
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
