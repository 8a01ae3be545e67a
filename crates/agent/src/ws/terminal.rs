//! `/terminal`: a shell on a real PTY per connection. `input` frames are typed into it, `resize` frames
//! resize it, its output comes back as `output` frames, and the session ends with an `exit` frame.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use api_types::agent::{TerminalInput, TerminalOutput};
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use nix::sys::signal::Signal;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

use super::{
    BATCH_WINDOW, CLOSE_PAUSE, MAX_FRAME_DATA, StreamGuard, StreamSlot, Utf8Carry, send_json,
    split_frames,
};
use crate::lang::find_program;
use crate::procs::spawn::{SpawnSpec, Stdio3, signal_group};
use crate::state::AppState;

/// Output still arriving after the shell exited is read for at most this long.
const EXIT_DRAIN: Duration = Duration::from_millis(100);

pub async fn handler(
    State(state): State<AppState>,
    Extension(slot): StreamSlot,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| session(state, socket, slot))
}

fn set_size(fd: &OwnedFd, cols: u16, rows: u16) {
    let ws = libc::winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn write_fd(fd: &OwnedFd, buf: &[u8]) -> std::io::Result<usize> {
    // SAFETY: `buf` is valid for reads of its length.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

async fn write_all(master: &AsyncFd<OwnedFd>, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        let mut guard = master.writable().await?;
        match guard.try_io(|fd| write_fd(fd.get_ref(), data)) {
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
    Ok(())
}

/// Reads what the PTY has now; `Ok(None)` when the terminal is closed.
async fn read_some(master: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    loop {
        let mut guard = master.ready(Interest::READABLE).await?;
        match guard.try_io(|fd| read_fd(fd.get_ref(), buf)) {
            Ok(Ok(0)) => return Ok(None),
            Ok(Ok(n)) => return Ok(Some(n)),
            // EIO: every slave end is closed.
            Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(None),
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

async fn session(state: AppState, mut ws: WebSocket, _slot: StreamGuard) {
    let started = match start_shell(&state) {
        Ok(s) => s,
        Err(e) => {
            let e = crate::error::ApiError::from_spawn(&e, "the terminal's shell");
            let frame = TerminalOutput::Error {
                error: e.message,
                code: e.code.into(),
            };
            let _ = send_json(&mut ws, &frame).await;
            let _ = send_json(&mut ws, &TerminalOutput::Exit { code: 1 }).await;
            return;
        }
    };
    let (pid, master, mut exit) = started;
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = Utf8Carry::default();
    let mut exit_code = None;
    let mut drain_until: Option<Instant> = None;
    loop {
        let drain = async {
            match drain_until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = read_some(&master, &mut buf) => {
                let Ok(Some(n)) = read else { break };
                let mut text = carry.push(&buf[..n]);
                let deadline = Instant::now() + BATCH_WINDOW;
                while text.len() < MAX_FRAME_DATA {
                    match tokio::time::timeout_at(deadline, read_some(&master, &mut buf)).await {
                        Ok(Ok(Some(n))) => text.push_str(&carry.push(&buf[..n])),
                        _ => break,
                    }
                }
                for data in split_frames(&text) {
                    if send_json(&mut ws, &TerminalOutput::Output { data: data.to_owned() }).await.is_err() {
                        signal_group(pid, Signal::SIGKILL);
                        return;
                    }
                }
            }
            code = &mut exit, if exit_code.is_none() => {
                exit_code = Some(code.unwrap_or(-1));
                drain_until = Some(Instant::now() + EXIT_DRAIN);
            }
            () = drain => break,
            msg = ws.recv() => match msg {
                Some(Ok(Message::Text(t))) => on_input(&mut ws, &master, t.as_bytes()).await,
                Some(Ok(Message::Binary(b))) => on_input(&mut ws, &master, &b).await,
                Some(Ok(_)) => {}
                None | Some(Err(_)) => {
                    signal_group(pid, Signal::SIGHUP);
                    signal_group(pid, Signal::SIGKILL);
                    return;
                }
            },
        }
    }
    let code = match exit_code {
        Some(c) => c,
        None => exit.await.unwrap_or(-1),
    };
    let rest = carry.finish();
    if !rest.is_empty() {
        let _ = send_json(&mut ws, &TerminalOutput::Output { data: rest }).await;
    }
    tokio::time::sleep(CLOSE_PAUSE).await;
    let _ = send_json(&mut ws, &TerminalOutput::Exit { code }).await;
    let _ = ws.send(Message::Close(None)).await;
}

async fn on_input(ws: &mut WebSocket, master: &AsyncFd<OwnedFd>, raw: &[u8]) {
    match serde_json::from_slice::<TerminalInput>(raw) {
        Ok(TerminalInput::Input { data }) => {
            if let Err(e) = write_all(master, data.as_bytes()).await {
                tracing::debug!(error = %e, "terminal input dropped");
            }
        }
        Ok(TerminalInput::Resize { cols, rows }) => set_size(master.get_ref(), cols, rows),
        Err(e) => {
            let frame = TerminalOutput::Error {
                error: format!("Invalid terminal frame: {e}"),
                code: "INVALID_JSON".into(),
            };
            let _ = send_json(ws, &frame).await;
        }
    }
}

type Shell = (u32, AsyncFd<OwnedFd>, tokio::sync::oneshot::Receiver<i32>);

fn start_shell(state: &AppState) -> std::io::Result<Shell> {
    let winsize = nix::pty::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&winsize), None)?;
    let cwd = state.config.workspace.clone();
    let mut env = state.env.child_env(&state.config.base_env, None, &cwd);
    env.insert("TERM".into(), "xterm-256color".into());
    let path = env.get("PATH").cloned().unwrap_or_default();
    let (program, args) = match find_program("bash", &path) {
        Some(bash) => (bash.display().to_string(), vec!["-i".to_owned()]),
        None => ("/bin/sh".to_owned(), vec!["-i".to_owned()]),
    };
    let spawned = state.spawner.spawn(SpawnSpec {
        program,
        args,
        env,
        cwd,
        stdio: Stdio3::Pty(pty.slave),
    })?;
    nix::fcntl::fcntl(
        pty.master.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    // SAFETY: an OwnedFd keeps returning the same open descriptor until it is dropped with the AsyncFd.
    let master = unsafe { AsyncFd::register(pty.master) }?;
    Ok((spawned.pid, master, spawned.exit))
}
