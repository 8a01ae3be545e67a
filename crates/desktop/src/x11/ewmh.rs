//! The window manager's windows through EWMH, on the X connection itself: the client list, titles,
//! pids, desktops and geometry in one pipelined round of requests, and focus, close, minimize and
//! resize as the client messages a pager sends. No `wmctrl` or `xdotool` process per call, and the
//! geometry is the client window's own (wmctrl adds the frame's title bar to `y`).

use std::sync::Arc;

use x11rb::connection::Connection as _;
use x11rb::errors::ReplyError;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, GetPropertyReply,
};

use super::{CallError, Conn, Rect, X11, window_not_found};
use crate::error::DesktopResult;
use crate::windows::Window;

x11rb::atom_manager! {
    pub Atoms: AtomsCookie {
        _NET_CLIENT_LIST,
        _NET_SUPPORTING_WM_CHECK,
        _NET_ACTIVE_WINDOW,
        _NET_CLOSE_WINDOW,
        _NET_MOVERESIZE_WINDOW,
        _NET_WM_NAME,
        _NET_WM_PID,
        _NET_WM_DESKTOP,
        WM_CHANGE_STATE,
        UTF8_STRING,
    }
}

/// `source indication` of EWMH client messages: a pager, which window managers obey unconditionally.
const FROM_PAGER: u32 = 2;
/// ICCCM's IconicState, asked for with WM_CHANGE_STATE.
const ICONIC: u32 = 3;
/// `_NET_MOVERESIZE_WINDOW` flags: width and height present, from a pager, the window's own gravity.
const RESIZE_FLAGS: u32 = (1 << 10) | (1 << 11) | (FROM_PAGER << 12);

fn cardinals(reply: &GetPropertyReply) -> Vec<u32> {
    reply.value32().map(Iterator::collect).unwrap_or_default()
}

fn property(x: &Conn, window: u32, atom: Atom) -> Result<GetPropertyReply, CallError> {
    Ok(x.c
        .get_property(false, window, atom, AtomEnum::ANY, 0, u32::MAX / 4)?
        .reply()?)
}

/// The managed top-level windows (`_NET_CLIENT_LIST`), in the window manager's order.
fn client_list(x: &Conn) -> Result<Vec<u32>, CallError> {
    Ok(cardinals(&property(x, x.root, x.atoms._NET_CLIENT_LIST)?))
}

fn active(x: &Conn) -> Result<Option<u32>, CallError> {
    let reply = property(x, x.root, x.atoms._NET_ACTIVE_WINDOW)?;
    Ok(cardinals(&reply).first().copied().filter(|id| *id != 0))
}

/// The client area of window `id` on the screen, or `None` when there is no such window (any more).
fn client_rect(x: &Conn, id: u32) -> Result<Option<Rect>, CallError> {
    let geometry = x.c.get_geometry(id)?;
    let origin = x.c.translate_coordinates(id, x.root, 0, 0)?;
    let (Some(g), Some(t)) = (present(geometry.reply())?, present(origin.reply())?) else {
        return Ok(None);
    };
    Ok(Some(Rect {
        x: i32::from(t.dst_x),
        y: i32::from(t.dst_y),
        width: u32::from(g.width),
        height: u32::from(g.height),
    }))
}

