//! The accept loop and one task per connection: HTTP/1.1 and HTTP/2 (with upgrades), served by hyper
//! with a header-read timeout, closed when idle, at most `max_connections` at once.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tower::Service;

use crate::activity::{Activity, Tracked};

/// How long a refused connection's answer may take to write.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);

/// The limits of one listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time a client has to send a request's head, from the moment the server waits for it (so on a
    /// keep-alive HTTP/1.1 connection it also bounds the wait for the next request).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2 gets a GOAWAY).
    pub idle_timeout: Duration,
    /// Connections open at once, upgraded ones (WebSockets) included until they close; the next one
    /// gets [`Limits::refusal`] and is closed.
    pub max_connections: usize,
    /// The whole HTTP/1.1 response a connection over the cap is sent ([`refusal`]).
    pub refusal: Bytes,
}

/// An HTTP/1.1 response with `status` and the JSON `body`, closing the connection.
pub fn refusal(status: StatusCode, body: &[u8]) -> Bytes {
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    [head.as_bytes(), body].concat().into()
}

/// Serves `listener` until `shutdown` resolves, then lets open connections finish their requests.
/// `make` gives the service of a connection from its peer's address.
pub async fn serve<M, S>(
    listener: TcpListener,
    limits: Limits,
    mut make: M,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    M: FnMut(SocketAddr) -> S,
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let max = u32::try_from(limits.max_connections)
        .unwrap_or(u32::MAX)
        .min(Semaphore::MAX_PERMITS as u32);
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop, stopping) = watch::channel(false);
    // Every connection task holds a sender; all dropped = every connection has ended or upgraded.
    let (serving, mut all_ended) = mpsc::channel::<()>(1);
    let mut shutdown = pin!(shutdown);
    let mut refusing = false;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: accepting again at once would spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !refusing {
                tracing::warn!(%peer, limit = max, "refusing connections: too many open");
                refusing = true;
            }
            tokio::spawn(refuse(tcp, limits.refusal.clone()));
            continue;
        };
        refusing = false;
        let connection = Connection {
            builder: builder.clone(),
            idle_timeout: limits.idle_timeout,
            stopping: stopping.clone(),
            _serving: serving.clone(),
        };
        tokio::spawn(connection.serve(Slotted { tcp, _slot: slot }, make(peer)));
    }
    drop(listener);
    let _ = stop.send(true);
    drop(serving);
    // Upgraded connections (WebSockets) are on their own: they are not waited for.
    let _ = all_ended.recv().await;
    Ok(())
}

/// A client connection holding its slot of `max_connections` until it is closed, also after an
/// upgrade hands it over to a WebSocket or a tunnel.
struct Slotted {
    tcp: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Slotted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Slotted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

async fn refuse(mut tcp: TcpStream, response: Bytes) {
    let _ = tokio::time::timeout(REFUSAL_WRITE, tcp.write_all(&response)).await;
    let _ = tcp.shutdown().await;
}

struct Connection {
    builder: Arc<Builder<TokioExecutor>>,
    idle_timeout: Duration,
    stopping: watch::Receiver<bool>,
    /// Held while hyper serves the connection (not after an upgrade).
    _serving: mpsc::Sender<()>,
}

impl Connection {
    async fn serve<S>(mut self, tcp: Slotted, service: S)
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let activity = Activity::new();
        let service = TowerToHyperService::new(Counted {
            inner: service,
            activity: activity.clone(),
        });
        let mut conn = pin!(
            self.builder
                .serve_connection_with_upgrades(TokioIo::new(tcp), service)
        );
        let mut closing = false;
        loop {
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = activity.idle_for(self.idle_timeout), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                _ = self.stopping.wait_for(|stop| *stop), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// The connection's service, counting each request in flight until its response body is done.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    activity: Activity,
}

impl<S> Service<Request<Incoming>> for Counted<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Tracked<Body>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.start();
        let responding = self.inner.call(req.map(Body::new));
        Box::pin(async move {
            let response = responding.await?;
            Ok(response.map(|body| Tracked {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}
