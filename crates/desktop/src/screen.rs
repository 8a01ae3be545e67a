//! The screen's size: the resolutions the display takes, the Xvfb arguments for one, and a change of
//! resolution. Xvfb cannot resize a running screen past the modes it started with (its RandR has one
//! fixed mode), so a new resolution restarts Xvfb and the window manager: windows open on the display
//! close (docs/desktop.md says so).

use std::sync::Mutex;

use serde::Serialize;

use crate::error::{DesktopError, DesktopResult};

/// A screen size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub width: u32,
    pub height: u32,
}

impl Resolution {
    pub const DEFAULT: Self = Self::new(1280, 800);
    /// Bits per pixel of the screen (Xvfb's 24-bit TrueColor).
    pub const DEPTH: u32 = 24;

    pub const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }
}

/// The resolutions `POST /desktop/display/set` takes: common sizes up to 1920×1200 (a larger screen
/// costs memory in every sandbox that asks for it).
pub const AVAILABLE: [Resolution; 12] = [
    Resolution::new(640, 480),
    Resolution::new(800, 600),
    Resolution::new(1024, 768),
    Resolution::new(1280, 720),
    Resolution::new(1280, 800),
    Resolution::new(1280, 1024),
    Resolution::new(1366, 768),
    Resolution::new(1440, 900),
    Resolution::new(1600, 900),
    Resolution::new(1680, 1050),
    Resolution::new(1920, 1080),
    Resolution::new(1920, 1200),
];

/// The current resolution.
pub struct Screen(Mutex<Resolution>);

impl Screen {
    pub fn new(r: Resolution) -> Self {
        Self(Mutex::new(r))
    }

    pub fn get(&self) -> Resolution {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, r: Resolution) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = r;
    }
}

/// `r` if the display takes it, else 400 `UNSUPPORTED_RESOLUTION` listing what it takes.
pub fn check(r: Resolution) -> DesktopResult<Resolution> {
    if AVAILABLE.contains(&r) {
        return Ok(r);
    }
    let list: Vec<String> = AVAILABLE
        .iter()
        .map(|r| format!("{}x{}", r.width, r.height))
        .collect();
    Err(DesktopError::new(
        400,
        "UNSUPPORTED_RESOLUTION",
        format!(
            "The display cannot take {}x{}; it takes {}",
            r.width,
            r.height,
            list.join(", ")
        ),
    )
    .with_detail("available", list))
}

/// Xvfb's arguments for `display` at `r`: no TCP, no GLX (it would cost ~50 MB and nothing here
/// renders with it; Chromium draws in software), no screen saver.
pub fn xvfb_args(display: &str, r: Resolution) -> Vec<String> {
    crate::args(&[
        display,
        "-screen",
        "0",
        &format!("{}x{}x{}", r.width, r.height, Resolution::DEPTH),
        "-nolisten",
        "tcp",
        "-extension",
        "GLX",
        "-s",
        "0",
        "-dpms",
        "-noreset",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_resolutions_are_taken() {
        assert_eq!(
            check(Resolution::new(1024, 768)),
            Ok(Resolution::new(1024, 768))
        );
        let e = check(Resolution::new(5000, 10)).unwrap_err();
        assert_eq!((e.status, e.code), (400, "UNSUPPORTED_RESOLUTION"));
        assert!(e.message.contains("1280x800"), "{}", e.message);
        assert!(AVAILABLE.contains(&Resolution::DEFAULT));
    }

    #[test]
    fn xvfb_runs_without_tcp_or_glx() {
        let args = xvfb_args(":1", Resolution::DEFAULT).join(" ");
        assert!(args.starts_with(":1 -screen 0 1280x800x24 -nolisten tcp -extension GLX"));
    }
}

/// What `GET /desktop/display` answers.
#[derive(Debug, Clone, Serialize)]
pub struct DisplayInfo {
    pub width: u32,
    pub height: u32,
    pub depth: u32,
    /// `:1`.
    pub display: String,
}

/// `POST /desktop/display/set`, `POST /desktop/display/resolution`.
#[derive(Debug, serde::Deserialize)]
pub struct SetResolution {
    pub width: u32,
    pub height: u32,
}

impl crate::Desktop {
    pub async fn display_info(&self) -> DesktopResult<DisplayInfo> {
        let (width, height) = self.x.size().await?;
        Ok(DisplayInfo {
            width,
            height,
            depth: Resolution::DEPTH,
            display: self.display(),
        })
    }

    /// Restarts the display at `req`'s size and waits until it answers at that size.
    pub async fn set_resolution(&self, req: &SetResolution) -> DesktopResult<DisplayInfo> {
        let r = check(Resolution::new(req.width, req.height))?;
        if self.x.size().await? != (r.width, r.height) {
            self.screen.set(r);
            self.start();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
            while self.x.size().await.ok() != Some((r.width, r.height)) {
                if std::time::Instant::now() >= deadline {
                    return Err(DesktopError::display_down(
                        "the display did not restart in time",
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            // The window manager lost its display with the old server: back at once, and managing
            // windows before this answers (bounded: a display without one still works).
            self.stack.kick(crate::WINDOW_MANAGER_SERVICE);
            while !self.x.window_manager_running().await.unwrap_or(false)
                && std::time::Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
        }
        self.display_info().await
    }
}
