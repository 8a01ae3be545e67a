//! A client of Warren's public HTTP API, exactly as an SDK uses it: the control plane at the base
//! URL with the caller's API key, and each sandbox's agent through the router at the sandbox's
//! `public_host` with its `auth_token`. The API does the authentication, the organization scoping
//! and the rate limit; nothing here can see more than the key can.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What a tool reports when a call fails: the API's own message (`"Sandbox not found"` for an
/// unknown sandbox and for another organization's alike).
#[derive(Debug)]
pub struct ApiFailure(pub String);

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type ApiResult<T> = Result<T, ApiFailure>;

/// How long an agent token fetched for a tool is reused (the API signs it for much longer).
const AGENT_TOKEN_REUSE: Duration = Duration::from_secs(600);
/// Cached agent credentials at most; the cache is emptied when it is full.
const MAX_CACHED_AGENTS: usize = 1024;

/// One sandbox's agent: where to reach it and the token it takes.
#[derive(Clone, Debug)]
pub struct Agent {
    pub public_host: String,
    token: String,
}

impl Agent {
    pub fn new(public_host: &str, token: &str) -> Self {
        Self {
            public_host: public_host.to_owned(),
            token: token.to_owned(),
        }
    }
}

/// Shared by every caller of one server: the HTTP client and the agent credentials fetched so far,
/// keyed by API key and sandbox id (so one key's entry never serves another key).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    agents: Arc<Mutex<AgentCache>>,
}

/// `(API key, sandbox id)` → the agent and when its token was fetched.
type AgentCache = HashMap<(String, String), (Agent, Instant)>;

/// [`Api`] with the key of one caller.
pub struct Caller<'a> {
    api: &'a Api,
    key: String,
}

impl Api {
    /// A client of the Warren at `base` (`http://host:port`, no trailing slash needed).
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(LocalhostResolver))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            agents: Default::default(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn with_key(&self, key: &str) -> Caller<'_> {
        Caller {
            api: self,
            key: key.to_owned(),
        }
    }
}

impl Caller<'_> {
    /// A control-plane request; the JSON answer or the API's error message.
    pub async fn control(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> ApiResult<Value> {
        let mut req = self
            .api
            .http
            .request(method, format!("{}{path}", self.api.base))
            .header("x-api-key", &self.key)
            .timeout(Duration::from_secs(300));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(unreachable_api)?;
        json_or_failure(resp).await
    }

    /// The agent of sandbox `id`: its `public_host` and a token from `token/refresh` (reused for a
    /// while). Unknown and foreign sandboxes fail alike, with the API's "Sandbox not found".
    pub async fn agent(&self, id: &str) -> ApiResult<Agent> {
        let slot = (self.key.clone(), id.to_owned());
        if let Some((agent, at)) = self.api.agents.lock().unwrap().get(&slot)
            && at.elapsed() < AGENT_TOKEN_REUSE
        {
            return Ok(agent.clone());
        }
        let path = format!("/v1/sandboxes/{}", encode(id));
        let sandbox = self.control(Method::GET, &path, None).await?;
        let token = self
            .control(Method::POST, &format!("{path}/token/refresh"), None)
            .await?;
        let agent = Agent {
            public_host: str_field(&sandbox, "public_host")?,
            token: str_field(&token, "auth_token")?,
        };
        self.remember(id, &agent);
        Ok(agent)
    }

    /// Keeps the agent of a sandbox just created, so its first call needs no refresh.
    pub fn remember(&self, id: &str, agent: &Agent) {
        let mut agents = self.api.agents.lock().unwrap();
        if agents.len() >= MAX_CACHED_AGENTS {
            agents.clear();
        }
        agents.insert(
            (self.key.clone(), id.to_owned()),
            (agent.clone(), Instant::now()),
        );
    }

    pub fn forget(&self, id: &str) {
        let slot = (self.key.clone(), id.to_owned());
        self.api.agents.lock().unwrap().remove(&slot);
    }

    /// A JSON request to sandbox `id`'s agent.
    pub async fn agent_json(
        &self,
        id: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        timeout: Duration,
    ) -> ApiResult<Value> {
        let resp = self.agent_request(id, method, path, body, timeout).await?;
        json_or_failure(resp).await
    }

    /// A request to sandbox `id`'s agent whose answer is bytes (a PNG, a download).
    pub async fn agent_bytes(&self, id: &str, path: &str, timeout: Duration) -> ApiResult<Vec<u8>> {
        let resp = self
            .agent_request(id, Method::GET, path, None, timeout)
            .await?;
        if !resp.status().is_success() {
            return Err(failure_of(resp).await);
        }
        let bytes = resp.bytes().await.map_err(unreachable_sandbox)?;
        Ok(bytes.to_vec())
    }

    async fn agent_request(
        &self,
        id: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        timeout: Duration,
    ) -> ApiResult<reqwest::Response> {
        let agent = self.agent(id).await?;
        let send = |agent: &Agent| {
            let mut req = self
                .api
                .http
                .request(
                    method.clone(),
                    format!("{}{path}", agent.public_host.trim_end_matches('/')),
                )
                .bearer_auth(&agent.token)
                .timeout(timeout);
            if let Some(body) = &body {
                req = req.json(body);
            }
            req.send()
        };
        let resp = send(&agent).await.map_err(unreachable_sandbox)?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        // The token was rotated or revoked meanwhile: fetch a fresh one, once.
        self.forget(id);
        let agent = self.agent(id).await?;
        send(&agent).await.map_err(unreachable_sandbox)
    }
}

fn str_field(v: &Value, field: &str) -> ApiResult<String> {
    v.get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiFailure(format!("The API's answer has no {field}")))
}

async fn json_or_failure(resp: reqwest::Response) -> ApiResult<Value> {
    if !resp.status().is_success() {
        return Err(failure_of(resp).await);
    }
    let status = resp.status();
    let text = resp.text().await.map_err(unreachable_api)?;
    Ok(serde_json::from_str(&text)
        .unwrap_or_else(|_| json!({"status": status.as_u16(), "body": text})))
}

/// The message of an error answer (both envelopes carry a top-level `message`), else its status.
async fn failure_of(resp: reqwest::Response) -> ApiFailure {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| body.get("error").and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP {status}"));
    match body.get("code").and_then(Value::as_str) {
        Some(code) => ApiFailure(format!("{message} ({code})")),
        None => ApiFailure(message),
    }
}

fn unreachable_api(e: reqwest::Error) -> ApiFailure {
    ApiFailure(format!("Warren's API did not answer: {}", without_url(e)))
}

fn unreachable_sandbox(e: reqwest::Error) -> ApiFailure {
    ApiFailure(format!("The sandbox did not answer: {}", without_url(e)))
}

fn without_url(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.without_url().to_string()
    }
}

/// Percent-encodes a path segment or query value (everything but unreserved characters).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Resolves `localhost` and every `*.localhost` name to the loopback address, as RFC 6761 asks
/// (the router's default domain is `sandbox.localhost`), without relying on the system resolver
/// doing so; every other name goes to the system resolver.
struct LocalhostResolver;

impl Resolve for LocalhostResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: Addrs = Box::new(std::iter::once(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    0,
                )));
                return Ok(addrs);
            }
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addrs: Addrs = Box::new(found.collect::<Vec<_>>().into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_segments() {
        assert_eq!(encode("abc-1_2.~"), "abc-1_2.~");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
        assert_eq!(encode("/workspace/ü"), "%2Fworkspace%2F%C3%BC");
    }
}
