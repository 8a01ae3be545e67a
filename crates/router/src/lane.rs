//! A client connection's own connection to the sandbox. The HTTP/1.1 requests of one keep-alive
//! client connection reuse one upstream connection, driven by the task that serves the client (while
//! the request is sent and while its response body is read), so forwarding a request hands nothing
//! to another task: no pool lookup, no lock, no channel and no cross-thread wake-up per request.
//! Upgrades and HTTP/2 clients (concurrent requests on one connection) use the shared pool instead.
//!
//! The upstream connection goes back to the lane only once a response body was read to its end and
//! the request was sent whole; a client that hangs up earlier drops it, so the sandbox sees the
//! connection close.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The idle upstream connection of one client connection, if any.
#[derive(Clone, Default)]
pub struct Lane(Arc<Mutex<Option<Upstream>>>);

struct Upstream {
    addr: SocketAddr,
    sender: SendRequest<Body>,
    /// `None` once the connection ended.
    conn: Option<Connection<TokioIo<TcpStream>, Body>>,
}

impl Lane {
    /// Sends `req` (whose URI is the path and query) to `addr` on this lane's connection, or on a new
    /// one when there is none for `addr` or it cannot take a request now.
    pub async fn send(
        &self,
        addr: SocketAddr,
        req: Request<Body>,
        connect_timeout: Duration,
    ) -> Result<Response<Body>, BoxError> {
        let idle = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        let reusable = match idle {
            Some(mut u) if u.addr == addr => poll_fn(|cx| Poll::Ready(u.poll_reusable(cx)))
                .await
                .then_some(u),
            _ => None,
        };
        let mut upstream = match reusable {
            Some(u) => u,
            None => Upstream::connect(addr, connect_timeout).await?,
        };
        let mut sending = pin!(upstream.sender.send_request(req));
        let response = poll_fn(|cx| {
            // Polled first: an ended connection has already settled what `sending` returns.
            let ended = upstream.poll_conn(cx);
            match sending.as_mut().poll(cx) {
                Poll::Ready(r) => Poll::Ready(r.map_err(BoxError::from)),
                Poll::Pending if ended => {
                    Poll::Ready(Err("connection closed before the response".into()))
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        Ok(response.map(|body| {
            Body::new(LaneBody {
                body,
                upstream: Some(upstream),
                lane: self.clone(),
            })
        }))
    }
}

impl Upstream {
    async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self, BoxError> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connecting to {addr} timed out"))??;
        tcp.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(tcp)).await?;
        Ok(Self {
            addr,
            sender,
            conn: Some(conn),
        })
    }

    /// Drives the connection; whether it has ended (closed or failed: the request or body it
    /// carried reports why).
    fn poll_conn(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(conn) = &mut self.conn else {
            return true;
        };
        if Pin::new(conn).poll(cx).is_pending() {
            return false;
        }
        self.conn = None;
        true
    }

    /// Whether the connection can take the next request at once.
    fn poll_reusable(&mut self, cx: &mut Context<'_>) -> bool {
        !self.poll_conn(cx) && matches!(self.sender.poll_ready(cx), Poll::Ready(Ok(())))
    }
}

/// A response body that drives its connection while it is read, and gives the connection back to
/// its lane once read to the end.
struct LaneBody {
    body: Incoming,
    upstream: Option<Upstream>,
    lane: Lane,
}

impl LaneBody {
    /// Puts the connection back in the lane if it can take the next request now: not when the
    /// sandbox answered before reading the whole request (nothing would drive the rest of it).
    fn give_back(&mut self) {
        let Some(mut upstream) = self.upstream.take() else {
            return;
        };
        if upstream.poll_reusable(&mut Context::from_waker(Waker::noop())) {
            *self.lane.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(upstream);
        }
    }
}

impl hyper::body::Body for LaneBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if let Some(upstream) = &mut this.upstream {
            upstream.poll_conn(cx);
        }
        let frame = ready!(Pin::new(&mut this.body).poll_frame(cx));
        if frame.is_none() {
            this.give_back();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for LaneBody {
    /// The server may drop a body it knows has ended without reading it to `None`.
    fn drop(&mut self) {
        if self.body.is_end_stream() {
            self.give_back();
        }
    }
}
