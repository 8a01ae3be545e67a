//! Top-level windows, as the window manager knows them (EWMH, through wmctrl), and what can be done
//! to them. A window id is X's (`0x01a00003`, or the same number in decimal); one that does not exist
//! is 404 `WINDOW_NOT_FOUND`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Desktop;
use crate::error::{DesktopError, DesktopResult};
use crate::x11::window_not_found;

const WMCTRL: Duration = Duration::from_secs(5);

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

/// Parses `wmctrl -lpG`: id, desktop, pid, x, y, width, height, host, title.
fn parse_list(out: &str, active: Option<u32>) -> Vec<Window> {
    out.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let id = u32::from_str_radix(f.next()?.strip_prefix("0x")?, 16).ok()?;
            let desktop = f.next()?.parse().ok()?;
            let pid: u32 = f.next()?.parse().ok()?;
            let x = f.next()?.parse().ok()?;
            let y = f.next()?.parse().ok()?;
            let width = f.next()?.parse().ok()?;
            let height = f.next()?.parse().ok()?;
            let _host = f.next()?;
            let title = f.collect::<Vec<_>>().join(" ");
            Some(Window {
                id,
                title,
                x,
                y,
                width,
                height,
                desktop,
                pid: (pid != 0).then_some(pid),
                active: active == Some(id),
            })
        })
        .collect()
}

impl Desktop {
    /// The window with the input focus, if any.
    pub async fn active_window(&self) -> DesktopResult<Option<u32>> {
        let out = self
            .run("xdotool", &["getactivewindow".into()], None, WMCTRL)
            .await?;
        Ok(out.stdout.trim().parse().ok().filter(|id| *id != 0))
    }

    pub async fn windows(&self) -> DesktopResult<Vec<Window>> {
        let out = self
            .run_ok("wmctrl", &["-lpG".into()], None, WMCTRL)
            .await?;
        let active = self.active_window().await?;
        Ok(parse_list(&out.stdout, active))
    }

    /// `id` if the window manager lists it, else 404.
    async fn existing(&self, v: &Value) -> DesktopResult<u32> {
        let id = parse_id(v)?;
        if self.windows().await?.iter().any(|w| w.id == id) {
            Ok(id)
        } else {
            Err(window_not_found(id))
        }
    }

    async fn wmctrl(&self, args: &[&str]) -> DesktopResult<()> {
        self.run_ok("wmctrl", &crate::args(args), None, WMCTRL)
            .await
            .map(drop)
    }

    pub async fn focus_window(&self, req: &WindowRef) -> DesktopResult<()> {
        let id = self.existing(&req.window_id).await?;
        self.wmctrl(&["-i", "-a", &format!("0x{id:08x}")]).await
    }

    pub async fn close_window(&self, req: &WindowRef) -> DesktopResult<()> {
        let id = self.existing(&req.window_id).await?;
        self.wmctrl(&["-i", "-c", &format!("0x{id:08x}")]).await
    }

    pub async fn minimize_window(&self, req: &WindowRef) -> DesktopResult<()> {
        let id = self.existing(&req.window_id).await?;
        self.run_ok(
            "xdotool",
            &["windowminimize".into(), id.to_string()],
            None,
            WMCTRL,
        )
        .await
        .map(drop)
    }

    pub async fn resize_window(&self, req: &Resize) -> DesktopResult<()> {
        let id = self.existing(&req.window_id).await?;
        let (w, h) = self.x.size().await?;
        let fits = |v: i64, max: u32| (1..=i64::from(max)).contains(&v);
        if !fits(req.width, w) || !fits(req.height, h) {
            return Err(DesktopError::off_screen(
                &format!("A {}x{} window", req.width, req.height),
                w,
                h,
            ));
        }
        let geometry = format!("0,-1,-1,{},{}", req.width, req.height);
        self.wmctrl(&["-i", "-r", &format!("0x{id:08x}"), "-e", &geometry])
            .await
    }
}

impl Desktop {
    /// A PNG of window `id` (the focused window when `None`; the whole screen when none has focus),
    /// clipped to the screen.
    pub async fn capture_window(&self, id: Option<&str>) -> DesktopResult<Vec<u8>> {
        let id = match id.filter(|s| !s.is_empty()) {
            Some(s) => Some(parse_id(&Value::String(s.to_owned()))?),
            None => self.active_window().await?,
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

    #[test]
    fn wmctrl_lists_parse_with_titles_and_focus() {
        let out = "0x00c00003  0 77     10   20   484  316  sbx my  editor\n\
                   0x00e00001 -1 0      0    0    1280 800  sbx \n\
                   garbage line\n";
        let w = parse_list(out, Some(0x00c0_0003));
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].title, "my editor");
        assert_eq!(
            (w[0].x, w[0].y, w[0].width, w[0].height),
            (10, 20, 484, 316)
        );
        assert_eq!((w[0].pid, w[0].active), (Some(77), true));
        assert_eq!((w[1].desktop, w[1].pid, w[1].active), (-1, None, false));
    }
}
