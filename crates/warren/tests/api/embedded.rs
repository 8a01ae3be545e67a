//! The embedded mode, for real: the built `warren` with no database URL runs its own Postgres in its
//! data directory, serves with the Docker runtime and prints its API key; SIGINT stops it and the
//! cluster cleanly; the next start finds the organization, the key and the sandbox kept.
//!
//! In the `docker-engine` test group (see `.config/nextest.toml`).

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use test_support::docker::docker_settings;

const WARREN: &str = env!("CARGO_BIN_EXE_warren");

/// A running embedded `warren`; on drop (a failed test) it gets SIGINT, so Postgres stops too.
struct Embedded {
    child: Child,
    base: String,
    port: u16,
    /// A client of its own: connections kept alive to the previous `warren` on the port are dead.
    client: reqwest::Client,
    /// What it printed before serving.
    guide: String,
    /// Kept open: the pipe stays writable while it serves.
    _stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Embedded {
    /// Starts `warren` (no subcommand) on `data_dir` and `port`; returns once it has printed its guide.
    fn start(data_dir: &Path, port: u16) -> Self {
        let docker = docker_settings();
        let mut child = Command::new(WARREN)
            .env_remove("WARREN_DATABASE__URL")
            .env_remove("WARREN_CONFIG")
            .env("WARREN_EMBEDDED__DATA_DIR", data_dir)
            .env("WARREN_SERVER__HOST", "127.0.0.1")
            .env("WARREN_SERVER__PORT", port.to_string())
            .env("WARREN_DOCKER__INSTANCE", "warren-tests-embedded")
            .env("WARREN_DOCKER__AGENT_BINARY", &docker.agent_binary)
            .env("WARREN_CAPACITY__VCPU", "64")
            .env("WARREN_CAPACITY__MEMORY_MB", "65536")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn warren");
        let mut guide = String::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while !guide.contains("Create a sandbox:") {
            match lines.next() {
                Some(line) => guide.push_str(&(line.unwrap() + "\n")),
                None => panic!("warren exited before serving ({:?}): {guide}", child.wait()),
            }
        }
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::new(),
            guide,
            _stdout: lines,
        }
    }

    /// SIGINT, then its exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        self.interrupt()
    }

    fn interrupt(&mut self) -> std::process::ExitStatus {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        kill(pid, Signal::SIGINT).expect("SIGINT warren");
        self.child.wait().expect("wait for warren")
    }

    /// `POST /execute` through the router to the sandbox's agent; its stdout.
    async fn run_python(&self, id: &str, token: &str) -> Value {
        let run = self
            .client
            .post(format!("{}/execute", self.base))
            .header("host", format!("{id}.sandbox.localhost:{}", self.port))
            .bearer_auth(token)
            .json(&json!({"language": "python", "code": "print(1)"}));
        body(run).await["stdout"].clone()
    }
}

/// The JSON body of the answer to `request`.
async fn body(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.interrupt();
        }
    }
}

#[tokio::test]
async fn serves_with_its_own_postgres_stops_cleanly_and_keeps_the_data() {
    let data = tempfile::tempdir().unwrap();
    // As root, the cluster's owner (`postgres`) must reach its directory in the data directory.
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pid_file = data.path().join("postgres/postmaster.pid");

    let first = Embedded::start(data.path(), port);
    let key = first
        .guide
        .lines()
        .find(|l| l.starts_with("wrn_"))
        .unwrap_or_else(|| panic!("the first start prints a key: {}", first.guide))
        .to_owned();
    let created = body(
        first
            .client
            .post(format!("{}/v1/sandboxes", first.base))
            .header("x-api-key", &key)
            .json(&json!({"template_name": "code-interpreter"})),
    )
    .await;
    let id = created["id"].as_str().expect("created").to_owned();
    let token = created["auth_token"].as_str().unwrap().to_owned();
    assert_eq!(first.run_python(&id, &token).await, "1\n");
    assert!(pid_file.exists(), "Postgres runs in the data directory");
    assert!(first.stop().success(), "SIGINT ends warren with status 0");
    assert!(!pid_file.exists(), "Postgres was stopped cleanly");
    let listed = Command::new(WARREN)
        .args(["key", "list", "--org", "dev"])
        .env_remove("WARREN_DATABASE__URL")
        .env_remove("WARREN_CONFIG")
        .env("WARREN_EMBEDDED__DATA_DIR", data.path())
        .output()
        .unwrap();
    let key_id = key.split('_').nth(1).unwrap();
    assert!(
        listed.status.success() && String::from_utf8_lossy(&listed.stdout).contains(key_id),
        "a command starts the stopped cluster: {listed:?}"
    );
    assert!(!pid_file.exists(), "and stops it again");

    let second = Embedded::start(data.path(), port);
    assert!(
        !second.guide.contains("wrn_") && second.guide.contains("warren key create --org dev"),
        "a later start shows no key, says how to make one: {}",
        second.guide
    );
    let listed = body(
        second
            .client
            .get(format!("{}/v1/sandboxes", second.base))
            .header("x-api-key", &key),
    )
    .await;
    assert_eq!(listed["data"][0]["id"], id.as_str(), "{listed}");
    assert_eq!(second.run_python(&id, &token).await, "1\n");
    let deleted = second
        .client
        .delete(format!("{}/v1/sandboxes/{id}", second.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert!(second.stop().success());
    assert!(!pid_file.exists());
}

/// The bootstrap of any mode (Compose sets `WARREN_BOOTSTRAP__API_KEY`): the organization is created
/// once, with the given key, which then authenticates.
#[tokio::test]
async fn the_bootstrap_creates_the_organization_once_with_the_given_key() {
    use control_plane::bootstrap::{Outcome, run};

    let app = test_support::spawn_app().await;
    let key = api_keys::generate().full;
    let given = secrecy::SecretString::from(key.clone());
    let first = run(&app.pool, "compose", Some(&given)).await.unwrap();
    assert_eq!(first, Outcome::CreatedWithGivenKey);
    let listed = app
        .request_as(&key, reqwest::Method::GET, "/v1/sandboxes")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200, "the given key authenticates");
    let again = run(&app.pool, "compose", None).await;
    assert_eq!(again.unwrap(), Outcome::Existed);
}
