//! Talking to a sandbox's agent from the host: waiting for `/health` and the warm pool's configure
//! step.

use std::net::SocketAddr;
use std::time::Duration;

use api_types::agent::ConfigureRequest;
use runtime::RuntimeError;

use crate::engine::failed;

/// How often `/health` is asked while a sandbox starts.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// The most one `/health` or configure request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// An HTTP client for agents: direct connections, never through a proxy from the environment.
pub fn client() -> Result<reqwest::Client, RuntimeError> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| RuntimeError::Failed(e.into()))
}

/// Whether the agent at `addr` answers `/health` with 200 now.
pub async fn is_healthy(http: &reqwest::Client, addr: SocketAddr) -> bool {
    let response = http
        .get(format!("http://{addr}/health"))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    matches!(response, Ok(r) if r.status() == reqwest::StatusCode::OK)
}

/// Runs the one-time configure step with the owner's identity.
pub async fn configure(
    http: &reqwest::Client,
    addr: SocketAddr,
    secret: &str,
    request: &ConfigureRequest,
) -> Result<(), RuntimeError> {
    let response = http
        .post(format!("http://{addr}/_warren/configure"))
        .bearer_auth(secret)
        .json(request)
        .send()
        .await
        .map_err(|e| RuntimeError::Failed(e.into()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(failed(format!(
        "the agent refused the configure step ({status}): {body}"
    )))
}
