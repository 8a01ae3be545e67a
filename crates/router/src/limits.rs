//! The cap on what one sandbox is sent at once through the router: requests in flight (until their
//! response body is sent or dropped) plus open WebSockets and other upgraded tunnels,
//! `router.max_connections_per_sandbox`. One busy sandbox cannot take every connection of the router.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

/// Slots in use per sandbox id. Cheap to clone.
#[derive(Clone)]
pub struct SandboxSlots {
    max: usize,
    in_use: Arc<Mutex<HashMap<Arc<str>, usize>>>,
}

/// One slot of a sandbox, given back when dropped.
pub struct Slot {
    slots: SandboxSlots,
    id: Arc<str>,
}

impl SandboxSlots {
    pub fn new(max: u32) -> Self {
        Self {
            max: max as usize,
            in_use: Arc::default(),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot of sandbox `id`, or `None` when all are taken.
    pub fn take(&self, id: &str) -> Option<Slot> {
        let mut in_use = self.in_use.lock().unwrap_or_else(|e| e.into_inner());
        let id = match in_use.get_key_value(id) {
            Some((_, n)) if *n >= self.max => return None,
            Some((key, _)) => key.clone(),
            None => Arc::from(id),
        };
        *in_use.entry(id.clone()).or_default() += 1;
        Some(Slot {
            slots: self.clone(),
            id,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut in_use = self.slots.in_use.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = in_use.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                in_use.remove(&self.id);
            }
        }
    }
}

impl Slot {
    /// `body` holding this slot until it is sent or dropped.
    pub fn hold_during(self, body: Body) -> Body {
        Body::new(SlotBody { body, _slot: self })
    }
}

struct SlotBody {
    body: Body,
    _slot: Slot,
}

impl hyper::body::Body for SlotBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
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

    #[test]
    fn each_sandbox_has_its_own_slots_and_they_come_back() {
        let slots = SandboxSlots::new(2);
        let a1 = slots.take("a").unwrap();
        let a2 = slots.take("a").unwrap();
        assert!(slots.take("a").is_none());
        let b = slots.take("b").expect("another sandbox is not affected");
        drop(a1);
        let a3 = slots.take("a").expect("a dropped slot comes back");
        drop((a2, a3, b));
        assert!(slots.in_use.lock().unwrap().is_empty());
    }
}