/// A reply, or `None` when the X server answered with an error (the window is gone).
fn present<T>(reply: Result<T, ReplyError>) -> Result<Option<T>, CallError> {
    match reply {
        Ok(r) => Ok(Some(r)),
        Err(ReplyError::X11Error(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Window `id` as listed, or `None` when it is gone (closed while it was being asked about).
fn describe(x: &Conn, id: u32, active: Option<u32>) -> Result<Option<Window>, CallError> {
    let a = &x.atoms;
    // Every request goes out before the first reply is read: one round trip per window.
    let get = |atom: Atom| x.c.get_property(false, id, atom, AtomEnum::ANY, 0, 1024);
    let [name, legacy_name, pid, desktop] = [
        get(a._NET_WM_NAME)?,
        get(AtomEnum::WM_NAME.into())?,
        get(a._NET_WM_PID)?,
        get(a._NET_WM_DESKTOP)?,
    ];
    let Some(rect) = client_rect(x, id)? else {
        return Ok(None);
    };
    let (Some(name), Some(legacy_name), Some(pid), Some(desktop)) = (
        present(name.reply())?,
        present(legacy_name.reply())?,
        present(pid.reply())?,
        present(desktop.reply())?,
    ) else {
        return Ok(None);
    };
    let title = if name.type_ == a.UTF8_STRING && !name.value.is_empty() {
        name.value
    } else {
        legacy_name.value
    };
    Ok(Some(Window {
        id,
        title: String::from_utf8_lossy(&title).into_owned(),
        x: rect.x,
        y: rect.y,
        width: rect.width,
        height: rect.height,
        // 0xFFFFFFFF (-1): on every desktop (sticky).
        desktop: cardinals(&desktop).first().map_or(0, |d| *d as i32),
        pid: cardinals(&pid).first().copied().filter(|p| *p != 0),
        active: active == Some(id),
    }))
}

/// Sends the EWMH client message `kind` about `window` to the root window (to the window manager).
fn tell_wm(x: &Conn, window: u32, kind: Atom, data: [u32; 5]) -> Result<(), CallError> {
    let event = ClientMessageEvent::new(32, window, kind, data);
    let mask = EventMask::SUBSTRUCTURE_REDIRECT | EventMask::SUBSTRUCTURE_NOTIFY;
    x.c.send_event(false, x.root, mask, event)?;
    x.c.flush()?;
    Ok(())
}

/// What can be asked of the window manager about one of its windows.
#[derive(Debug, Clone, Copy)]
pub enum Ask {
    Activate,
    Close,
    Minimize,
    Resize { width: u32, height: u32 },
}

impl X11 {
    /// The window manager's windows, each with the geometry of its client area on the screen.
    pub async fn windows(self: &Arc<Self>) -> DesktopResult<Vec<Window>> {
        self.call(|x| {
            let focused = active(x)?;
            let mut windows = Vec::new();
            for id in client_list(x)? {
                windows.extend(describe(x, id, focused)?);
            }
            Ok(windows)
        })
        .await
    }

    /// Whether an EWMH window manager runs on the display (`_NET_SUPPORTING_WM_CHECK` on the root).
    pub async fn window_manager_running(self: &Arc<Self>) -> DesktopResult<bool> {
        self.call(|x| {
            let reply = property(x, x.root, x.atoms._NET_SUPPORTING_WM_CHECK)?;
            Ok(cardinals(&reply).first().is_some_and(|w| *w != 0))
        })
        .await
    }

    /// The window with the input focus (`_NET_ACTIVE_WINDOW`), if any.
    pub async fn active_window(self: &Arc<Self>) -> DesktopResult<Option<u32>> {
        self.call(active).await
    }

    /// Asks the window manager to do `ask` to window `id`; 404 unless it manages that window.
    pub async fn ask(self: &Arc<Self>, id: u32, ask: Ask) -> DesktopResult<()> {
        self.call(move |x| {
            if !client_list(x)?.contains(&id) {
                return Err(CallError::Desktop(window_not_found(id)));
            }
            let a = &x.atoms;
            let (kind, data) = match ask {
                Ask::Activate => (a._NET_ACTIVE_WINDOW, [FROM_PAGER, 0, 0, 0, 0]),
                Ask::Close => (a._NET_CLOSE_WINDOW, [0, FROM_PAGER, 0, 0, 0]),
                Ask::Minimize => (a.WM_CHANGE_STATE, [ICONIC, 0, 0, 0, 0]),
                Ask::Resize { width, height } => (
                    a._NET_MOVERESIZE_WINDOW,
                    [RESIZE_FLAGS, 0, 0, width, height],
                ),
            };
            tell_wm(x, id, kind, data)
        })
        .await
    }

    /// Where window `id` is on the screen (its outer frame is the window manager's business).
    pub async fn window_rect(self: &Arc<Self>, id: u32) -> DesktopResult<Rect> {
        self.call(move |x| {
            client_rect(x, id)?.ok_or_else(|| CallError::Desktop(window_not_found(id)))
        })
        .await
    }
}
