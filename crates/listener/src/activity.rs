//! Whether a connection is idle: no request in flight (a request counts until its response body has
//! been sent or dropped), and since when.

use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The requests in flight on one connection. Cheap to clone.
#[derive(Clone)]
pub struct Activity(Arc<Inner>);

struct Inner {
    /// Requests in flight, and when the last one ended (or the connection opened).
    state: Mutex<(usize, Instant)>,
    ended: Notify,
}

impl Activity {
    pub fn new() -> Self {
        Self(Arc::new(Inner {
            state: Mutex::new((0, Instant::now())),
            ended: Notify::new(),
        }))
    }

    fn state(&self) -> (usize, Instant) {
        *self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn start(&self) -> InFlight {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner()).0 += 1;
        InFlight(self.clone())
    }

    /// Returns once no request has been in flight for `limit`.
    pub async fn idle_for(&self, limit: Duration) {
        loop {
            let mut ended = pin!(self.0.ended.notified());
            ended.as_mut().enable();
            let (in_flight, since) = self.state();
            if in_flight > 0 {
                ended.await;
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep_until(since + limit) => {
                    if self.state() == (0, since) {
                        return;
                    }
                }
                () = ended => {}
            }
        }
    }
}

/// A request in flight.
pub struct InFlight(Activity);

impl Drop for InFlight {
    fn drop(&mut self) {
        let inner = &(self.0).0;
        let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 -= 1;
        state.1 = Instant::now();
        drop(state);
        inner.ended.notify_waiters();
    }
}

/// A response body that keeps its request in flight until it is sent or dropped.
pub struct Tracked<B> {
    pub body: B,
    pub _in_flight: InFlight,
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_means_nothing_in_flight_for_the_whole_limit() {
        let activity = Activity::new();
        let limit = Duration::from_secs(10);
        let request = activity.start();
        let waiting = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle_for(limit).await }
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!waiting.is_finished(), "idle with a request in flight");
        drop(request);
        let ended = Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let second = activity.start();
        drop(second);
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(
            !waiting.is_finished(),
            "the second request restarted the clock"
        );
        waiting.await.unwrap();
        assert_eq!(Instant::now() - ended, Duration::from_secs(15));
    }
}
