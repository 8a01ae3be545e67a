//! The desktop of a sandbox, behind the agent's `/desktop/*` routes (docs/desktop.md).
//!
//! - [`stack`]: Xvfb, the window manager and x11vnc as supervised programs, restarted when they die,
//!   their output in the [`logs`].
//! - [`x11`]: screenshots, the screen size and the window manager's windows (EWMH) through the X
//!   protocol (no process per shot or per window call).
//! - [`input`], [`keys`], [`windows`], [`clipboard`], [`recording`], [`ocr`]: the operations, through
//!   xdotool, xclip, ffmpeg and tesseract, with their arguments checked first.
//! - [`vnc`]: the VNC server, its password, and the browser viewer's RFB-over-WebSocket bridge.
//!
//! Programs start through [`exec::Exec`], which the agent implements over its own spawner (it is PID 1
//! and reaps every child), so they run as the sandbox user like user code does.

pub mod clipboard;
pub mod error;
pub mod exec;
pub mod input;
pub mod keys;
pub mod logs;
pub mod ocr;
pub mod recording;
pub mod screen;
pub mod stack;
pub mod vnc;
pub mod windows;
pub mod x11;

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::{DesktopError, DesktopResult};

use crate::exec::Exec;
use crate::logs::Logs;
use crate::screen::Resolution;
use crate::stack::{Spec, Stack};

/// Without these the image has no desktop: every `/desktop/*` route answers 501.
pub const REQUIRED: [&str; 3] = ["Xvfb", "x11vnc", "xdotool"];
/// The window manager, started when present (without one, windows cannot be moved or focused).
const WINDOW_MANAGER: &str = "openbox";
/// The stack's name of the window manager's service.
const WINDOW_MANAGER_SERVICE: &str = "window-manager";

/// How the desktop is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// X display number (`:1`, as the SDK's `start_vnc(display=1)` assumes).
    pub display: u32,
    /// The screen at start.
    pub resolution: Resolution,
    /// Where recordings are written.
    pub recordings_dir: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            display: 1,
            resolution: Resolution::DEFAULT,
            recordings_dir: "/tmp/warren-recordings".into(),
        }
    }
}

/// Cheap-to-clone handle on the desktop.
#[derive(Clone)]
pub struct Desktop(Arc<Inner>);

impl Deref for Desktop {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

pub struct Inner {
    pub exec: Arc<dyn Exec>,
    pub options: Options,
    pub logs: Logs,
    pub stack: Stack,
    pub screen: screen::Screen,
    pub x: Arc<x11::X11>,
    pub clipboard: clipboard::Clipboard,
    pub recordings: recording::Recordings,
    pub ocr: ocr::Ocr,
    pub vnc: vnc::Vnc,
}

impl Desktop {
    /// The desktop, when the image has [`REQUIRED`]; else the programs it lacks.
    pub fn probe(exec: Arc<dyn Exec>, options: Options) -> Result<Self, Vec<String>> {
        let missing = missing(&*exec, &REQUIRED);
        if !missing.is_empty() {
            return Err(missing);
        }
        let logs = Logs::default();
        let display = format!(":{}", options.display);
        Ok(Self(Arc::new(Inner {
            stack: Stack::new(exec.clone(), logs.clone()),
            screen: screen::Screen::new(options.resolution),
            x: Arc::new(x11::X11::new(display)),
            clipboard: clipboard::Clipboard::default(),
            recordings: recording::Recordings::new(options.recordings_dir.clone()),
            ocr: ocr::Ocr::default(),
            vnc: vnc::Vnc::new(),
            exec,
            options,
            logs,
        })))
    }

    /// `:N`.
    pub fn display(&self) -> String {
        format!(":{}", self.options.display)
    }

    /// What every desktop program gets in its environment.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("DISPLAY".into(), self.display())]
    }

    /// Starts the display (Xvfb at the current resolution) and the window manager.
    pub fn start(&self) {
        // Xvfb, running as the sandbox user, cannot make its socket directory itself (the agent can).
        let sockets = std::path::Path::new("/tmp/.X11-unix");
        if std::fs::create_dir_all(sockets).is_ok() {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(sockets, std::fs::Permissions::from_mode(0o1777));
        }
        let r = self.screen.get();
        self.stack.run(
            "xvfb",
            Spec {
                program: "Xvfb".into(),
                args: screen::xvfb_args(&self.display(), r),
                env: vec![],
            },
        );
        if self.exec.has_program(WINDOW_MANAGER) {
            self.stack.run(
                WINDOW_MANAGER_SERVICE,
                Spec {
                    program: WINDOW_MANAGER.into(),
                    args: vec![],
                    env: self.env(),
                },
            );
        }
    }

    /// Stops every desktop program (the agent is stopping).
    pub fn stop(&self) {
        self.recordings.stop_all(self);
        self.stack.stop_all();
    }

    /// Waits until the X server answers, at most `timeout`.
    pub async fn ready(&self, timeout: Duration) -> DesktopResult<()> {
        self.x.wait(timeout).await
    }

    /// Runs a desktop program to its end with the display's environment; a missing program is 501.
    pub async fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<Vec<u8>>,
        timeout: Duration,
    ) -> DesktopResult<exec::Output> {
        self.require(program)?;
        self.exec
            .run(program, args, &self.env(), stdin, timeout)
            .await
            .map_err(|e| DesktopError::failed(format!("{program} did not run: {e}")))
    }

    /// Like [`Desktop::run`], and a non-zero exit is a 500 with the program's own message.
    pub async fn run_ok(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<Vec<u8>>,
        timeout: Duration,
    ) -> DesktopResult<exec::Output> {
        let out = self.run(program, args, stdin, timeout).await?;
        if !out.success() {
            let why = out.stderr.trim();
            return Err(DesktopError::failed(format!(
                "{program} failed (exit {}): {}",
                out.code,
                if why.is_empty() { "no message" } else { why }
            )));
        }
        Ok(out)
    }

    /// 501 naming `program` when the image lacks it (the optional tools: ffmpeg, tesseract, …).
    pub fn require(&self, program: &str) -> DesktopResult<()> {
        if self.exec.has_program(program) {
            Ok(())
        } else {
            Err(DesktopError::not_available(vec![program.to_owned()]))
        }
    }
}

/// A program's arguments, owned.
pub(crate) fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Which of `programs` the sandbox lacks.
pub fn missing(exec: &dyn Exec, programs: &[&str]) -> Vec<String> {
    programs
        .iter()
        .filter(|p| !exec.has_program(p))
        .map(|p| (*p).to_owned())
        .collect()
}
