//! The streaming reverse proxy: HTTP/1.1 to every sandbox (each keep-alive client connection on its
//! own [`Lane`], upgrades and HTTP/2 clients through one shared pool), bodies streamed both ways
//! (never buffered), WebSocket and other upgrades spliced byte for byte, `X-Forwarded-*` set and
//! hop-by-hop headers removed. A client that hangs up drops the upstream request or connection with it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, Scheme, Uri};
use http::{StatusCode, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::broadcast;
use tracing::Instrument as _;

use super::access;
use super::error::RouterError;
use super::host::{SandboxHost, Target};
use super::lane::Lane;
use super::limits::{SandboxSlots, Slot};
use super::routes::{Route, Routes};
use api_error::request_id;
use settings::RouterSettings;

/// Idle connections to sandboxes are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(30);

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Hop-by-hop headers (RFC 9110 §7.6.1), besides those a `Connection` header names.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Everything the router shares between connections.
pub struct Proxy {
    /// `router.domain`, lower-case.
    pub domain: String,
    forwarded_proto: HeaderValue,
    secure_cookies: bool,
    pub routes: Arc<Routes>,
    connect_timeout: Duration,
    client: Client<HttpConnector, Body>,
    slots: SandboxSlots,
}

impl Proxy {
    pub fn new(routes: Arc<Routes>, settings: &RouterSettings) -> Self {
        let connect_timeout = Duration::from_secs(u64::from(settings.connect_timeout_seconds));
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);
        let scheme = settings.scheme.to_ascii_lowercase();
        Self {
            domain: settings.domain.to_ascii_lowercase(),
            forwarded_proto: HeaderValue::from_str(&scheme)
                .unwrap_or(HeaderValue::from_static("http")),
            secure_cookies: scheme == "https",
            routes,
            connect_timeout,
            client,
            slots: SandboxSlots::new(settings.max_connections_per_sandbox),
        }
    }

    /// Forwards a request for a sandbox host (on `lane`, the client connection's own upstream
    /// connection, when it can), or answers the router's refusal.
    pub async fn forward(
        &self,
        host: SandboxHost,
        peer: SocketAddr,
        lane: &Lane,
        mut req: Request,
    ) -> Response {
        let refuse = |e: RouterError, headers: &HeaderMap| e.into_response(request_id::of(headers));
        let route = match self.routes.get(host.id()).await {
            Ok(route) => route,
            Err(e) => return refuse(RouterError::Database(e), req.headers()),
        };
        let running = match &*route {
            Route::Running(r) => r,
            Route::NotRunning(status) => {
                return refuse(RouterError::NotRunning(*status), req.headers());
            }
            Route::NotFound => return refuse(RouterError::NotFound, req.headers()),
            Route::Broken => {
                let e = RouterError::Unreachable {
                    port: host.port(),
                    source: None,
                };
                return refuse(e, req.headers());
            }
        };
        let preview = host.target != Target::Agent;
        let max_lifetime = self.routes.max_token_lifetime();
        let checked = if !preview {
            access::check_agent(req.headers(), &host, running, max_lifetime).map(|()| None)
        } else if running.private_previews {
            let (headers, uri) = (req.headers(), req.uri());
            access::check_preview(
                headers,
                uri,
                &host,
                running,
                max_lifetime,
                self.secure_cookies,
            )
        } else {
            Ok(None)
        };
        let cookie = match checked {
            Ok(cookie) => cookie,
            Err(e) => return refuse(e, req.headers()),
        };
        let Some(slot) = self.slots.take(host.id()) else {
            let e = RouterError::TooManyConnections {
                limit: self.slots.max(),
            };
            return refuse(e, req.headers());
        };
        let addr = match host.target {
            Target::Agent => running.agent,
            Target::Port(port) => SocketAddr::new(running.agent.ip(), port),
        };
        let client_request_id = req.headers().get(request_id::HEADER).cloned();
        let upgrade = wants_upgrade(req.headers());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        // Concurrent requests of one HTTP/2 connection, and upgrades, go through the pool.
        let on_lane = !upgrade && req.version() <= Version::HTTP_11;

        let (mut parts, body) = req.into_parts();
        if preview {
            access::strip(&mut parts.headers, &mut parts.uri);
        }
        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        let mut uri = http::uri::Parts::default();
        if !on_lane {
            let authority = match host.target {
                Target::Agent => Ok(running.agent_authority.clone()),
                Target::Port(_) => Authority::try_from(addr.to_string()),
            };
            uri.scheme = Some(Scheme::HTTP);
            uri.authority = authority.ok();
        }
        uri.path_and_query = Some(path);
        let Ok(uri) = Uri::from_parts(uri) else {
            let e = RouterError::BadTarget;
            return e.into_response(request_id::of_value(client_request_id.as_ref()));
        };
        prepare_request(
            &mut parts.headers,
            &parts.uri,
            peer,
            &self.forwarded_proto,
            upgrade,
        );
        parts.uri = uri;
        parts.version = Version::HTTP_11;

        let req = Request::from_parts(parts, body);
        let sent = if on_lane {
            lane.send(addr, req, self.connect_timeout).await
        } else {
            match self.client.request(req).await {
                Ok(r) => Ok(r.map(Body::new)),
                Err(e) => Err(e.into()),
            }
        };
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => {
                let e = RouterError::Unreachable {
                    port: host.port(),
                    source: Some(e),
                };
                return e.into_response(request_id::of_value(client_request_id.as_ref()));
            }
        };
        let switched = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        if switched && let Some(client_upgrade) = client_upgrade {
            let upstream = hyper::upgrade::on(&mut response);
            let stopped = self.routes.stopped();
            let span = tracing::debug_span!("tunnel", sandbox.id = %host.id(), port = host.port());
            tokio::spawn(tunnel(client_upgrade, upstream, host, stopped, slot).instrument(span));
        } else {
            response = response.map(|body| slot.hold_during(body));
        }
        strip_hop_by_hop(response.headers_mut(), switched);
        if let Some(cookie) = cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// Whether the client asks to switch protocols (WebSocket): `Connection: upgrade` and `Upgrade`.
fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Removes hop-by-hop headers (and those `Connection` names); keeps `Upgrade` with
/// `Connection: upgrade` when the protocol switch goes through.
fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        if !(upgrade && *name == header::UPGRADE) {
            headers.remove(name);
        }
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

/// Hop-by-hop headers out, `Host` kept (HTTP/2 clients send it as the authority), `X-Forwarded-*` in.
fn prepare_request(
    headers: &mut HeaderMap,
    uri: &Uri,
    peer: SocketAddr,
    proto: &HeaderValue,
    upgrade: bool,
) {
    strip_hop_by_hop(headers, upgrade);
    if !headers.contains_key(header::HOST)
        && let Some(v) = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        headers.insert(header::HOST, v);
    }
    let ip = peer.ip().to_canonical();
    let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(before) => HeaderValue::from_str(&format!("{before}, {ip}")),
        None => HeaderValue::from_str(&ip.to_string()),
    };
    if let Ok(v) = forwarded_for {
        headers.insert(X_FORWARDED_FOR, v);
    }
    headers.insert(X_FORWARDED_PROTO, proto.clone());
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.insert(X_FORWARDED_HOST, host);
    }
}

