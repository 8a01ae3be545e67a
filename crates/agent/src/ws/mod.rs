//! WebSocket streams (JSON text frames, each well under 1 MiB): execute and command output, file
//! watching, and the terminal.
//!
//! Framing follows the contract's addendum on the TypeScript SDK: output is batched over a few
//! milliseconds into fewer, larger frames, each frame is its own write (the server sets
//! `TCP_NODELAY`), and a short pause precedes the closing frame.

pub mod stream;
pub mod terminal;
pub mod watch;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// How long output is collected before it is sent as one frame.
pub const BATCH_WINDOW: Duration = Duration::from_millis(5);
/// Largest payload put in one output frame (JSON escaping can at most ~6x it, still < 1 MiB).
pub const MAX_FRAME_DATA: usize = 128 * 1024;
/// Pause before a stream's closing frame.
pub const CLOSE_PAUSE: Duration = Duration::from_millis(20);

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/execute/stream", get(stream::execute))
        .route("/commands/stream", get(stream::command))
        .route("/files/watch", get(watch::handler))
        .route("/terminal", get(terminal::handler))
        .route_layer(from_fn_with_state(state.clone(), limit_streams))
}

/// Refuses a stream over `WARREN_AGENT_MAX_STREAMS` with 429 `TOO_MANY_STREAMS` before the upgrade.
/// The slot is taken here, atomically, and handed to the handler (a request extension), which moves
/// it into its session: a stream counts from its request until its session ends, so a burst of
/// upgrades cannot pass the cap before their sessions start.
async fn limit_streams(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let max = state.config.max_streams;
    let Some(slot) = StreamGuard::acquire(&state, max) else {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_STREAMS",
            format!("At most {max} streams may be open at once; close one and try again"),
        )
        .with_detail("limit", max)
        .with_detail("retry_after_seconds", 1)
        .into_response();
    };
    req.extensions_mut().insert(slot);
    next.run(req).await
}

/// Sends one JSON text frame.
pub async fn send_json(ws: &mut WebSocket, frame: &impl Serialize) -> Result<(), axum::Error> {
    let text = serde_json::to_string(frame).map_err(axum::Error::new)?;
    ws.send(Message::Text(text.into())).await
}

/// One of the `WARREN_AGENT_MAX_STREAMS` slots, counted (also for `/health` and `/metrics`) until its
/// last clone is dropped: the middleware's, then the handler's, then the session's.
#[derive(Clone)]
pub struct StreamGuard {
    _slot: Arc<Slot>,
}

struct Slot(AppState);

/// The slot the middleware took for this request, as the stream handlers extract it.
pub type StreamSlot = Extension<StreamGuard>;

impl StreamGuard {
    /// A slot, if fewer than `max` are taken.
    fn acquire(state: &AppState, max: usize) -> Option<Self> {
        state
            .active_streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(Self {
            _slot: Arc::new(Slot(state.clone())),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active_streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Turns a byte stream into valid UTF-8 text without splitting multi-byte characters across frames.
#[derive(Default)]
pub struct Utf8Carry(Vec<u8>);

impl Utf8Carry {
    /// Appends `bytes` and returns the longest complete text prefix (invalid bytes become U+FFFD).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.0.extend_from_slice(bytes);
        let keep = incomplete_tail(&self.0);
        let rest = self.0.split_off(self.0.len() - keep);
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0 = rest;
        text
    }

    /// Whatever is left, lossily.
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0.clear();
        text
    }
}

/// Length of a trailing, possibly incomplete, UTF-8 sequence.
fn incomplete_tail(b: &[u8]) -> usize {
    for back in 1..=3.min(b.len()) {
        let c = b[b.len() - back];
        if c & 0xC0 == 0x80 {
            continue;
        }
        let need = match c {
            c if c >= 0xF0 => 4,
            c if c >= 0xE0 => 3,
            c if c >= 0xC0 => 2,
            _ => 1,
        };
        return if need > back { back } else { 0 };
    }
    0
}

/// Splits `text` into pieces of at most [`MAX_FRAME_DATA`] bytes on char boundaries.
pub fn split_frames(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_FRAME_DATA {
        let mut cut = MAX_FRAME_DATA;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (a, b) = rest.split_at(cut);
        out.push(a);
        rest = b;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_never_split() {
        let bytes = "héllo€".as_bytes();
        let mut c = Utf8Carry::default();
        let mut out = String::new();
        for b in bytes {
            out.push_str(&c.push(&[*b]));
        }
        out.push_str(&c.finish());
        assert_eq!(out, "héllo€");
    }

    #[test]
    fn frames_are_bounded() {
        let big = "é".repeat(MAX_FRAME_DATA);
        let parts = split_frames(&big);
        assert!(parts.iter().all(|p| p.len() <= MAX_FRAME_DATA));
        assert_eq!(parts.concat(), big);
    }
}
