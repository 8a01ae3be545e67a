//! A minimum request-body rate: a body that brings fewer than `bytes_per_second × window` bytes in
//! any `window` is cut, and the middleware that uses it answers 408 instead of the handler.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Request, header};
use hyper::body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The slowest body accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    pub bytes_per_second: u64,
    pub window: Duration,
}

/// Whether a body was cut for being too slow.
#[derive(Debug, Clone, Default)]
pub struct Cut(Arc<AtomicBool>);

impl Cut {
    pub fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl MinRate {
    /// `req` with its body held to this rate, and what tells whether it was cut (then the response
    /// should be a 408 that closes the connection, whatever the handler made of the error).
    pub fn wrap(self, req: Request<Body>) -> (Request<Body>, Cut) {
        let cut = Cut::default();
        let per_window = self.bytes_per_second as u128 * self.window.as_millis() / 1000;
        let req = req.map(|inner| {
            Body::new(RateBody {
                inner,
                per_window: u64::try_from(per_window).unwrap_or(u64::MAX),
                window: self.window,
                received: 0,
                deadline: Box::pin(tokio::time::sleep(self.window)),
                cut: cut.clone(),
            })
        });
        (req, cut)
    }

    /// Middleware: runs `next` on `req` held to this rate; a cut body gets `refused()` with
    /// `Connection: close` (the rest of the body is never read), whatever the handler answered.
    pub async fn enforce(
        self,
        req: Request<Body>,
        next: Next,
        refused: fn() -> Response,
    ) -> Response {
        let (req, cut) = self.wrap(req);
        let response = next.run(req).await;
        if !cut.happened() {
            return response;
        }
        let mut response = refused();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

struct RateBody {
    inner: Body,
    per_window: u64,
    window: Duration,
    /// Bytes received in the current window.
    received: u64,
    deadline: Pin<Box<Sleep>>,
    cut: Cut,
}

impl hyper::body::Body for RateBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.cut.happened() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len() as u64);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(other) => return Poll::Ready(other.map(|r| r.map_err(BoxError::from))),
            Poll::Pending => {}
        }
        while this.deadline.as_mut().poll(cx).is_ready() {
            if this.received < this.per_window {
                this.cut.0.store(true, Ordering::Relaxed);
                let e = format!(
                    "request body slower than {} bytes in {:?}",
                    this.per_window, this.window
                );
                return Poll::Ready(Some(Err(e.into())));
            }
            this.received = 0;
            let next = Instant::now() + this.window;
            this.deadline.as_mut().reset(next);
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    const RATE: MinRate = MinRate {
        bytes_per_second: 100,
        window: Duration::from_secs(10),
    };

    /// A request whose body sends `chunk` bytes every `every`, `count` times.
    fn trickled(chunk: usize, every: Duration, count: usize) -> Request<Body> {
        let stream = futures::stream::unfold(0, move |sent| async move {
            if sent == count {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok::<_, BoxError>(Bytes::from(vec![b'x'; chunk])), sent + 1))
        });
        Request::new(Body::from_stream(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_at_the_rate_passes_and_a_slower_one_is_cut_after_one_window() {
        // 100 B/s: 1000 bytes per 10 s window.
        let (req, cut) = RATE.wrap(trickled(500, Duration::from_secs(4), 10));
        let body = req.into_body().collect().await.expect("fast enough");
        assert_eq!(body.to_bytes().len(), 5000);
        assert!(!cut.happened());

        let started = Instant::now();
        let (req, cut) = RATE.wrap(trickled(100, Duration::from_secs(2), 100));
        assert!(req.into_body().collect().await.is_err());
        assert!(cut.happened());
        assert_eq!(Instant::now() - started, RATE.window);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_is_cut_without_any_more_bytes() {
        let (req, cut) = RATE.wrap(trickled(2000, Duration::from_secs(1), 1));
        let mut body = req.into_body();
        assert!(body.frame().await.is_some());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // Holds the body open without sending anything.
        let stalled = Body::from_stream(futures::stream::once(async move {
            let _ = rx.await;
            Ok::<_, BoxError>(Bytes::new())
        }));
        let (req, cut_stalled) = RATE.wrap(Request::new(stalled));
        assert!(req.into_body().collect().await.is_err());
        assert!(cut_stalled.happened());
        drop(tx);
        assert!(!cut.happened(), "2000 bytes in the first window is enough");
    }
}
