//! File routes that move small JSON bodies (CONTRACT.md §3.3): read, write, list, exists, mkdir,
//! remove (listings are in `listing.rs`). Uploads and downloads stream, in `transfer.rs`. Every operation runs as the sandbox user
//! and checks what it opened (`userfs`).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use api_types::agent::{FileWriteRequest, PathRequest};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use nix::fcntl::OFlag;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, PathQuery};
use crate::state::AppState;
use crate::userfs::{self, at};
use crate::util::now_ts;

/// Files larger than this are refused by `/files/read` (use `/files/download`).
const MAX_READ: u64 = 64 << 20;

/// The mode bits `/files/write` accepts: permissions only, never setuid, setgid or sticky.
const MODE_BITS: u32 = 0o777;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/files/read", get(read))
        .route("/files/write", post(write))
        .route("/files/list", get(super::listing::list))
        .route("/files/exists", get(exists))
        .route("/files/mkdir", post(mkdir))
        .route("/files/remove", delete(remove).post(remove_post))
}

async fn read(State(state): State<AppState>, PathQuery(path): PathQuery) -> ApiResult<Json<Value>> {
    let abs = state.resolve_path(&path)?;
    state
        .files
        .run(move |fs| {
            let (file, len) = fs.open_regular(&abs, &path)?;
            if len > MAX_READ {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "FILE_TOO_LARGE",
                    format!("File too large to read as text ({len} bytes); use /files/download"),
                )
                .with_detail("path", path.as_str()));
            }
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.take(MAX_READ)
                .read_to_end(&mut bytes)
                .map_err(|e| ApiError::from_io(&e, &path))?;
            let size = bytes.len();
            let content = String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            Ok(Json(
                json!({"content": content, "path": path, "size": size}),
            ))
        })
        .await
}

fn parse_mode(mode: &str) -> ApiResult<u32> {
    u32::from_str_radix(mode.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= MODE_BITS)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid mode: {mode} (permission bits 0 to 0777 only)"
            ))
        })
}

async fn write(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<FileWriteRequest>,
) -> ApiResult<Json<Value>> {
    let abs = state.resolve_path(&req.path)?;
    let bytes = match req.encoding.as_deref() {
        Some("base64") => base64::engine::general_purpose::STANDARD
            .decode(req.content.trim())
            .map_err(|e| ApiError::bad_request(format!("Invalid base64 content: {e}")))?,
        None | Some("utf-8" | "utf8" | "text") => req.content.into_bytes(),
        Some(other) => return Err(ApiError::bad_request(format!("Unknown encoding: {other}"))),
    };
    let mode = req.mode.as_deref().map(parse_mode).transpose()?;
    let (path, overwrite) = (req.path, req.overwrite != Some(false));
    state
        .files
        .run(move |fs| {
            let (dir, name) = fs.parent(&abs, true, &path)?;
            let create = OFlag::O_WRONLY | OFlag::O_NONBLOCK;
            // Created fresh, or opened as it is: truncated only once checked.
            let (file, fresh) =
                match fs.open_at(&dir, &name, create | OFlag::O_CREAT | OFlag::O_EXCL, 0o666) {
                    Ok(file) => (file, true),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && overwrite => {
                        let file = fs
                            .open_at(&dir, &name, create, 0)
                            .map_err(|e| ApiError::from_io(&e, &path))?;
                        (file, false)
                    }
                    Err(e) => return Err(ApiError::from_io(&e, &path)),
                };
            let written = fs
                .check(&file, &path)
                .and_then(|()| userfs::regular(&file, &path).map(drop))
                .and_then(|()| write_all(&file, &bytes, mode, fresh, &path));
            if written.is_err() && fresh {
                let _ = nix::unistd::unlinkat(
                    Some(std::os::fd::AsRawFd::as_raw_fd(&dir)),
                    name.as_os_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
            }
            written?;
            Ok(Json(json!({
                "success": true, "path": path, "size": bytes.len(),
                "message": "File written", "timestamp": now_ts(),
            })))
        })
        .await
}

fn write_all(
    mut file: &std::fs::File,
    bytes: &[u8],
    mode: Option<u32>,
    fresh: bool,
    shown: &str,
) -> ApiResult<()> {
    use std::io::Write as _;
    let io = |e: std::io::Error| ApiError::from_io(&e, shown);
    if !fresh {
        file.set_len(0).map_err(io)?;
    }
    file.write_all(bytes).map_err(io)?;
    if let Some(mode) = mode {
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io)?;
    }
    Ok(())
}

