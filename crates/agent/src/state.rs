//! The shared state every handler sees.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize};
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::auth::AuthState;
use crate::config::Config;
use crate::env::EnvStore;
use crate::error::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::lang::Toolchains;
use crate::metrics::Metrics;
use crate::procs::background::Registry;
use crate::procs::spawn::Spawner;
use crate::userfs::{Confine, UserFs};

/// The working directory the SDKs send by default.
const SDK_WORKSPACE: &str = "/workspace";

/// Cheap-to-clone handle on [`AppInner`].
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// Everything the agent keeps between requests.
pub struct AppInner {
    /// Settings read at start.
    pub config: Config,
    /// Token verification and the configure step.
    pub auth: AuthState,
    /// Global environment of user code (`/env`).
    pub env: EnvStore,
    /// Starts and reaps user processes.
    pub spawner: Spawner,
    /// The files API's access to the filesystem, as the sandbox user.
    pub files: Arc<UserFs>,
    /// Toolchains present in the image (cached probe).
    pub toolchains: Toolchains,
    /// The stateful Python kernel.
    pub kernel: Kernel,
    /// Bounds executions running at once.
    pub permits: Arc<Semaphore>,
    /// Background executions and commands.
    pub background: Registry,
    /// Request and execution counters.
    pub metrics: Metrics,
    /// False while the template's ready check has not passed.
    pub ready: AtomicBool,
    /// WebSocket streams open now.
    pub active_streams: AtomicUsize,
    /// Pid of the running start command (0: none); `POST /processes/kill-all` spares it.
    pub start_pid: AtomicU32,
    /// The desktop when the image has its programs, else the programs it lacks.
    pub desktop: Result<desktop::Desktop, Vec<String>>,
    /// When the agent started.
    pub started: Instant,
    pub started_at: String,
}

impl AppState {
    pub fn new(config: Config, auth: AuthState, spawner: Spawner) -> Self {
        let path_var = config.base_env.get("PATH").cloned().unwrap_or_default();
        let path_var = if path_var.is_empty() {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned()
        } else {
            path_var
        };
        let home = config
            .base_env
            .get("HOME")
            .map_or_else(|| config.workspace.clone(), PathBuf::from);
        let desktop = crate::desktop::probe(&spawner, &config.base_env, home);
        Self(Arc::new(AppInner {
            desktop,
            toolchains: Toolchains::new(config.python.clone(), path_var),
            kernel: Kernel::new(spawner.clone(), config.python.clone().into()),
            permits: Arc::new(Semaphore::new(config.max_concurrent)),
            ready: AtomicBool::new(config.ready_check.is_none()),
            auth,
            env: EnvStore::default(),
            files: Arc::new(UserFs::new(
                spawner.run_as(),
                Confine::of_agent(config.secrets_file.as_deref()),
            )),
            spawner,
            background: Registry::default(),
            metrics: Metrics::default(),
            active_streams: AtomicUsize::new(0),
            start_pid: AtomicU32::new(0),
            started: Instant::now(),
            started_at: crate::util::now_ts(),
            config,
        }))
    }
}

impl AppInner {
    /// Resolves a client path: relative paths are taken from the workspace; `/proc` is off limits
    /// (it would expose the agent's own environment). Only a first, lexical step: the files API
    /// checks what it really opened (`userfs`).
    pub fn resolve_path(&self, path: &str) -> ApiResult<PathBuf> {
        if path.is_empty() {
            return Err(ApiError::missing("path"));
        }
        if path.contains('\0') {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "INVALID_PATH",
                "Path contains a NUL byte",
            ));
        }
        let p = Path::new(path);
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.config.workspace.join(p)
        };
        if abs.starts_with("/proc") {
            return Err(ApiError::path_not_allowed(path));
        }
        Ok(abs)
    }

    /// The working directory of a run: the requested one, else the workspace. The SDKs always send
    /// `/workspace`, which means the configured workspace wherever that is.
    pub fn workdir(&self, requested: Option<&str>) -> ApiResult<PathBuf> {
        match requested.filter(|s| !s.is_empty() && *s != SDK_WORKSPACE) {
            Some(d) => self.resolve_path(d),
            None => Ok(self.config.workspace.clone()),
        }
    }

    /// Gives a file or directory the agent created to the sandbox user, so user code can change it.
    pub fn chown_to_user(&self, path: &Path) {
        if let Some((uid, gid)) = self.spawner.run_as() {
            let _ = std::os::unix::fs::lchown(path, Some(uid), Some(gid));
        }
    }
}
