//! Streaming file transfer: multipart upload written to disk as it arrives (size-capped, partial file
//! removed on any failure) and raw-byte download read by a blocking reader thread. Files are opened
//! and renamed as the sandbox user (`userfs`); the bytes then flow through the open descriptors, so
//! the user switch costs a few syscalls per transfer, not per chunk.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use nix::fcntl::OFlag;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ApiResult};
use crate::http::extract::PathQuery;
use crate::state::AppState;
use crate::userfs::UserFs;

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

/// An upload being written to `tmp` in the checked directory `dir`, to become `name` there. Removed
/// on drop unless it was renamed into place.
struct Partial {
    fs: Arc<UserFs>,
    dir: File,
    tmp: OsString,
    name: OsString,
    placed: bool,
}

impl Partial {
    /// Picks the directory and name of an upload to `abs`: into it when it is a directory (under the
    /// upload's own file name, its last component only), else at it; creates the hidden part file.
    fn create(
        fs: &Arc<UserFs>,
        abs: &Path,
        filename: &str,
        shown: &str,
    ) -> ApiResult<(Self, File)> {
        let (dir, name) = match fs.try_open(abs, OFlag::O_PATH | OFlag::O_DIRECTORY, shown)? {
            Ok(dir) => {
                let name = Path::new(filename)
                    .file_name()
                    .map_or_else(|| "upload".into(), ToOwned::to_owned);
                (dir, name)
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                fs.parent(abs, true, shown)?
            }
            Err(e) => return Err(ApiError::from_io(&e, shown)),
        };
        let tmp = OsString::from(format!(".{}.part", crate::util::new_id("upload")));
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL;
        let file = fs
            .open_at(&dir, &tmp, flags, 0o666)
            .map_err(|e| ApiError::from_io(&e, shown))?;
        let partial = Self {
            fs: Arc::clone(fs),
            dir,
            tmp,
            name,
            placed: false,
        };
        Ok((partial, file))
    }

    /// Renames the part file into place (as the user: run it inside `UserFs::run`).
    fn place(&mut self, shown: &str) -> ApiResult<()> {
        self.fs.check_entry(&self.dir, &self.name, shown)?;
        let dir = Some(self.dir.as_raw_fd());
        nix::fcntl::renameat(dir, self.tmp.as_os_str(), dir, self.name.as_os_str())
            .map_err(|e| ApiError::from_io(&e.into(), shown))?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.placed {
            let _ = self.fs.as_user(|| {
                nix::unistd::unlinkat(
                    Some(self.dir.as_raw_fd()),
                    self.tmp.as_os_str(),
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                )
                .map_err(|e| ApiError::from_io(&e.into(), "upload"))
            });
        }
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
    let mut written: Option<(Partial, u64)> = None;
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
                // The SDKs send the path first; a file without one has nowhere to go.
                let (shown, abs) = dest.clone().ok_or_else(|| ApiError::missing("path"))?;
                let filename = field.file_name().unwrap_or("upload").to_owned();
                let (partial, file) = state
                    .files
                    .run(move |fs| Partial::create(fs, &abs, &filename, &shown))
                    .await?;
                let shown = dest.as_ref().map_or("upload", |d| d.0.as_str());
                // Each write to a tokio file is a hop to the blocking pool: write in 1 MiB slices,
                // not in the body's small chunks. No fsync: like every other write of the agent (and
                // `docker cp`), the file is visible once renamed into place; a sandbox's disk does
                // not promise durability across a host crash.
                let mut file =
                    tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
                let mut size = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(multipart_err)? {
                    size += chunk.len() as u64;
                    if size > max {
                        return Err(too_large(max));
                    }
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| ApiError::from_io(&e, shown))?;
                }
                file.flush()
                    .await
                    .map_err(|e| ApiError::from_io(&e, shown))?;
                written = Some((partial, size));
            }
            _ => {}
        }
    }
    let (mut partial, size) = written.ok_or_else(|| ApiError::missing("file"))?;
    let (shown, _) = dest.ok_or_else(|| ApiError::missing("path"))?;
    state.files.run(move |_| partial.place(&shown)).await?;
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
    let (file, len) = state
        .files
        .run(move |fs| fs.open_regular(&abs, &shown))
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
