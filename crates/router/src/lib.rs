//! The router: `warren serve` answers sandbox hosts by proxying to the sandbox, every other host with
//! the control-plane API, on one port (`router.mode` can keep only one of the two roles).
//!
//! `{id}.{domain}` and `7777-{id}.{domain}` reach the sandbox's agent, `{port}-{id}.{domain}` that
//! port on the sandbox's address ([`host`]); where a sandbox is comes from Postgres through a cache
//! that `NOTIFY` keeps current ([`routes`]); [`access`] checks tokens; [`proxy`] streams the request.
//! `docs/router.md` is the user-facing description. The router reaches nothing of the control plane but
//! the database (for routes) and its own settings; `control_plane` puts it in front of the API.

pub mod access;
pub mod error;
mod forwarded;
pub mod host;
pub mod lane;
pub mod limits;
pub mod proxy;
pub mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::http::header;
use axum::extract::Request;
use axum::response::Response;
use tower::Service;

pub use proxy::{BoxFuture, Proxy, Wake};

use error::RouterError;

use api_error::request_id;

/// Makes one [`Dispatch`] per accepted connection (it needs the peer address for
/// `X-Forwarded-For`, and holds the connection's [`lane::Lane`]); `listener::serve` calls
/// [`MakeDispatch::dispatch`].
#[derive(Clone)]
pub struct MakeDispatch {
    proxy: Option<Arc<Proxy>>,
    api: axum::Router,
}

impl MakeDispatch {
    /// `proxy: None` serves only `api`.
    pub fn new(proxy: Option<Arc<Proxy>>, api: axum::Router) -> Self {
        Self { proxy, api }
    }

    /// The service of a connection from `peer`.
    pub fn dispatch(&self, peer: SocketAddr) -> Dispatch {
        Dispatch {
            proxy: self.proxy.clone(),
            api: self.api.clone(),
            peer,
            lane: lane::Lane::default(),
        }
    }
}

/// Sends each request of one connection to the router or to the API, by `Host`.
#[derive(Clone)]
pub struct Dispatch {
    proxy: Option<Arc<Proxy>>,
    api: axum::Router,
    peer: SocketAddr,
    lane: lane::Lane,
}

impl Dispatch {
    fn sandbox_host(proxy: &Proxy, req: &Request) -> Option<host::SandboxHost> {
        let name = match req.headers().get(header::HOST) {
            Some(v) => v.to_str().ok()?,
            None => req.uri().authority()?.as_str(),
        };
        host::parse(name, &proxy.domain)
    }
}

impl Service<Request> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // Routing and every check must see one host: two Host headers are refused for every host.
        if req.headers().get_all(header::HOST).iter().nth(1).is_some() {
            let refusal = RouterError::DuplicateHost.into_response(request_id::of(req.headers()));
            return Box::pin(async move { Ok(refusal) });
        }
        if let Some(proxy) = &self.proxy
            && let Some(host) = Self::sandbox_host(proxy, &req)
        {
            let proxy = proxy.clone();
            let peer = self.peer;
            let lane = self.lane.clone();
            return Box::pin(async move { Ok(proxy.forward(host, peer, &lane, req).await) });
        }
        Box::pin(self.api.call(req))
    }
}
