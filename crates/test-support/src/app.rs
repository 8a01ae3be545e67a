//! [`spawn_app`]: the real control plane on a random port, over real TCP, with a fake runtime.

use std::sync::Arc;

use control_plane::startup::Application;
use control_plane::state::AppState;
use reqwest::{Client, Method, RequestBuilder, Response};
use runtime::fake::FakeRuntime;
use scheduler::reaper::Reaper;
use secrecy::SecretString;
use serde_json::Value;
use settings::Settings;
use sqlx::PgPool;

use crate::postgres::{TestDatabase, test_database};

pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub port: u16,
    pub client: Client,
    /// A key of [`TestApp::org_id`].
    pub api_key: String,
    pub org_id: i64,
    pub pool: PgPool,
    pub runtime: Arc<FakeRuntime>,
    pub db: TestDatabase,
    pub settings: Settings,
    /// The app's state, for driving its background work (reconciler, pool refill) by hand.
    pub state: AppState,
    reaper: Reaper,
}

/// A second server on a [`TestApp`]'s database; [`Replica::serving`] aborted stops it.
pub struct Replica {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub state: AppState,
    pub serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// An app with default settings (listening on 127.0.0.1, random port).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// An app with settings adjusted by `tweak` (the database URL and listen address are set first).
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(Arc::new(FakeRuntime::new()), tweak).await
}

/// The same on `runtime` (e.g. [`FakeRuntime::with_images`]).
pub async fn spawn_app_on(runtime: Arc<FakeRuntime>, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let db = test_database().await;
    let mut settings = Settings::default();
    settings.database.url = SecretString::from(db.url.clone());
    settings.database.max_connections = 5;
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    tweak(&mut settings);
    let app = Application::build(settings.clone(), Some(runtime.clone()))
        .await
        .expect("build the app")
        .without_background_tasks();
    let port = app.port();
    let pool = app.state().pool.clone();
    let reaper = app.reaper();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let org = control_plane::admin::create_org(&pool, "test-org", None, None)
        .await
        .expect("create org");
    let (_, api_key) = control_plane::admin::create_key(&pool, "test-org", Some("test"))
        .await
        .expect("create key");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: Client::builder().no_proxy().build().expect("client"),
        api_key,
        org_id: org.id,
        pool,
        runtime,
        db,
        settings,
        state,
        reaper,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with the app's API key in `X-API-Key` and `Content-Type: application/json`, as the
    /// Python SDK sends on every request.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(&self.api_key, method, path)
    }

    /// The same with another key.
    pub fn request_as(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("x-api-key", key)
            .header("content-type", "application/json")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("GET")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path)
            .send()
            .await
            .expect("DELETE")
    }

    /// POST with an empty body (the pause/resume/... shape).
    pub async fn post_empty(&self, path: &str) -> Response {
        self.request(Method::POST, path).send().await.expect("POST")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .body(body.to_string())
            .send()
            .await
            .expect("POST")
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::PUT, path)
            .body(body.to_string())
            .send()
            .await
            .expect("PUT")
    }

    /// Creates a sandbox of `template` and returns the response body (asserting 201).
    pub async fn create_sandbox(&self, template: &str) -> Value {
        let r = self
            .post_json(
                "/v1/sandboxes",
                &serde_json::json!({ "template_name": template }),
            )
            .await;
        let status = r.status();
        let body: Value = r.json().await.expect("JSON body");
        assert_eq!(status, 201, "create failed: {body}");
        body
    }

    /// Another organization with its own key: `(org id, key)`.
    pub async fn other_org(&self, name: &str) -> (i64, String) {
        let org = control_plane::admin::create_org(&self.pool, name, None, None)
            .await
            .expect("create org");
        let (_, key) = control_plane::admin::create_key(&self.pool, name, None)
            .await
            .expect("create key");
        (org.id, key)
    }

    /// Another replica of this app: the same settings, database and runtime, on its own port. With
    /// `background_tasks` it competes for leadership (reconciler, pool refill) and runs the reaper.
    pub async fn replica(&self, background_tasks: bool) -> Replica {
        let mut app = Application::build(self.settings.clone(), Some(self.runtime.clone()))
            .await
            .expect("build a replica");
        if !background_tasks {
            app = app.without_background_tasks();
        }
        Replica {
            address: format!("http://127.0.0.1:{}", app.port()),
            state: app.state(),
            serving: tokio::spawn(app.run_until_stopped()),
        }
    }

    /// One reaper pass; returns the ids it deleted.
    pub async fn run_reaper_once(&self) -> Vec<String> {
        self.reaper.run_once().await.expect("reaper pass")
    }
}