async fn exists(
    State(state): State<AppState>,
    PathQuery(path): PathQuery,
) -> ApiResult<Json<Value>> {
    let abs = state.resolve_path(&path)?;
    let shown = path.clone();
    let found = state
        .files
        .run(move |fs| match fs.try_open(&abs, OFlag::O_PATH, &shown)? {
            Ok(file) => {
                let meta = file.metadata().map_err(|e| ApiError::from_io(&e, &shown))?;
                Ok(Some(meta.is_dir()))
            }
            // What user code would see as absent (`test -e` is false) is absent.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::ENOTDIR | libc::EACCES)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(ApiError::from_io(&e, &shown)),
        })
        .await?;
    Ok(Json(json!({
        "exists": found.is_some(),
        "is_directory": found == Some(true),
        "path": path,
    })))
}

async fn mkdir(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PathRequest>,
) -> ApiResult<Json<Value>> {
    let abs = state.resolve_path(&req.path)?;
    let path = req.path;
    state
        .files
        .run(move |fs| {
            let (dir, name) = fs.parent(&abs, true, &path)?;
            let fd = Some(std::os::fd::AsRawFd::as_raw_fd(&dir));
            match nix::sys::stat::mkdirat(
                fd,
                name.as_os_str(),
                nix::sys::stat::Mode::from_bits_truncate(0o777),
            ) {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => return Err(ApiError::from_io(&e.into(), &path)),
            }
            // An existing file is a conflict; an existing directory (or a symlink to one) is fine
            // if it may be used.
            let made = match fs.open_at(&dir, &name, OFlag::O_PATH | OFlag::O_DIRECTORY, 0) {
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                    return Err(ApiError::from_io(
                        &std::io::Error::from_raw_os_error(libc::EEXIST),
                        &path,
                    ));
                }
                made => made.map_err(|e| ApiError::from_io(&e, &path))?,
            };
            fs.check(&made, &path)?;
            Ok(Json(
                json!({"success": true, "path": path, "message": "Directory created"}),
            ))
        })
        .await
}

async fn remove_path(state: AppState, path: String) -> ApiResult<Json<Value>> {
    let abs = state.resolve_path(&path)?;
    let workspace = state.config.workspace.clone();
    state
        .files
        .run(move |fs| {
            let (dir, name) = fs.parent(&abs, false, &path)?;
            fs.check_entry(&dir, &name, &path)?;
            let target = at(&dir, &name);
            let meta =
                std::fs::symlink_metadata(&target).map_err(|e| ApiError::from_io(&e, &path))?;
            let keep = std::fs::metadata(&workspace)
                .ok()
                .map(|m| userfs::identity(&m));
            if keep == Some(userfs::identity(&meta)) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "PATH_NOT_ALLOWED",
                    format!("Refusing to remove the workspace {path}"),
                )
                .with_detail("path", path.as_str()));
            }
            let res = if meta.is_dir() {
                std::fs::remove_dir_all(&target)
            } else {
                std::fs::remove_file(&target)
            };
            res.map_err(|e| ApiError::from_io(&e, &path))?;
            Ok(Json(
                json!({"success": true, "path": path, "message": "Removed"}),
            ))
        })
        .await
}

async fn remove(
    State(state): State<AppState>,
    PathQuery(path): PathQuery,
) -> ApiResult<Json<Value>> {
    remove_path(state, path).await
}

async fn remove_post(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PathRequest>,
) -> ApiResult<Json<Value>> {
    remove_path(state, req.path).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn modes_are_permission_bits_only() {
        assert_eq!(super::parse_mode("0600").unwrap(), 0o600);
        assert_eq!(super::parse_mode("0o755").unwrap(), 0o755);
        for bad in ["4777", "2755", "1777", "0o4755", "8", "rw", ""] {
            assert_eq!(
                super::parse_mode(bad).unwrap_err().code,
                "INVALID_REQUEST",
                "{bad}"
            );
        }
    }
}
