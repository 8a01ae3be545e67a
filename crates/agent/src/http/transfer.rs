//! Streaming file transfer: multipart upload written to disk as it arrives (size-capped, partial file
//! removed on any failure) and raw-byte download read by a blocking reader thread.

use std::io::Read;

use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::PathQuery;
use crate::http::files::{blocking, create_parents};
use crate::state::AppState;

const CHUNK: usize = 512 * 1024;

pub fn routes(max_upload: u64) -> Router<AppState> {
    // Multipart framing adds a little on top of the file itself.
    let limit = usize::try_from(max_upload.saturating_add(1 << 20)).unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/files/upload",
            post(upload).layer(DefaultBodyLimit::max(limit)),
        )
        .route("/files/download", get(download))
}

/// A file being written; removed on drop if still there (it is renamed away on success).
struct Partial {
    path: PathBuf,
}

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!("Upload exceeds the limit of {max} bytes"),
    )
    .with_detail("limit", max)
}

async fn upload(State(state): State<AppState>, mut form: Multipart) -> ApiResult<Json<Value>> {
    let max = state.config.max_upload;
    let mut dest: Option<(String, PathBuf)> = None;
    let mut written: Option<(Partial, u64, String)> = None;
    let multipart_err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max)
        } else {
            ApiError::bad_request(format!("Invalid multipart body: {}", e.body_text()))
        }
    };
    while let Some(mut field) = form.next_field().await.map_err(multipart_err)? {
        match field.name() {
            Some("path") => {
                let p = field.text().await.map_err(multipart_err)?;
                dest = Some((p.clone(), state.resolve_path(&p)?));
            }
            Some("file") => {
                let filename = field.file_name().unwrap_or("upload").to_owned();
                let dir = match &dest {
                    Some((shown, abs)) => {
                        let (inner, abs2, shown2) = (state.clone(), abs.clone(), shown.clone());
                        blocking(move || create_parents(&inner, &abs2, &shown2)).await?;
                        abs.parent()
                            .map_or_else(|| state.config.tmp_dir.clone(), Path::to_path_buf)
                    }
                    None => state.config.tmp_dir.clone(),
                };
                let tmp = dir.join(format!(".{}.part", crate::util::new_id("upload")));
                let file = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| ApiError::from_io(&e, &tmp.display().to_string()))?;
                // Each write to a tokio file is a hop to the blocking pool: write in 1 MiB slices,
                // not in the body's small chunks. No fsync: like every other write of the agent (and
                // `docker cp`), the file is visible once renamed into place; a sandbox's disk does
                // not promise durability across a host crash.
                let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
                let partial = Partial { path: tmp };
                let shown = dest.as_ref().map_or(filename.clone(), |d| d.0.clone());
                let mut size = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(multipart_err)? {
                    size += chunk.len() as u64;
                    if size > max {
                        return Err(too_large(max));
                    }
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| ApiError::from_io(&e, &shown))?;
                }
                file.flush()
                    .await
                    .map_err(|e| ApiError::from_io(&e, &shown))?;
                written = Some((partial, size, filename));
            }
            _ => {}
        }
    }
    let (partial, size, filename) = written.ok_or_else(|| ApiError::missing("file"))?;
    let (shown, abs) = dest.ok_or_else(|| ApiError::missing("path"))?;
    let abs = if abs.is_dir() {
        abs.join(&filename)
    } else {
        abs
    };
    let inner = state.clone();
    let src = partial.path.clone();
    blocking(move || {
        create_parents(&inner, &abs, &shown)?;
        if std::fs::rename(&src, &abs).is_err() {
            std::fs::copy(&src, &abs).map_err(|e| {
                let _ = std::fs::remove_file(&abs);
                ApiError::from_io(&e, &shown)
            })?;
        }
        inner.chown_to_user(&abs);
        Ok(())
    })
    .await?;
    drop(partial);
    Ok(Json(json!({
        "success": true, "size": size, "message": "File uploaded",
        "timestamp": crate::util::now_ts(),
    })))
}

async fn download(
    State(state): State<AppState>,
    PathQuery(path): PathQuery,
) -> ApiResult<Response> {
    let abs = state.resolve_path(&path)?;
    let shown = path.clone();
    let (file, len) = blocking(move || {
        let file = std::fs::File::open(&abs).map_err(|e| ApiError::from_io(&e, &shown))?;
        let meta = file.metadata().map_err(|e| ApiError::from_io(&e, &shown))?;
        if meta.is_dir() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_PATH",
                format!("Is a directory: {shown}"),
            )
            .with_detail("path", shown.as_str()));
        }
        Ok((file, meta.len()))
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        loop {
            let mut buf = vec![0u8; CHUNK];
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let name = Path::new(&path).file_name().map_or_else(
        || "download".into(),
        |n| n.to_string_lossy().replace('"', ""),
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, len)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::internal("build a download response", e))
}
