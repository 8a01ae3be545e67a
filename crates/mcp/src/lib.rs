//! Warren's MCP server (Model Context Protocol), on the official Rust SDK `rmcp`.
//!
//! The tools are a client of Warren's public HTTP API ([`api::Api`]): the control plane at a base
//! URL with an API key, each sandbox's agent through the router, as an SDK would. So the same
//! tools serve `/mcp` inside `warren serve` ([`http_service`], the key of each request) and
//! `warren mcp` over stdio ([`serve_stdio`], one key), and the API's own authentication,
//! organization scoping and rate limit apply to every call.

pub mod api;
mod prompts;
mod resources;
mod server;
mod tools;

use std::sync::Arc;

use rmcp::ServiceExt as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

pub use server::WarrenMcp;

/// The Streamable HTTP service of `/mcp`, its tools calling the Warren at `api_base` with the key
/// each request presents. The caller authenticates requests before they reach it.
///
/// Both protocol generations are served: a client that negotiates the current revision
/// (`2026-07-28`) is answered statelessly, one that uses the older session-based handshake
/// (`initialize`, then `Mcp-Session-Id`) gets a session (`legacy_session_mode`). The `Host`
/// check is off: `/mcp` is served on whatever name Warren's API has, and every request carries
/// an API key, which a DNS-rebinding page does not have.
pub fn http_service(api_base: &str) -> StreamableHttpService<WarrenMcp, LocalSessionManager> {
    let api = api::Api::new(api_base);
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(true)
        .disable_allowed_hosts();
    StreamableHttpService::new(
        move || Ok(WarrenMcp::new(api.clone(), None)),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// Serves the tools over stdin/stdout until the client closes them, every call with `api_key`
/// against the Warren at `api_base`.
pub async fn serve_stdio(api_base: &str, api_key: &str) -> anyhow::Result<()> {
    let server = WarrenMcp::new(api::Api::new(api_base), Some(api_key.to_owned()));
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}
