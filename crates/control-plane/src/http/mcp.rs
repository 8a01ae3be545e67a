//! `/mcp`: Warren's MCP server (the `mcp` crate) over the Streamable HTTP transport.
//!
//! Requests pass the API's own key check and rate limit ([`auth::layer`]) first; a refused key is
//! 401 with `WWW-Authenticate: Bearer`, as MCP clients expect. The tools then call this server's
//! own public API over HTTP on the listen address (loopback when it listens on every address),
//! with the key the request presented: the simplest way to give them exactly an SDK's view (the
//! same authentication, organization scoping, rate limit and router), at the price of a loopback
//! round trip per call, and each tool call counts against the key's rate limit like the API
//! requests it makes.

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use crate::http::auth;
use crate::state::AppState;

pub fn routes(state: &AppState) -> Router<AppState> {
    let base = own_base(&state.settings.server.host, state.listen_port);
    Router::new()
        .route_service("/mcp", mcp::http_service(&base))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::layer))
        .route_layer(middleware::from_fn(challenge))
}

/// Adds the `WWW-Authenticate` challenge to the API's 401s.
async fn challenge(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="warren", error="invalid_token""#),
        );
    }
    response
}

/// The base URL this server's own API answers on, from its listen address.
fn own_base(host: &str, port: u16) -> String {
    let host = match host.trim_matches(['[', ']']) {
        "" | "0.0.0.0" => "127.0.0.1".to_owned(),
        "::" => "[::1]".to_owned(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_owned(),
    };
    format!("http://{host}:{port}")
}

#[cfg(test)]
mod tests {
    use super::own_base;

    #[test]
    fn base_of_the_listen_address() {
        assert_eq!(own_base("0.0.0.0", 8080), "http://127.0.0.1:8080");
        assert_eq!(own_base("::", 1), "http://[::1]:1");
        assert_eq!(own_base("[::1]", 1), "http://[::1]:1");
        assert_eq!(own_base("127.0.0.1", 2), "http://127.0.0.1:2");
        assert_eq!(own_base("localhost", 3), "http://localhost:3");
    }
}
