//! Shared by the agent targets: one agent in process (its real router and state, as `warren-agent`
//! builds them) on a temporary workspace, called without a network.

use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use sandbox_token::{DEFAULT_MAX_LIFETIME_SECONDS, TokenKey};
use tower::ServiceExt as _;
use warren_agent::auth::{AuthState, Identity};
use warren_agent::config::Config;
use warren_agent::procs::limits::UserLimits;
use warren_agent::procs::spawn::Spawner;
use warren_agent::state::AppState;

const SANDBOX_ID: &str = "fuzzsandbox1";

pub struct Agent {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    /// `Authorization` header value of a valid token.
    pub bearer: String,
    pub dir: tempfile::TempDir,
}

/// The agent, built on first use.
pub fn agent() -> &'static Agent {
    static AGENT: OnceLock<Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = TokenKey::generate();
        let vars = [
            ("WARREN_AGENT_WORKSPACE", dir.path().join("workspace")),
            ("WARREN_AGENT_TMP", dir.path().join("tmp")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.display().to_string()))
        .chain([
            ("WARREN_AGENT_SANDBOX_ID".to_owned(), SANDBOX_ID.to_owned()),
            ("WARREN_AGENT_TOKEN_KEY".to_owned(), key.to_hex()),
        ]);
        let config = Config::from_env(vars, []).expect("config");
        // The files API works as the sandbox user (uid 1000 when the fuzzer runs as root): the
        // places it may write belong to that user, as in a sandbox.
        for d in [&config.workspace, &config.tmp_dir] {
            std::fs::create_dir_all(d).expect("create dirs");
            if let Some((uid, gid)) = config.run_as {
                std::os::unix::fs::chown(d, Some(uid), Some(gid)).expect("chown");
            }
        }
        if let Some((uid, gid)) = config.run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let state = rt.block_on(async {
            let spawner =
                Spawner::start(config.run_as, UserLimits::open(None, None)).expect("spawner");
            let identity = Identity::new(SANDBOX_ID.into(), key.clone());
            let auth = AuthState::new(Some(identity), None, DEFAULT_MAX_LIFETIME_SECONDS);
            AppState::new(config, auth, spawner)
        });
        Agent {
            app: warren_agent::http::router(state),
            rt,
            bearer: format!("Bearer {}", key.sign(SANDBOX_ID, expiry())),
            dir,
        }
    })
}

impl Agent {
    /// Sends `req` (with the token added) through the router; the status and body.
    pub fn call(&self, mut req: Request<Body>) -> (StatusCode, Bytes) {
        req.headers_mut()
            .insert("authorization", self.bearer.parse().expect("header"));
        self.rt.block_on(async {
            let resp = self.app.clone().oneshot(req).await.expect("infallible");
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 128 << 20)
                .await
                .unwrap_or_default();
            (status, body)
        })
    }
}

/// The agent's answers must never be a 5xx for anything a client sends.
pub fn assert_not_5xx(status: StatusCode, body: &[u8], input: &dyn std::fmt::Debug) {
    assert!(
        !status.is_server_error(),
        "{status} for {input:?}: {}",
        String::from_utf8_lossy(body)
    );
}

/// An expiry the agent accepts for as long as a fuzzing run lasts: close to the longest lifetime.
fn expiry() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(now).expect("seconds fit") + DEFAULT_MAX_LIFETIME_SECONDS - 60
}
