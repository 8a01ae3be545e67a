//! Pixels of the screen (GetImage on the root window, no process per shot) and their PNG encodings.

use std::sync::Arc;

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, ImageOrder};

use super::{CallError, Rect, X11};
use crate::error::{DesktopError, DesktopResult};

impl X11 {
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
        self.call(move |x| {
            let (c, root) = (&x.c, x.root);
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
