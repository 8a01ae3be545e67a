//! `/files/list`: the entries of a directory the sandbox user may read, each described by its own
//! metadata (a symlink is listed as a symlink, never followed).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use api_types::agent::{FileEntry, FileList};
use axum::Json;
use axum::extract::State;
use nix::fcntl::OFlag;

use crate::error::{ApiError, ApiResult};
use crate::http::extract::PathQuery;
use crate::state::AppState;
use crate::userfs;

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

/// One listing entry, from its own metadata: a symlink is listed as a symlink, never followed.
fn entry(shown_dir: &Path, e: &std::fs::DirEntry) -> Option<FileEntry> {
    let meta = e.metadata().ok()?;
    let name = e.file_name().to_string_lossy().into_owned();
    let modified = chrono::DateTime::from_timestamp(meta.mtime(), 0).unwrap_or_default();
    let modified = api_types::timestamp::format(&modified);
    Some(FileEntry {
        path: shown_dir.join(&name).display().to_string(),
        name,
        size: meta.len(),
        is_directory: meta.is_dir(),
        is_dir: meta.is_dir(),
        permissions: permission_string(meta.mode()),
        mode: format!("{:04o}", meta.mode() & 0o7777),
        modified_time: modified.clone(),
        modified,
    })
}

pub async fn list(
    State(state): State<AppState>,
    PathQuery(path): PathQuery,
) -> ApiResult<Json<FileList>> {
    let abs = state.resolve_path(&path)?;
    state
        .files
        .run(move |fs| {
            let dir = fs.open(&abs, OFlag::O_RDONLY | OFlag::O_DIRECTORY, &path)?;
            // The entries of the directory just checked, read through its descriptor.
            let mut files: Vec<FileEntry> = std::fs::read_dir(userfs::fd_path(&dir))
                .map_err(|e| ApiError::from_io(&e, &path))?
                .filter_map(|e| entry(&abs, &e.ok()?))
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

#[cfg(test)]
mod tests {
    #[test]
    fn permission_strings() {
        assert_eq!(super::permission_string(0o100644), "rw-r--r--");
        assert_eq!(super::permission_string(0o755), "rwxr-xr-x");
    }
}