/// Splices an upgraded client connection to the upgraded upstream one until either side closes or
/// the sandbox stops running; holds the sandbox's `_slot` meanwhile.
async fn tunnel(
    client: OnUpgrade,
    upstream: OnUpgrade,
    host: SandboxHost,
    mut stopped: broadcast::Receiver<Arc<str>>,
    _slot: Slot,
) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade failed");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    let until_stopped = async {
        loop {
            match stopped.recv().await {
                Ok(id) if &*id == host.id() => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    };
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
            if let Err(e) = copied {
                tracing::debug!(error = %e, "tunnel ended with an error");
            }
        }
        () = until_stopped => tracing::debug!("sandbox stopped running; tunnel closed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go_and_forwarded_ones_come() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic x"),
            ("upgrade", "h2c"),
            ("x-forwarded-for", "10.0.0.1"),
            ("host", "3000-abcdefgh1234.sandbox.localhost:8080"),
            ("x-kept", "yes"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let peer: SocketAddr = "[::ffff:192.0.2.7]:5000".parse().unwrap();
        prepare_request(
            &mut h,
            &Uri::from_static("/"),
            peer,
            &HeaderValue::from_static("https"),
            false,
        );
        let names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        for gone in [
            "connection",
            "keep-alive",
            "x-secret",
            "te",
            "proxy-authorization",
            "upgrade",
        ] {
            assert!(!names.contains(&gone), "{gone} still in {names:?}");
        }
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(
            h["x-forwarded-host"],
            "3000-abcdefgh1234.sandbox.localhost:8080"
        );
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn upgrades_keep_their_headers_and_http2_gets_a_host() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(wants_upgrade(&h));
        let uri = Uri::from_static("http://abcdefgh1234.sandbox.localhost/terminal");
        prepare_request(
            &mut h,
            &uri,
            "127.0.0.1:1".parse().unwrap(),
            &HeaderValue::from_static("http"),
            true,
        );
        assert_eq!(h[header::CONNECTION], "upgrade");
        assert_eq!(h[header::UPGRADE], "websocket");
        assert_eq!(h[header::HOST], "abcdefgh1234.sandbox.localhost");
        h.remove(header::UPGRADE);
        assert!(!wants_upgrade(&h));
    }
}
