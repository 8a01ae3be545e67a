//! The X server through the X protocol itself (x11rb, pure Rust): screenshots without a process per
//! shot, the screen size, and window geometry. One connection is kept and made again when the X server
//! was restarted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, ImageOrder, Window};
use x11rb::rust_connection::RustConnection;

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
        let conn = Arc::new(Conn { c, root });
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
        F: Fn(&RustConnection, Window) -> Result<T, CallError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            for attempt in 0..2 {
                let conn = this.connection()?;
                match f(&conn.c, conn.root) {
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
        self.call(|c, root| {
            let g = c.get_geometry(root)?.reply()?;
            Ok((u32::from(g.width), u32::from(g.height)))
        })
        .await
    }

    /// Where window `id` is on the screen (its outer frame is the window manager's business).
    pub async fn window_rect(self: &Arc<Self>, id: u32) -> DesktopResult<Rect> {
        self.call(move |c, root| {
            let g = match c.get_geometry(id)?.reply() {
                Ok(g) => g,
                Err(x11rb::errors::ReplyError::X11Error(_)) => {
                    return Err(CallError::Desktop(window_not_found(id)));
                }
                Err(e) => return Err(e.into()),
            };
            let t = c.translate_coordinates(id, root, 0, 0)?.reply()?;
            Ok(Rect {
                x: i32::from(t.dst_x),
                y: i32::from(t.dst_y),
                width: u32::from(g.width),
                height: u32::from(g.height),
            })
        })
        .await
    }

    /// A PNG of `region` of the screen (the whole screen when `None`), checked to be on the screen.
    pub async fn screenshot(self: &Arc<Self>, region: Option<Rect>) -> DesktopResult<Vec<u8>> {
        let (rgb, width, height) = self.pixels(region).await?;
        encode_png(&rgb, width, height)
    }

    /// The RGB pixels of `region` (the whole screen when `None`), with their size.
    pub async fn pixels(
        self: &Arc<Self>,
        region: Option<Rect>,
    ) -> DesktopResult<(Vec<u8>, u32, u32)> {
        self.call(move |c, root| {
            let g = c.get_geometry(root)?.reply()?;
            let (sw, sh) = (u32::from(g.width), u32::from(g.height));
            let r = match region {
                Some(r) => r.on_screen(sw, sh).map_err(CallError::Desktop)?,
                None => Rect {
                    x: 0,
                    y: 0,
                    width: sw,
                    height: sh,
                },
            };
            let image = c
                .get_image(
                    ImageFormat::Z_PIXMAP,
                    root,
                    r.x as i16,
                    r.y as i16,
                    r.width as u16,
                    r.height as u16,
                    !0,
                )?
                .reply()?;
            let setup = c.setup();
            let bpp = setup
                .pixmap_formats
                .iter()
                .find(|f| f.depth == image.depth)
                .map_or(0, |f| f.bits_per_pixel);
            if bpp != 32 || setup.image_byte_order != ImageOrder::LSB_FIRST {
                return Err(CallError::Desktop(DesktopError::failed(format!(
                    "unsupported X pixel format (depth {}, {bpp} bits per pixel)",
                    image.depth
                ))));
            }
            Ok((bgrx_to_rgb(&image.data), r.width, r.height))
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

/// 32-bit little-endian BGRX (Xvfb's 24-bit TrueColor) to packed RGB.
fn bgrx_to_rgb(data: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(data.len() / 4 * 3);
    for px in data.chunks_exact(4) {
        rgb.extend_from_slice(&[px[2], px[1], px[0]]);
    }
    rgb
}

/// A PNG of packed RGB pixels: the fastest compression (screens compress well anyway).
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> DesktopResult<Vec<u8>> {
    encode(rgb, width, height, png::ColorType::Rgb)
}

fn encode(pixels: &[u8], width: u32, height: u32, color: png::ColorType) -> DesktopResult<Vec<u8>> {
    let mut out = Vec::with_capacity(pixels.len() / 8);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::FilterType::Sub);
    let encoded = encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(pixels).and_then(|()| w.finish()));
    encoded.map_err(|e| DesktopError::failed(format!("PNG encoding failed: {e}")))?;
    Ok(out)
}

/// A PNG of packed RGB pixels made grey and enlarged `scale` times (for OCR).
pub fn encode_gray_png(rgb: &[u8], width: u32, height: u32, scale: u32) -> DesktopResult<Vec<u8>> {
    let (w, s) = (width as usize, scale as usize);
    let mut gray = Vec::with_capacity(rgb.len() / 3 * s * s);
    for row in rgb.chunks_exact(w * 3) {
        let line: Vec<u8> = row
            .chunks_exact(3)
            .flat_map(|p| {
                let y =
                    (u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000;
                std::iter::repeat_n(y as u8, s)
            })
            .collect();
        for _ in 0..s {
            gray.extend_from_slice(&line);
        }
    }
    encode(
        &gray,
        width * scale,
        height * scale,
        png::ColorType::Grayscale,
    )
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

    #[test]
    fn pixels_become_a_png_of_their_size() {
        let rgb = bgrx_to_rgb(&[1, 2, 3, 0, 4, 5, 6, 0]);
        assert_eq!(rgb, [3, 2, 1, 6, 5, 4]);
        let png = encode_png(&rgb, 2, 1).unwrap();
        let decoder = png::Decoder::new(png.as_slice());
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (2, 1));
        let gray = encode_gray_png(&rgb, 2, 1, 2).unwrap();
        let reader = png::Decoder::new(gray.as_slice()).read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (4, 2));
    }
}
