//! The X server through the X protocol itself (x11rb, pure Rust): screenshots without a process per
//! shot (`image`), the screen size, and the window manager's windows (`ewmh`). One connection is kept
//! and made again when the X server was restarted.

mod ewmh;
mod image;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{ConnectionExt as _, Window};
use x11rb::rust_connection::RustConnection;

pub use ewmh::Ask;
pub use image::{encode_gray_png, encode_png};

use crate::error::{DesktopError, DesktopResult};

/// A rectangle on the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    /// `self` if it lies wholly on a `width`×`height` screen and is not empty.
    pub fn on_screen(self, width: u32, height: u32) -> DesktopResult<Self> {
        let inside = self.x >= 0
            && self.y >= 0
            && self.width > 0
            && self.height > 0
            && self.x as u64 + u64::from(self.width) <= u64::from(width)
            && self.y as u64 + u64::from(self.height) <= u64::from(height);
        if inside {
            Ok(self)
        } else {
            Err(DesktopError::off_screen(
                &format!(
                    "The region {}x{} at ({}, {})",
                    self.width, self.height, self.x, self.y
                ),
                width,
                height,
            ))
        }
    }

    /// The part of `self` on a `width`×`height` screen (a window partly off screen), if any.
    pub fn clip(self, width: u32, height: u32) -> Option<Self> {
        let x0 = self.x.max(0);
        let y0 = self.y.max(0);
        let x1 = (self.x + self.width as i32).min(width as i32);
        let y1 = (self.y + self.height as i32).min(height as i32);
        (x1 > x0 && y1 > y0).then(|| Self {
            x: x0,
            y: y0,
            width: (x1 - x0) as u32,
            height: (y1 - y0) as u32,
        })
    }
}

struct Conn {
    c: RustConnection,
    root: Window,
    atoms: ewmh::Atoms,
}

/// The connection to the display.
pub struct X11 {
    display: String,
    conn: Mutex<Option<Arc<Conn>>>,
}

impl X11 {
    pub fn new(display: String) -> Self {
        Self {
            display,
            conn: Mutex::new(None),
        }
    }

    fn connection(&self) -> DesktopResult<Arc<Conn>> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let (c, screen) = RustConnection::connect(Some(&self.display)).map_err(|e| {
            DesktopError::display_down(format!("no X server on {}: {e}", self.display))
        })?;
        let root = c.setup().roots[screen].root;
        let atoms = ewmh::Atoms::new(&c)
            .map_err(|e| e.to_string())
            .and_then(|cookie| cookie.reply().map_err(|e| e.to_string()))
            .map_err(|e| DesktopError::display_down(format!("X atoms on {}: {e}", self.display)))?;
        let conn = Arc::new(Conn { c, root, atoms });
        *slot = Some(conn.clone());
        Ok(conn)
    }

    fn forget(&self) {
        *self.conn.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Runs `f` on the connection in a blocking thread; a broken connection (the X server restarted)
    /// is made again once.
    async fn call<T, F>(self: &Arc<Self>, f: F) -> DesktopResult<T>
    where
        T: Send + 'static,
        F: Fn(&Conn) -> Result<T, CallError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            for attempt in 0..2 {
                let conn = this.connection()?;
                match f(&conn) {
                    Ok(v) => return Ok(v),
                    Err(CallError::Desktop(e)) => return Err(e),
                    Err(CallError::Connection(e)) => {
                        this.forget();
                        if attempt == 1 {
                            return Err(DesktopError::display_down(e));
                        }
                    }
                }
            }
            Err(DesktopError::display_down("the X connection broke"))
        })
        .await
        .map_err(|e| DesktopError::failed(format!("X call panicked: {e}")))?
    }

    /// Waits until the X server accepts a connection.
    pub async fn wait(self: &Arc<Self>, timeout: Duration) -> DesktopResult<()> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.size().await {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// The screen's size now.
    pub async fn size(self: &Arc<Self>) -> DesktopResult<(u32, u32)> {
        self.call(|x| {
            let g = x.c.get_geometry(x.root)?.reply()?;
            Ok((u32::from(g.width), u32::from(g.height)))
        })
        .await
    }
}

/// 404 `WINDOW_NOT_FOUND`.
pub fn window_not_found(id: u32) -> DesktopError {
    DesktopError::new(404, "WINDOW_NOT_FOUND", format!("No window 0x{id:08x}"))
        .with_detail("window_id", format!("0x{id:08x}"))
}

/// Why an X call failed: the connection (make it again) or the request (answer it).
enum CallError {
    Connection(String),
    Desktop(DesktopError),
}

impl From<x11rb::errors::ConnectionError> for CallError {
    fn from(e: x11rb::errors::ConnectionError) -> Self {
        Self::Connection(e.to_string())
    }
}

impl From<x11rb::errors::ReplyError> for CallError {
    fn from(e: x11rb::errors::ReplyError) -> Self {
        match e {
            x11rb::errors::ReplyError::ConnectionError(e) => Self::Connection(e.to_string()),
            x11rb::errors::ReplyError::X11Error(e) => {
                Self::Desktop(DesktopError::failed(format!("X error {:?}", e.error_kind)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_must_lie_on_the_screen() {
        let r = |x, y, width, height| Rect {
            x,
            y,
            width,
            height,
        };
        assert!(r(0, 0, 1280, 800).on_screen(1280, 800).is_ok());
        for bad in [
            r(-1, 0, 10, 10),
            r(1271, 0, 10, 10),
            r(0, 0, 0, 5),
            r(0, 795, 5, 6),
        ] {
            let e = bad.on_screen(1280, 800).unwrap_err();
            assert_eq!((e.status, e.code), (400, "INVALID_COORDINATES"), "{bad:?}");
        }
        assert_eq!(r(-5, -5, 10, 10).clip(100, 100), Some(r(0, 0, 5, 5)));
        assert_eq!(r(200, 0, 10, 10).clip(100, 100), None);
    }
}
