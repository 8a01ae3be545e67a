//! Scratch files in the agent's tmp directory: the code of an execution, and a shell command too long
//! to pass as one argument (the kernel takes at most 128 KiB per argument, `MAX_ARG_STRLEN`).

use std::path::{Path, PathBuf};

use axum::http::StatusCode;

use crate::error::{ApiError, ApiResult};

/// Longest shell command passed as `sh -c COMMAND`; longer ones go through a script file. Well below
/// the kernel's 128 KiB, so that short commands keep the fast path (no file).
pub const INLINE_COMMAND_MAX: usize = 64 * 1024;

/// Shells whose `-c SCRIPT` may be run as `SHELL FILE` instead.
const SHELLS: [&str; 4] = ["sh", "bash", "dash", "zsh"];

/// A scratch file; removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Writes `content` to a new file with extension `ext` in `dir`, owned by `owner` (uid, gid) so
    /// that user code can read it.
    pub fn write(
        dir: &Path,
        ext: &str,
        content: &str,
        owner: Option<(u32, u32)>,
    ) -> ApiResult<Self> {
        let path = dir.join(format!("{}.{ext}", crate::util::new_id("warren-code")));
        let scratch = Self(path);
        std::fs::write(&scratch.0, content).map_err(|e| match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The code does not fit the agent's scratch space",
            ),
            _ => ApiError::internal("write the code file", e),
        })?;
        if let Some((uid, gid)) = owner {
            let _ = std::os::unix::fs::lchown(&scratch.0, Some(uid), Some(gid));
        }
        Ok(scratch)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether `program` is a shell that runs `-c SCRIPT` the same as a script file.
pub fn is_shell(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program);
    SHELLS.contains(&name)
}

/// Arguments of a shell running `script`: `-c SCRIPT` when short, else a script file in `dir`.
pub fn shell_argv(
    script: &str,
    dir: &Path,
    owner: Option<(u32, u32)>,
) -> ApiResult<(Vec<String>, Option<Scratch>)> {
    if script.len() <= INLINE_COMMAND_MAX {
        return Ok((vec!["-c".into(), script.to_owned()], None));
    }
    let file = Scratch::write(dir, "sh", script, owner)?;
    Ok((vec![file.path().display().to_string()], Some(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_scripts_go_through_a_file_that_is_removed_after() {
        let dir = tempfile::tempdir().unwrap();
        let (args, file) = shell_argv("echo hi", dir.path(), None).unwrap();
        assert_eq!(
            (args, file.is_none()),
            (vec!["-c".into(), "echo hi".into()], true)
        );
        let long = format!("echo {}", "x".repeat(INLINE_COMMAND_MAX));
        let (args, file) = shell_argv(&long, dir.path(), None).unwrap();
        let file = file.unwrap();
        assert_eq!(args, [file.path().display().to_string()]);
        assert_eq!(std::fs::read_to_string(file.path()).unwrap(), long);
        let path = file.path().to_owned();
        drop(file);
        assert!(!path.exists());
        assert!(is_shell("/usr/bin/bash") && is_shell("sh") && !is_shell("python3"));
    }
}
