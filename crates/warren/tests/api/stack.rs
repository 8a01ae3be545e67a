//! The whole stack on the real engine: `warren serve` with the Docker runtime, and sandboxes reached
//! through its router, for the tests that drive it end to end (exhaustion, pause cycles).
//!
//! In the `docker-engine` test group with their callers (`.config/nextest.toml`).

use reqwest::Method;
use serde_json::{Value, json};
use test_support::TestDatabase;

use crate::docker::serve_docker;
use crate::replicas::Replica;

/// A created sandbox and the key of its organization.
pub struct Sbx {
    pub id: String,
    pub token: String,
    pub key: String,
}

pub struct Stack {
    pub base: String,
    pub port: u16,
    pub client: reqwest::Client,
    _serve: Replica,
}

impl Stack {
    /// `warren serve` on `db` with the Docker runtime, healthy.
    pub async fn start(db: &TestDatabase) -> Self {
        Self::start_with(db, &[]).await
    }

    /// The same with `extra` settings.
    pub async fn start_with(db: &TestDatabase, extra: &[(&str, &str)]) -> Self {
        let serve = serve_docker(db, extra).await;
        Self {
            base: serve.base.clone(),
            port: serve.base.rsplit(':').next().unwrap().parse().unwrap(),
            client: reqwest::Client::new(),
            _serve: serve,
        }
    }

    /// The router host of `id`'s agent.
    pub fn host(&self, id: &str) -> String {
        format!("{id}.sandbox.localhost:{}", self.port)
    }

    pub async fn create(&self, key: &str, template: &str) -> Sbx {
        let r = self
            .client
            .post(format!("{}/v1/sandboxes", self.base))
            .header("x-api-key", key)
            .json(&json!({"template_name": template}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let created: Value = r.json().await.unwrap();
        Sbx {
            id: created["id"].as_str().unwrap().to_owned(),
            token: created["auth_token"].as_str().unwrap().to_owned(),
            key: key.to_owned(),
        }
    }

    /// `POST /v1/sandboxes/{id}/{action}`: the status code and the body.
    pub async fn act(&self, sb: &Sbx, action: &str) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/v1/sandboxes/{}/{action}", self.base, sb.id))
            .header("x-api-key", &sb.key)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// A request to `sb`'s agent through the router, with its token.
    pub fn agent(&self, sb: &Sbx, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("host", self.host(&sb.id))
            .bearer_auth(&sb.token)
    }

    /// Runs `code` in `language` in `sb` through the router: stdout and stderr.
    pub async fn run(&self, sb: &Sbx, language: &str, code: &str) -> Result<String, String> {
        let body = json!({"code": code, "language": language, "timeout": 60});
        let r = self
            .agent(sb, Method::POST, "/execute")
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let out: Value = r.json().await.map_err(|e| e.to_string())?;
        let text = |f: &str| out[f].as_str().unwrap_or_default().to_owned();
        Ok(text("stdout") + &text("stderr"))
    }

    /// What the API says of `sb` (its organization's key), less the request id.
    pub async fn record(&self, sb: &Sbx) -> Value {
        let r = self
            .client
            .get(format!("{}/v1/sandboxes/{}", self.base, sb.id))
            .header("x-api-key", &sb.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let mut v: Value = r.json().await.unwrap();
        v.as_object_mut().unwrap().remove("request_id");
        v
    }
}
