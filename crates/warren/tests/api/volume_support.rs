//! What the volume, snapshot, fork and create-by-name tests share: a `warren serve` on the real engine under an
//! instance of their own (so that no other test's reconciler removes their containers or volumes),
//! a second organization, JSON calls and commands run in a sandbox through its agent.

use std::net::SocketAddr;

use runtime::SandboxRuntime as _;
use runtime_docker::DockerRuntime;
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::TestDatabase;
use test_support::docker::docker_settings;

use crate::docker::{clean_up, serve_docker};
use crate::replicas::Replica;

/// The Docker instance of these tests.
pub const INSTANCE: &str = "warren-tests-volumes";

/// `warren serve` with the Docker runtime on [`INSTANCE`] and `extra` settings.
pub async fn serve(db: &TestDatabase, extra: &[(&str, &str)]) -> Replica {
    serve_as(INSTANCE, db, extra).await
}

/// `warren serve` with the Docker runtime on `instance` and `extra` settings.
pub async fn serve_as(instance: &str, db: &TestDatabase, extra: &[(&str, &str)]) -> Replica {
    let mut settings = vec![("WARREN_DOCKER__INSTANCE", instance)];
    settings.extend_from_slice(extra);
    serve_docker(db, &settings).await
}

/// The engine, as [`INSTANCE`]'s runtime.
pub async fn engine() -> DockerRuntime {
    engine_as(INSTANCE).await
}

/// The engine, as `instance`'s runtime.
pub async fn engine_as(instance: &str) -> DockerRuntime {
    let settings = runtime_docker::DockerSettings {
        instance: instance.into(),
        ..docker_settings()
    };
    DockerRuntime::connect(&settings)
        .await
        .expect("connect to the Docker engine")
}

/// Stops `server`, then removes what this database's rows still hold on the engine and the
/// network holders that `server` and `engine` kept spare.
pub async fn finish(server: Replica, pool: &PgPool, engine: &DockerRuntime) {
    drop(server);
    clean_up(pool, engine).await;
    engine.sweep().await.unwrap();
    engine.shutdown().await;
}

/// A second organization, `other`; its API key.
pub async fn other_org(pool: &PgPool) -> String {
    control_plane::admin::create_org(pool, "other", None, None)
        .await
        .unwrap();
    let (_, key) = control_plane::admin::create_key(pool, "other", None)
        .await
        .unwrap();
    key
}

/// A client of one server with one key.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Api {
    pub fn new(base: &str, key: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: base.to_owned(),
            key: key.to_owned(),
        }
    }

    /// `method path` with a JSON `body` (and an `Idempotency-Key` when given): status and body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("x-api-key", &self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(k) = idempotency_key {
            request = request.header("idempotency-key", k);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(&body), None)
            .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None, None).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, None, None).await
    }
}

/// A running sandbox: its id, its agent's address and its token.
pub struct Sandbox {
    pub id: String,
    pub agent: SocketAddr,
    pub token: String,
}

impl Sandbox {
    /// The sandbox of a create's answer (`created`).
    pub async fn of(pool: &PgPool, created: &Value) -> Self {
        let id = created["id"].as_str().expect("an id").to_owned();
        let agent = agent_addr(pool, &id).await;
        let token = created["auth_token"].as_str().unwrap().to_owned();
        Self { id, agent, token }
    }

    /// Reads its agent's address again (after a start).
    pub async fn refresh(&mut self, pool: &PgPool) {
        self.agent = agent_addr(pool, &self.id).await;
    }

    /// Runs `script` with bash as the sandbox user; the agent's answer (`stdout`, `stderr`,
    /// `exit_code`).
    pub async fn bash(&self, script: &str) -> Value {
        reqwest::Client::new()
            .post(format!("http://{}/execute", self.agent))
            .bearer_auth(&self.token)
            .json(&json!({"code": script, "language": "bash", "timeout": 60}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

async fn agent_addr(pool: &PgPool, id: &str) -> SocketAddr {
    sqlx::query_scalar::<_, String>("SELECT agent_addr FROM sandboxes WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
        .parse()
        .unwrap()
}
