//! `/files/watch`: the client sends `{"action":"watch","path":…}` (more may follow), the agent streams
//! `change` frames from inotify until the client leaves.
//!
//! The watcher's thread is started as the sandbox user, so it inherits the user's credentials
//! (`userfs::creds`): it watches only what the user may read. Each requested path is opened and checked
//! as the user first, and events in the agent's private places are dropped.

use api_types::agent::{WatchEvent, WatchRequest};
use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::stream::error_frame;
use super::{StreamGuard, StreamSlot, send_json};
use crate::error::ApiError;
use crate::http::extract::parse_json;
use crate::state::AppState;
use nix::fcntl::OFlag;

pub async fn handler(
    State(state): State<AppState>,
    Extension(slot): StreamSlot,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| session(state, socket, slot))
}

fn event_name(kind: &EventKind) -> Option<&'static str> {
    Some(match kind {
        EventKind::Create(_) => "created",
        EventKind::Modify(ModifyKind::Name(_)) => "renamed",
        EventKind::Modify(ModifyKind::Metadata(_)) => return None,
        EventKind::Modify(_) => "modified",
        EventKind::Remove(_) => "deleted",
        _ => return None,
    })
}

async fn session(state: AppState, mut ws: WebSocket, _slot: StreamGuard) {
    let (tx, mut rx) = mpsc::channel::<notify::Result<notify::Event>>(256);
    let watcher = state.files.as_user(|| {
        notify::recommended_watcher(move |ev| {
            let _ = tx.blocking_send(ev);
        })
        .map_err(|e| ApiError::internal("start a file watcher", e))
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            let _ = send_json(&mut ws, &error_frame(&e)).await;
            return;
        }
    };
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(Ok(ev)) = ev else { continue };
                let Some(name) = event_name(&ev.kind) else { continue };
                for path in ev.paths.into_iter().filter(|p| !state.files.is_private(p)) {
                    let frame = WatchEvent {
                        kind: "change".into(),
                        path: path.display().to_string(),
                        event: name.into(),
                        timestamp: crate::util::now_ts(),
                    };
                    if send_json(&mut ws, &frame).await.is_err() {
                        return;
                    }
                }
            }
            msg = ws.recv() => {
                let raw = match msg {
                    Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(_)) => continue,
                    None | Some(Err(_)) => return,
                };
                if let Err(e) = add_watch(&state, &mut watcher, &raw).await
                    && send_json(&mut ws, &error_frame(&e)).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

async fn add_watch(
    state: &AppState,
    watcher: &mut impl Watcher,
    raw: &[u8],
) -> Result<(), ApiError> {
    let req: WatchRequest = parse_json(raw)?;
    if req.action != "watch" {
        return Err(ApiError::bad_request(format!(
            "Unknown action: {}",
            req.action
        )));
    }
    let abs = state.resolve_path(&req.path)?;
    let (checked, shown) = (abs.clone(), req.path.clone());
    state
        .files
        .run(move |fs| fs.open(&checked, OFlag::O_PATH, &shown).map(drop))
        .await?;
    watcher
        .watch(&abs, RecursiveMode::Recursive)
        .map_err(|e| match e.kind {
            notify::ErrorKind::Io(io) => ApiError::from_io(&io, &req.path),
            notify::ErrorKind::PathNotFound => ApiError::not_found(&req.path),
            notify::ErrorKind::MaxFilesWatch => ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "RESOURCE_EXHAUSTED",
                "The sandbox user is at its limit of watched directories",
            ),
            _ => ApiError::internal("watch a path", e),
        })
}
