//! Top-level windows, as the window manager knows them (EWMH, asked on the X connection: see
//! `x11::ewmh`), and what can be done to them. A window id is X's (`0x01a00003`, or the same number in
//! decimal); one the window manager does not manage is 404 `WINDOW_NOT_FOUND`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Desktop;
use crate::error::{DesktopError, DesktopResult};
use crate::x11::Ask;

/// One window, as `GET /desktop/windows` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// X's window id, a number: the Python SDK's `WindowInfo.id` is an `int` (hopx-ai 0.5.0 fails to
    /// parse `"0x01a00003"`); every request takes it back in hex or decimal (`parse_id`).
    pub id: u32,
    pub title: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    /// The virtual desktop (`-1`: every one, sticky windows).
    pub desktop: i32,
    pub pid: Option<u32>,
    /// Whether it has the input focus.
    pub active: bool,
}

/// `POST /desktop/windows/{focus,close,minimize}`.
#[derive(Debug, Deserialize)]
pub struct WindowRef {
    pub window_id: Value,
}

/// `POST /desktop/windows/resize`.
#[derive(Debug, Deserialize)]
pub struct Resize {
    pub window_id: Value,
    pub width: i64,
    pub height: i64,
}

/// A window id from JSON: `"0x1a00003"`, `"27262979"` or `27262979`.
pub fn parse_id(v: &Value) -> DesktopResult<u32> {
    let parsed = match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    };
    parsed.filter(|id| *id != 0).ok_or_else(|| {
        DesktopError::invalid("window_id must be a window id such as \"0x01a00003\"")
    })
}

impl Desktop {
    pub async fn windows(&self) -> DesktopResult<Vec<Window>> {
        self.x.windows().await
    }

    pub async fn focus_window(&self, req: &WindowRef) -> DesktopResult<()> {
        self.x.ask(parse_id(&req.window_id)?, Ask::Activate).await
    }

    pub async fn close_window(&self, req: &WindowRef) -> DesktopResult<()> {
        self.x.ask(parse_id(&req.window_id)?, Ask::Close).await
    }

    pub async fn minimize_window(&self, req: &WindowRef) -> DesktopResult<()> {
        self.x.ask(parse_id(&req.window_id)?, Ask::Minimize).await
    }

    pub async fn resize_window(&self, req: &Resize) -> DesktopResult<()> {
        let id = parse_id(&req.window_id)?;
        let (w, h) = self.x.size().await?;
        let fits = |v: i64, max: u32| (1..=i64::from(max)).contains(&v);
        if !fits(req.width, w) || !fits(req.height, h) {
            return Err(DesktopError::off_screen(
                &format!("A {}x{} window", req.width, req.height),
                w,
                h,
            ));
        }
        let (width, height) = (req.width as u32, req.height as u32);
        self.x.ask(id, Ask::Resize { width, height }).await
    }
}

impl Desktop {
    /// A PNG of window `id` (the focused window when `None`; the whole screen when none has focus),
    /// clipped to the screen.
    pub async fn capture_window(&self, id: Option<&str>) -> DesktopResult<Vec<u8>> {
        let id = match id.filter(|s| !s.is_empty()) {
            Some(s) => Some(parse_id(&Value::String(s.to_owned()))?),
            None => self.x.active_window().await?,
        };
        let Some(id) = id else {
            return self.x.screenshot(None).await;
        };
        let rect = self.x.window_rect(id).await?;
        let (w, h) = self.x.size().await?;
        let visible = rect.clip(w, h).ok_or_else(|| {
            DesktopError::new(409, "WINDOW_NOT_VISIBLE", "The window is not on the screen")
        })?;
        self.x.screenshot(Some(visible)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_ids_come_in_hex_or_decimal() {
        assert_eq!(parse_id(&"0x01a00003".into()).unwrap(), 0x01a0_0003);
        assert_eq!(parse_id(&"27262979".into()).unwrap(), 27_262_979);
        assert_eq!(parse_id(&27_262_979.into()).unwrap(), 27_262_979);
        for bad in [
            Value::from("window"),
            Value::from(0),
            Value::Null,
            Value::from(-3),
        ] {
            assert_eq!(parse_id(&bad).unwrap_err().status, 400, "{bad}");
        }
    }
}
