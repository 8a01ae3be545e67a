//! File routes that move small JSON bodies (CONTRACT.md §3.3): read, write, list, exists, mkdir,
//! remove. Uploads and downloads stream, in `transfer.rs`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use api_types::agent::{FileEntry, FileList, FileWriteRequest, PathRequest};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, PathQuery};
use crate::state::{AppInner, AppState};
use crate::util::now_ts;

/// Files larger than this are refused by `/files/read` (use `/files/download`).
const MAX_READ: u64 = 64 << 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/files/read", get(read))
        .route("/files/write", post(write))
        .route("/files/list", get(list))
        .route("/files/exists", get(exists))
        .route("/files/mkdir", post(mkdir))
        .route("/files/remove", delete(remove).post(remove_post))
}

/// Runs blocking filesystem work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal("run a file operation", e))?
}

async fn read(State(state): State<AppState>, PathQuery(path): PathQuery) -> ApiResult<Json<Value>> {
    let abs = state.resolve_path(&path)?;
    blocking(move || {
        let meta = std::fs::metadata(&abs).map_err(|e| ApiError::from_io(&e, &path))?;
        if meta.is_dir() {
            return Err(invalid_path(&path, "is a directory"));
        }
        if meta.len() > MAX_READ {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "FILE_TOO_LARGE",
                format!(
                    "File too large to read as text ({} bytes); use /files/download",
                    meta.len()
                ),
            )
            .with_detail("path", path.as_str()));
        }
        let bytes = std::fs::read(&abs).map_err(|e| ApiError::from_io(&e, &path))?;
        let size = bytes.len();
        let content = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Ok(Json(
            json!({"content": content, "path": path, "size": size}),
        ))
    })
    .await
}

fn invalid_path(path: &str, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_PATH",
        format!("Invalid path {path}: {why}"),
    )
    .with_detail("path", path)
}

/// Creates the missing parents of `file`, handing each new directory to the sandbox user.
pub fn create_parents(state: &AppInner, file: &Path, shown: &str) -> ApiResult<()> {
    let Some(parent) = file.parent() else {
        return Ok(());
    };
    let mut missing: Vec<PathBuf> = parent
        .ancestors()
        .take_while(|p| !p.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(parent).map_err(|e| ApiError::from_io(&e, shown))?;
    missing.reverse();
    for dir in missing {
        state.chown_to_user(&dir);
    }
    Ok(())
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
    let mode = req
        .mode
        .as_deref()
        .map(|m| {
            u32::from_str_radix(m.trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid mode: {m}")))
        })
        .transpose()?;
    let path = req.path;
    let inner = state.clone();
    blocking(move || {
        if req.overwrite == Some(false) && abs.exists() {
            return Err(ApiError::from_io(
                &std::io::Error::from(std::io::ErrorKind::AlreadyExists),
                &path,
            ));
        }
        if abs.is_dir() {
            return Err(invalid_path(&path, "is a directory"));
        }
        create_parents(&inner, &abs, &path)?;
        let fresh = !abs.exists();
        std::fs::write(&abs, &bytes).map_err(|e| {
            if fresh {
                let _ = std::fs::remove_file(&abs);
            }
            ApiError::from_io(&e, &path)
        })?;
        if let Some(mode) = mode {
            std::fs::set_permissions(&abs, std::fs::Permissions::from_mode(mode))
                .map_err(|e| ApiError::from_io(&e, &path))?;
        }
        inner.chown_to_user(&abs);
        Ok(Json(json!({
            "success": true, "path": path, "size": bytes.len(),
            "message": "File written", "timestamp": now_ts(),
        })))
    })
    .await
}

/// `rwxr-xr-x` form of a mode.
pub fn permission_string(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn entry(dir_path: &Path, name: String) -> Option<FileEntry> {
    let full = dir_path.join(&name);
    let meta = std::fs::metadata(&full)
        .or_else(|_| std::fs::symlink_metadata(&full))
        .ok()?;
    let modified = chrono::DateTime::from_timestamp(meta.mtime(), 0).unwrap_or_default();
    let modified = api_types::timestamp::format(&modified);
    Some(FileEntry {
        name,
        path: full.display().to_string(),
        size: meta.len(),
        is_directory: meta.is_dir(),
        is_dir: meta.is_dir(),
        permissions: permission_string(meta.mode()),
        mode: format!("{:04o}", meta.mode() & 0o7777),
        modified_time: modified.clone(),
        modified,
    })
}

async fn list(
    State(state): State<AppState>,
    PathQuery(path): PathQuery,
) -> ApiResult<Json<FileList>> {
    let abs = state.resolve_path(&path)?;
    blocking(move || {
        let meta = std::fs::metadata(&abs).map_err(|e| ApiError::from_io(&e, &path))?;
        if !meta.is_dir() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_PATH",
                format!("Not a directory: {path}"),
            )
            .with_detail("path", path.as_str()));
        }
        let mut files: Vec<FileEntry> = std::fs::read_dir(&abs)
            .map_err(|e| ApiError::from_io(&e, &path))?
            .filter_map(|e| entry(&abs, e.ok()?.file_name().to_string_lossy().into_owned()))
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Json(FileList {
            count: files.len(),
            files,
            path: abs.display().to_string(),
        }))
    })
    .await
}

async fn exists(
    State(state): State<AppState>,
    PathQuery(path): PathQuery,
) -> ApiResult<Json<Value>> {
    let abs = state.resolve_path(&path)?;
    let meta = tokio::fs::metadata(&abs).await.ok();
    Ok(Json(json!({
        "exists": meta.is_some(),
        "is_directory": meta.as_ref().is_some_and(std::fs::Metadata::is_dir),
        "path": path,
    })))
}

async fn mkdir(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PathRequest>,
) -> ApiResult<Json<Value>> {
    let abs = state.resolve_path(&req.path)?;
    let path = req.path;
    let inner = state.clone();
    blocking(move || {
        if abs.exists() && !abs.is_dir() {
            return Err(ApiError::from_io(
                &std::io::Error::from(std::io::ErrorKind::AlreadyExists),
                &path,
            ));
        }
        create_parents(&inner, &abs.join("x"), &path)?;
        Ok(Json(
            json!({"success": true, "path": path, "message": "Directory created"}),
        ))
    })
    .await
}

async fn remove_path(state: AppState, path: String) -> ApiResult<Json<Value>> {
    let abs = state.resolve_path(&path)?;
    if abs == Path::new("/") || abs == state.config.workspace {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PATH_NOT_ALLOWED",
            format!("Refusing to remove {path}"),
        )
        .with_detail("path", path.as_str()));
    }
    blocking(move || {
        let meta = std::fs::symlink_metadata(&abs).map_err(|e| ApiError::from_io(&e, &path))?;
        let res = if meta.is_dir() {
            std::fs::remove_dir_all(&abs)
        } else {
            std::fs::remove_file(&abs)
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
    fn permission_strings() {
        assert_eq!(super::permission_string(0o100644), "rw-r--r--");
        assert_eq!(super::permission_string(0o755), "rwxr-xr-x");
    }
}
