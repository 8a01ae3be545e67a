//! `/execute/stream` and `/commands/stream`: one request frame in; `stdout`/`stderr` frames, a `result`
//! frame and a closing `complete` frame out. Every language runs as a fresh process here (the Python
//! kernel serves `/execute` only). A client that goes away kills the process group.

use std::time::Duration;

use api_types::agent::{CommandRequest, ExecuteRequest, StreamFrame};
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use nix::sys::signal::Signal;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{
    BATCH_WINDOW, CLOSE_PAUSE, MAX_FRAME_DATA, StreamGuard, StreamSlot, Utf8Carry, send_json,
    split_frames,
};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::parse_json;
use crate::lang::Language;
use crate::procs::capture::{Chunk, Leftovers, supervise};
use crate::procs::spawn::signal_group;
use crate::run::{Prepared, timeout_of};
use crate::state::AppState;
use crate::util::now_ts;

/// How long the agent waits for the request frame.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy)]
enum Kind {
    Execute,
    Command,
}

pub async fn execute(
    State(state): State<AppState>,
    Extension(slot): StreamSlot,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| session(state, socket, Kind::Execute, slot))
}

pub async fn command(
    State(state): State<AppState>,
    Extension(slot): StreamSlot,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| session(state, socket, Kind::Command, slot))
}

/// Reads the first frame as text (binary frames holding UTF-8 are accepted too).
pub async fn first_text(ws: &mut WebSocket) -> Option<String> {
    loop {
        match tokio::time::timeout(FIRST_FRAME_TIMEOUT, ws.recv()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.to_string()),
            Ok(Some(Ok(Message::Binary(b)))) => {
                return Some(String::from_utf8_lossy(&b).into_owned());
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        }
    }
}

pub fn error_frame(e: &ApiError) -> StreamFrame {
    StreamFrame::Error {
        error: e.message.clone(),
        code: e.code.to_owned(),
        timestamp: now_ts(),
    }
}

fn prepare(state: &AppState, kind: Kind, text: &str) -> ApiResult<(Prepared, Duration)> {
    match kind {
        Kind::Execute => {
            let req: ExecuteRequest = parse_json(text.as_bytes())?;
            let lang = Language::parse(&req.language)?;
            let p =
                state.prepare_code(lang, &req.code, req.workdir.as_deref(), req.env.as_ref())?;
            Ok((p, timeout_of(req.timeout, 60)))
        }
        Kind::Command => {
            let req: CommandRequest = parse_json(text.as_bytes())?;
            Ok((state.prepare_command(&req)?, timeout_of(req.timeout, 60)))
        }
    }
}

async fn fail(ws: &mut WebSocket, e: &ApiError) {
    let _ = send_json(ws, &error_frame(e)).await;
    tokio::time::sleep(CLOSE_PAUSE).await;
    let _ = send_json(ws, &StreamFrame::Complete { success: false }).await;
    let _ = ws.send(Message::Close(None)).await;
}

async fn session(state: AppState, mut ws: WebSocket, kind: Kind, _slot: StreamGuard) {
    let Some(text) = first_text(&mut ws).await else {
        return;
    };
    let (prepared, timeout) = match prepare(&state, kind, &text) {
        Ok(p) => p,
        Err(e) => return fail(&mut ws, &e).await,
    };
    let Ok(_permit) = state.permits.clone().acquire_owned().await else {
        return;
    };
    let Prepared { spec, scratch } = prepared;
    let program = spec.program.clone();
    let child = match state.spawner.spawn(spec) {
        Ok(c) => c,
        Err(e) => return fail(&mut ws, &ApiError::from_spawn(&e, &program)).await,
    };
    let pid = child.pid;
    let (tap, mut chunks) = mpsc::channel(64);
    let limit = state.config.output_limit;
    let supervised = tokio::spawn(supervise(
        child,
        limit,
        timeout,
        Some(tap),
        Leftovers::Kill(state.spawner.clone()),
    ));
    let (mut out, mut err) = (Utf8Carry::default(), Utf8Carry::default());
    let mut client_gone = false;
    loop {
        tokio::select! {
            chunk = chunks.recv() => {
                let Some(chunk) = chunk else { break };
                let (mut o, mut e) = (String::new(), String::new());
                absorb(chunk, &mut out, &mut err, &mut o, &mut e);
                let deadline = Instant::now() + BATCH_WINDOW;
                while o.len() + e.len() < MAX_FRAME_DATA {
                    match tokio::time::timeout_at(deadline, chunks.recv()).await {
                        Ok(Some(c)) => absorb(c, &mut out, &mut err, &mut o, &mut e),
                        _ => break,
                    }
                }
                if !client_gone && send_output(&mut ws, &o, &e).await.is_err() {
                    client_gone = true;
                    signal_group(pid, Signal::SIGKILL);
                }
            }
            msg = ws.recv(), if !client_gone => {
                if matches!(msg, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                    client_gone = true;
                    signal_group(pid, Signal::SIGKILL);
                }
            }
        }
    }
    let outcome = supervised.await.unwrap_or_default();
    drop(scratch);
    if client_gone {
        return;
    }
    let _ = send_output(&mut ws, &out.finish(), &err.finish()).await;
    let _ = send_json(
        &mut ws,
        &StreamFrame::Result {
            exit_code: outcome.exit_code,
            execution_time: outcome.elapsed,
            timestamp: now_ts(),
        },
    )
    .await;
    if outcome.timed_out {
        let e = ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "EXECUTION_TIMEOUT",
            format!("Execution timed out after {}s", timeout.as_secs()),
        );
        let _ = send_json(&mut ws, &error_frame(&e)).await;
    }
    tokio::time::sleep(CLOSE_PAUSE).await;
    let _ = send_json(
        &mut ws,
        &StreamFrame::Complete {
            success: outcome.success(),
        },
    )
    .await;
    let _ = ws.send(Message::Close(None)).await;
}

fn absorb(chunk: Chunk, out: &mut Utf8Carry, err: &mut Utf8Carry, o: &mut String, e: &mut String) {
    match chunk {
        Chunk::Stdout(b) => o.push_str(&out.push(&b)),
        Chunk::Stderr(b) => e.push_str(&err.push(&b)),
    }
}

async fn send_output(ws: &mut WebSocket, out: &str, err: &str) -> Result<(), axum::Error> {
    for data in split_frames(out) {
        let frame = StreamFrame::Stdout {
            data: data.to_owned(),
            timestamp: now_ts(),
        };
        send_json(ws, &frame).await?;
    }
    for data in split_frames(err) {
        let frame = StreamFrame::Stderr {
            data: data.to_owned(),
            timestamp: now_ts(),
        };
        send_json(ws, &frame).await?;
    }
    Ok(())
}
