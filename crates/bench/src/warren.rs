//! The live Warren: its API (with the key) and its sandboxes' agents (through the router or direct).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Value, json};

/// A sandbox the bench created, with its per-sandbox token.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub id: String,
    pub token: String,
}

impl Sandbox {
    pub fn container(&self) -> String {
        format!("warren-{}", self.id)
    }
}

/// Where a request to a sandbox's agent goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Path {
    Router,
    /// Straight to the agent's address on the sandbox network.
    Direct,
}

/// A sandbox and how long it took from the create request to its first `print(1)`.
pub struct FirstRun {
    pub sandbox: Sandbox,
    /// The create call alone.
    pub create: Duration,
    pub total: Duration,
}

pub struct Warren {
    pub http: Client,
    pub url: String,
    key: String,
    domain: String,
    port: u16,
    /// Every sandbox created and not yet deleted, so that a failed scenario still cleans up.
    live: Mutex<Vec<String>>,
}

pub const PRINT_1: &str =
    r#"{"language":"python","code":"print(1)","workdir":"/workspace","timeout":60}"#;

impl Warren {
    pub fn new(url: &str, key: &str, domain: &str) -> anyhow::Result<Self> {
        let parsed = reqwest::Url::parse(url).context("--url")?;
        let http = Client::builder()
            .pool_max_idle_per_host(512)
            .timeout(Duration::from_secs(300))
            .build()?;
        Ok(Warren {
            http,
            url: url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            domain: domain.to_owned(),
            port: parsed.port_or_known_default().unwrap_or(80),
            live: Mutex::new(Vec::new()),
        })
    }

    /// An authenticated control-plane request.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .header("X-API-Key", &self.key)
            .header("Content-Type", "application/json")
    }

    /// A request to a sandbox's agent: through the router (the `Host` names the sandbox) or direct.
    pub fn agent(
        &self,
        sb: &Sandbox,
        via: Path,
        direct: &str,
        method: Method,
        path: &str,
    ) -> RequestBuilder {
        let req = match via {
            Path::Router => self
                .http
                .request(method, format!("{}{path}", self.url))
                .header("Host", format!("{}.{}:{}", sb.id, self.domain, self.port)),
            Path::Direct => self.http.request(method, format!("http://{direct}{path}")),
        };
        req.bearer_auth(&sb.token)
    }

    pub async fn create(&self, template: &str) -> anyhow::Result<Sandbox> {
        self.create_with(template, json!({})).await
    }

    /// A create with more fields of the request (e.g. `internet_access`) beside the template.
    pub async fn create_with(&self, template: &str, extra: Value) -> anyhow::Result<Sandbox> {
        let mut body = json!({ "template_name": template });
        if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
            b.extend(extra);
        }
        let resp = self
            .api(Method::POST, "/v1/sandboxes")
            .json(&body)
            .send()
            .await?;
        let body: Value = ok_json(resp).await.context("create")?;
        let sb = Sandbox {
            id: str_field(&body, "id")?,
            token: str_field(&body, "auth_token")?,
        };
        self.live.lock().unwrap().push(sb.id.clone());
        Ok(sb)
    }

    pub async fn delete(&self, id: &str) -> anyhow::Result<()> {
        let resp = self
            .api(Method::DELETE, &format!("/v1/sandboxes/{id}"))
            .send()
            .await?;
        ok_json(resp).await.context("delete")?;
        self.live.lock().unwrap().retain(|l| l != id);
        Ok(())
    }

    /// Deletes every sandbox still live, a few at a time.
    pub async fn cleanup(&self) -> anyhow::Result<()> {
        let ids = self.live.lock().unwrap().clone();
        let results: Vec<_> = futures::StreamExt::collect(futures::StreamExt::buffer_unordered(
            futures::stream::iter(ids.iter().map(|id| self.delete(id))),
            8,
        ))
        .await;
        results.into_iter().collect()
    }

    /// `print(1)` through the router; fails unless it printed `1`.
    pub async fn print_1(&self, sb: &Sandbox) -> anyhow::Result<()> {
        let resp = self
            .agent(sb, Path::Router, "", Method::POST, "/execute")
            .body(PRINT_1)
            .send()
            .await?;
        let body = ok_json(resp).await.context("execute")?;
        if body["stdout"].as_str() != Some("1\n") {
            bail!("print(1) answered {body}");
        }
        Ok(())
    }

    /// Create, then `print(1)` until it succeeds, timed.
    pub async fn create_to_first_run(&self, template: &str) -> anyhow::Result<FirstRun> {
        let t = Instant::now();
        let sb = self.create(template).await?;
        let create = t.elapsed();
        let mut tries = 0;
        while let Err(e) = self.print_1(&sb).await {
            tries += 1;
            if tries >= 100 {
                return Err(e.context(format!("sandbox {} never ran print(1)", sb.id)));
            }
        }
        Ok(FirstRun {
            sandbox: sb,
            create,
            total: t.elapsed(),
        })
    }
}

pub async fn ok_json(resp: reqwest::Response) -> anyhow::Result<Value> {
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("HTTP {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn str_field(v: &Value, name: &str) -> anyhow::Result<String> {
    v[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no `{name}` in {v}"))
}
