//! Real `warren-agent` processes for tests and benchmarks that run the control plane with the fake
//! runtime: [`agent_hook`] makes every sandbox the fake creates run an agent on a free loopback port
//! with the sandbox's id and token key, so the router has a real agent to proxy to.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime::SandboxSpec;
use runtime::fake::AgentHook;
use tokio::net::TcpStream;

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `WARREN_AGENT_BIN`, else `warren-agent` in the target directory of the running test or benchmark
/// (`cargo build --workspace` builds it, `--release` for benchmarks; scripts/test.sh does).
pub fn agent_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WARREN_AGENT_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test executable");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("warren-agent");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p agent` (or set WARREN_AGENT_BIN)",
        bin.display()
    );
    bin
}

/// A `warren-agent` process; killed on drop.
pub struct Agent {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Agent {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn open_dir(p: &std::path::Path) {
    std::fs::create_dir_all(p).expect("mkdir");
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).expect("chmod");
}

/// Starts an agent for `spec` and returns it once it accepts connections.
pub async fn start_agent(spec: &SandboxSpec) -> (Agent, SocketAddr) {
    let dir = tempfile::tempdir().expect("tempdir");
    open_dir(dir.path());
    let (workspace, tmp) = (dir.path().join("workspace"), dir.path().join("tmp"));
    open_dir(&workspace);
    open_dir(&tmp);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(agent_bin())
        .env_clear()
        .env("PATH", PATH)
        .env("WARREN_AGENT_LISTEN", addr.to_string())
        .env("WARREN_AGENT_WORKSPACE", &workspace)
        .env("WARREN_AGENT_TMP", &tmp)
        .env("WARREN_AGENT_SANDBOX_ID", &spec.sandbox_id)
        .env("WARREN_AGENT_TOKEN_KEY", &spec.token_key_hex)
        .env(
            "WARREN_AGENT_LOG",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into()),
        )
        .stdin(Stdio::null())
        .spawn()
        .expect("start warren-agent");
    let agent = Agent { child, _dir: dir };
    for _ in 0..1000 {
        if TcpStream::connect(addr).await.is_ok() {
            return (agent, addr);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("warren-agent did not listen on {addr}");
}

/// A hook for the fake runtime: every sandbox it creates runs a real agent, kept in `agents`.
pub fn agent_hook(agents: Arc<Mutex<Vec<Agent>>>) -> AgentHook {
    Arc::new(move |spec: SandboxSpec| {
        let agents = agents.clone();
        Box::pin(async move {
            let (agent, addr) = start_agent(&spec).await;
            agents.lock().unwrap_or_else(|e| e.into_inner()).push(agent);
            addr
        })
    })
}
