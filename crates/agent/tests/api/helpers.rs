//! Starts the real `warren-agent` binary on a free loopback port with a temporary workspace.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sandbox_token::TokenKey;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub const SANDBOX_ID: &str = "sbx-test";
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A running agent; killed on drop.
pub struct TestAgent {
    child: Child,
    pub base: String,
    pub port: u16,
    pub token: String,
    pub key: TokenKey,
    pub workspace: PathBuf,
    /// The secrets file, with [`Options::secrets_mode`].
    pub secrets: Option<PathBuf>,
    /// The directory the agent binary runs from (its own, with [`Options::own_binary_dir`]).
    pub bin_dir: PathBuf,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Options for [`TestAgent::start_with`].
#[derive(Default)]
pub struct Options {
    pub env: Vec<(&'static str, String)>,
    pub args: Vec<String>,
    /// Start without identity, only with this configure secret.
    pub configure_secret: Option<String>,
    /// Do not wait for `/health` to answer 200.
    pub no_wait: bool,
    /// Pass the token key in a secrets file (root's, in a root directory) with this mode, as the
    /// Docker runtime does.
    pub secrets_mode: Option<u32>,
    /// Run the binary from a directory of its own (a hard link), which the agent keeps private.
    pub own_binary_dir: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn open_dir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
}

impl TestAgent {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        open_dir(dir.path());
        let workspace = dir.path().join("workspace");
        let tmp = dir.path().join("tmp");
        open_dir(&workspace);
        open_dir(&tmp);
        let key = TokenKey::generate();
        let port = free_port();
        let mut bin = PathBuf::from(env!("CARGO_BIN_EXE_warren-agent"));
        if opts.own_binary_dir {
            let own = dir.path().join("bin/warren-agent");
            std::fs::create_dir(dir.path().join("bin")).unwrap();
            std::fs::hard_link(&bin, &own)
                .or_else(|_| std::fs::copy(&bin, &own).map(drop))
                .unwrap();
            bin = own;
        }
        let bin_dir = bin.parent().unwrap().to_path_buf();
        let mut cmd = Command::new(&bin);
        cmd.env_clear()
            .env("PATH", PATH)
            .env("WARREN_AGENT_LISTEN", format!("127.0.0.1:{port}"))
            .env("WARREN_AGENT_WORKSPACE", &workspace)
            .env("WARREN_AGENT_TMP", &tmp)
            .env("WARREN_AGENT_PYTHON", "python3")
            .env(
                "WARREN_AGENT_LOG",
                std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into()),
            )
            .args(&opts.args)
            .stdin(Stdio::null());
        match &opts.configure_secret {
            Some(secret) => {
                cmd.env("WARREN_AGENT_CONFIGURE_SECRET", secret);
            }
            None => {
                cmd.env("WARREN_AGENT_SANDBOX_ID", SANDBOX_ID);
                if opts.secrets_mode.is_none() {
                    cmd.env("WARREN_AGENT_TOKEN_KEY", key.to_hex());
                }
            }
        }
        let secrets = opts.secrets_mode.map(|mode| {
            let private = dir.path().join("private");
            std::fs::create_dir(&private).unwrap();
            let file = private.join("secrets");
            std::fs::write(&file, format!("WARREN_AGENT_TOKEN_KEY={}\n", key.to_hex())).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            cmd.env("WARREN_AGENT_SECRETS_FILE", &file);
            file
        });
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start warren-agent");
        let agent = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            token: key.sign(SANDBOX_ID, chrono::Utc::now().timestamp() + 3600),
            key,
            workspace,
            secrets,
            bin_dir,
            http: reqwest::Client::new(),
            _dir: dir,
        };
        agent.wait_listening(!opts.no_wait).await;
        agent
    }

    async fn wait_listening(&self, healthy: bool) {
        for _ in 0..500 {
            if let Ok(r) = self.http.get(self.url("/health")).send().await
                && (!healthy || r.status() == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("agent did not come up");
    }

    /// Runs `cmd` through `/commands/run` as user code does, and asserts it succeeded.
    pub async fn user_code(&self, cmd: &str) {
        let (status, out) = self
            .post_json("/commands/run", json!({"command": cmd}))
            .await;
        assert_eq!(
            (status, out["exit_code"].clone()),
            (200, json!(0)),
            "{cmd}: {out}"
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(&self.token)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(&self.token)
    }

    /// POSTs JSON and returns (status, body).
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.post(path).json(&body)).await
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        send(self.get(path)).await
    }

    /// Runs code through `/execute` and returns the body, asserting HTTP 200.
    /// `/jupyter/sessions` once it lists the kernel the agent starts ahead of the first run.
    pub async fn started_kernel(&self) -> Value {
        let mut sessions = json!([]);
        for _ in 0..200 {
            sessions = self.get_json("/jupyter/sessions").await.1["sessions"].clone();
            if sessions != json!([]) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_ne!(sessions, json!([]), "the kernel was started ahead");
        sessions
    }

    pub async fn exec(&self, language: &str, code: &str) -> Value {
        let (status, body) = self
            .post_json(
                "/execute",
                serde_json::json!({"language": language, "code": code}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn ws(&self, path: &str) -> Ws {
        let mut req = format!("ws://127.0.0.1:{}{path}", self.port)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().unwrap(),
        );
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("ws connect");
        Ws(ws)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a request and returns (status, JSON body), checking the contract's response headers.
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    assert!(
        res.headers().contains_key("x-request-id"),
        "no X-Request-ID"
    );
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.bytes().await.unwrap();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    (status, serde_json::from_slice(&body).expect("JSON body"))
}

/// A multipart upload of `data` named `name` to `path`.
pub fn multipart(path: &str, name: &str, data: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("path", path.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(data).file_name(name.to_owned()),
        )
}

/// Asserts the agent's error shape and returns the code.
pub fn error_code(body: &Value) -> &str {
    assert!(body["error"].is_string(), "error must be a string: {body}");
    assert_eq!(body["error"], body["message"]);
    let code = body["code"].as_str().expect("code");
    assert!(
        code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
        "{code}"
    );
    code
}

/// A WebSocket client speaking JSON text frames.
pub struct Ws(
    pub tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Ws {
    pub async fn send_json(&mut self, v: Value) {
        self.0
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, s: &str) {
        self.0
            .send(Message::Text(s.to_owned().into()))
            .await
            .unwrap();
    }

    /// Next JSON frame, or None when the stream ends. Every frame must be JSON text under 1 MiB.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(20), self.0.next())
                .await
                .expect("frame within 20 s")?;
            match msg.ok()? {
                Message::Text(t) => {
                    assert!(t.len() < 1 << 20);
                    return Some(serde_json::from_str(&t).expect("JSON frame"));
                }
                Message::Close(_) => return None,
                Message::Binary(_) => panic!("binary frame"),
                _ => continue,
            }
        }
    }

    /// Reads frames until one has `type == ty`; returns all frames read.
    pub async fn until(&mut self, ty: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        while let Some(f) = self.next().await {
            let done = f["type"] == ty;
            seen.push(f);
            if done {
                return seen;
            }
        }
        panic!("stream ended before a {ty} frame: {seen:?}");
    }
}
