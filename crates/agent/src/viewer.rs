//! The desktop's browser viewer on `0.0.0.0:6080` (`DESKTOP_VIEWER_PORT`), served while the image
//! has the display stack: noVNC's files from [`NOVNC_DIR`] and `GET /websockify`, a WebSocket that
//! carries the RFB session to x11vnc on `127.0.0.1:5900` (started first if it is not running).
//!
//! No agent token is checked here, and none is ever put in a link: a browser reaches this port only
//! through the router, which demands a preview token for port 6080 of this sandbox (the
//! `warren_preview` link parameter, then its cookie), and the RFB session itself is protected by the
//! VNC password, which x11vnc always has (`desktop::vnc`). Bridges are bounded ([`MAX_BRIDGES`]).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use desktop::Desktop;
use futures::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Where the image keeps noVNC (Debian's `novnc` package).
pub const NOVNC_DIR: &str = "/usr/share/novnc";
/// RFB sessions bridged at once.
pub const MAX_BRIDGES: usize = 16;
/// The WebSocket subprotocol noVNC asks for.
const SUBPROTOCOL: &str = "binary";

#[derive(Clone)]
struct Viewer {
    desktop: Desktop,
    /// The canonical noVNC directory; `None` when the image has none (only `/websockify` works).
    root: Option<Arc<PathBuf>>,
    bridges: Arc<Semaphore>,
}

/// The viewer's routes over `desktop`, its files from `root`.
pub fn router(desktop: Desktop, root: &Path) -> Router {
    let viewer = Viewer {
        desktop,
        root: std::fs::canonicalize(root).ok().map(Arc::new),
        bridges: Arc::new(Semaphore::new(MAX_BRIDGES)),
    };
    Router::new()
        .route("/", get(index))
        .route("/websockify", get(websockify))
        .fallback(get(file))
        .with_state(viewer)
}

/// Binds the viewer's port and serves until `stop`; a port already taken is logged and left alone.
pub async fn serve(
    desktop: Desktop,
    limits: listener::Limits,
    stop: impl std::future::Future<Output = ()>,
) {
    let addr = (
        std::net::Ipv4Addr::UNSPECIFIED,
        api_types::agent::DESKTOP_VIEWER_PORT,
    );
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, port = addr.1, "the desktop viewer cannot listen");
            return;
        }
    };
    tracing::info!(port = addr.1, "desktop viewer listening");
    let app = router(desktop, Path::new(NOVNC_DIR));
    if let Err(e) = listener::serve(listener, limits, |_| app.clone(), stop).await {
        tracing::warn!(error = %e, "the desktop viewer stopped");
    }
}

/// `GET /`: the viewer page, with the query kept (autoconnect, the preview token, …).
async fn index(uri: Uri) -> Redirect {
    match uri.query() {
        Some(q) => Redirect::temporary(&format!("/vnc.html?{q}")),
        None => Redirect::temporary("/vnc.html"),
    }
}

/// A file of noVNC, never one outside its directory (symbolic links included).
async fn file(State(viewer): State<Viewer>, req: Request) -> Response {
    let Some(root) = viewer.root.as_deref() else {
        return not_found();
    };
    let Some(path) = resolve(root, req.uri().path()) else {
        return not_found();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            Body::from(bytes),
        )
            .into_response(),
        Err(_) => not_found(),
    }
}

/// The file `request_path` names under the canonical `root`, after every symbolic link is
/// followed; `None` when it is not a regular file inside `root`.
pub fn resolve(root: &Path, request_path: &str) -> Option<PathBuf> {
    let relative = request_path.trim_start_matches('/');
    // noVNC's own files need no escapes; whatever has one, or a `..`, is not among them.
    if relative.is_empty() || relative.contains(['%', '\\', '\0']) {
        return None;
    }
    let relative = Path::new(relative);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let real = std::fs::canonicalize(root.join(relative)).ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "mp3" => "audio/mpeg",
        "oga" | "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found").into_response()
}

/// `GET /websockify`: the RFB session over a WebSocket, once x11vnc accepts connections.
async fn websockify(State(viewer): State<Viewer>, ws: WebSocketUpgrade) -> Response {
    let Ok(permit) = viewer.bridges.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many viewers are connected",
        )
            .into_response();
    };
    let vnc = match connect(&viewer.desktop).await {
        Ok(tcp) => tcp,
        Err(why) => {
            tracing::warn!(%why, "the viewer cannot reach the VNC server");
            return (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
        }
    };
    ws.protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| bridge(socket, vnc, permit))
}

/// Connects to x11vnc, starting it first (with its password) if it does not listen.
async fn connect(desktop: &Desktop) -> Result<TcpStream, String> {
    if let Ok(tcp) = TcpStream::connect(desktop::vnc::RFB_ADDR).await {
        return Ok(tcp);
    }
    desktop
        .ready(crate::desktop::READY_WAIT)
        .await
        .map_err(|e| e.message)?;
    desktop::vnc::start(desktop, None)
        .await
        .map_err(|e| e.message)?;
    TcpStream::connect(desktop::vnc::RFB_ADDR)
        .await
        .map_err(|e| format!("the VNC server does not answer: {e}"))
}

/// Copies RFB bytes both ways until either side closes.
async fn bridge(socket: WebSocket, vnc: TcpStream, _permit: OwnedSemaphorePermit) {
    let _ = vnc.set_nodelay(true);
    let (mut vnc_read, mut vnc_write) = vnc.into_split();
    let (mut ws_tx, mut ws_rx) = socket.split();
    let to_vnc = async {
        while let Some(Ok(msg)) = ws_rx.next().await {
            let bytes = match msg {
                Message::Binary(bytes) => bytes,
                Message::Close(_) => break,
                // Pings are answered by the WebSocket itself; noVNC sends no text.
                _ => continue,
            };
            if vnc_write.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = vnc_write.shutdown().await;
    };
    let from_vnc = async {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match vnc_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let frame = Message::Binary(bytes::Bytes::copy_from_slice(&buf[..n]));
                    if ws_tx.send(frame).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ =
            tokio::time::timeout(Duration::from_secs(1), ws_tx.send(Message::Close(None))).await;
    };
    tokio::select! {
        () = to_vnc => {}
        () = from_vnc => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_resolve_inside_the_directory_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.join("app")).unwrap();
        std::fs::write(root.join("vnc.html"), "<html>").unwrap();
        std::fs::write(root.join("app/ui.js"), "").unwrap();
        std::fs::write(outside.path().join("secret"), "").unwrap();
        std::os::unix::fs::symlink("vnc.html", root.join("vnc_auto.html")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("leak")).unwrap();
        std::os::unix::fs::symlink("/", root.join("rootfs")).unwrap();

        assert_eq!(resolve(&root, "/vnc.html"), Some(root.join("vnc.html")));
        assert_eq!(resolve(&root, "/app/ui.js"), Some(root.join("app/ui.js")));
        assert_eq!(
            resolve(&root, "/vnc_auto.html"),
            Some(root.join("vnc.html"))
        );
        for bad in [
            "/",
            "/app",
            "/leak",
            "/rootfs/etc/passwd",
            "/../secret",
            "/app/../../secret",
            "/%2e%2e/secret",
            "//etc/passwd",
            "/missing.js",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad}");
        }
    }

    #[test]
    fn content_types_of_novnc_files() {
        assert_eq!(
            content_type(Path::new("a/vnc.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("core/rfb.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x")), "application/octet-stream");
    }
}
