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
use http::header::{self, HeaderMap, HeaderValue};
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
use super::forwarded::{prepare_request, strip_hop_by_hop, wants_upgrade};
use super::host::{SandboxHost, Target};
use super::lane::Lane;
use super::limits::{SandboxSlots, Slot};
use super::routes::{Route, Routes, Running};
use api_error::request_id;
use db::activity::Activity;
use lifecycle::SandboxStatus;
use settings::RouterSettings;

/// Idle connections to sandboxes are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(30);

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
    /// Where the sandboxes this process serves are noted (auto-pause's idle clock).
    activity: Arc<Activity>,
    /// Resumes auto-paused sandboxes; `None`: their requests are refused as paused.
    waker: Option<Arc<dyn Wake>>,
}

/// Resumes a sandbox the idle pauser paused, for a request that arrived for it (docs/auto-pause.md).
/// The control plane implements it: with the runtime at hand, or through the database.
pub trait Wake: Send + Sync {
    /// Resumes sandbox `id` (done when it no longer sleeps); the error says why not.
    fn wake<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), String>>;
}

/// The future a [`Wake`] returns.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

impl Proxy {
    pub fn new(
        routes: Arc<Routes>,
        settings: &RouterSettings,
        activity: Arc<Activity>,
        waker: Option<Arc<dyn Wake>>,
    ) -> Self {
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
            activity,
            waker,
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
        let running = match running(&route, &host) {
            Ok(r) => r,
            Err(e) => return refuse(e, req.headers()),
        };
        let preview = host.target != Target::Agent;
        let max_lifetime = self.routes.max_token_lifetime();
        let checked = if !preview {
            access::check_agent(req.headers(), &host, running, max_lifetime).map(|()| None)
        } else if access::needs_preview_token(&host, running) {
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
        self.activity.touch(host.id());
        // Asleep (auto-paused): only a request that passed the token check wakes it.
        let awake;
        let running = if running.asleep {
            awake = match self.wake(&host).await {
                Ok(route) => route,
                Err(e) => return refuse(e, req.headers()),
            };
            match running_awake(&awake, &host) {
                Ok(r) => r,
                Err(e) => return refuse(e, req.headers()),
            }
        } else {
            running
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

impl Proxy {
    /// Resumes an auto-paused sandbox, then its route anew.
    async fn wake(&self, host: &SandboxHost) -> Result<Arc<Route>, RouterError> {
        let waker = self
            .waker
            .as_ref()
            .ok_or(RouterError::NotRunning(SandboxStatus::Paused))?;
        waker
            .wake(host.id())
            .await
            .map_err(RouterError::NotResumed)?;
        self.routes.changed(host.id(), SandboxStatus::Running);
        self.routes
            .get(host.id())
            .await
            .map_err(RouterError::Database)
    }
}

/// The running (or auto-paused) sandbox a route leads to, or why there is none.
fn running<'r>(route: &'r Route, host: &SandboxHost) -> Result<&'r Running, RouterError> {
    match route {
        Route::Running(r) => Ok(r),
        Route::NotRunning(status) => Err(RouterError::NotRunning(*status)),
        Route::NotFound => Err(RouterError::NotFound),
        Route::Broken => Err(RouterError::Unreachable {
            port: host.port(),
            source: None,
        }),
    }
}

/// [`running`], after a wake: a sandbox still asleep was not resumed.
fn running_awake<'r>(route: &'r Route, host: &SandboxHost) -> Result<&'r Running, RouterError> {
    let r = running(route, host)?;
    if r.asleep {
        return Err(RouterError::NotResumed("it is still paused".into()));
    }
    Ok(r)
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
