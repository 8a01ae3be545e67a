//! The agent's secrets (token key or configure secret), kept out of every process environment: one
//! root-only file per sandbox under `state_dir`, bind-mounted read-only into its container and named
//! by `WARREN_AGENT_SECRETS_FILE`. User code (uid 1000, no capabilities) cannot read it.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use runtime::RuntimeError;

use crate::engine::failed;

/// The secrets files.
#[derive(Debug, Clone)]
pub struct SecretStore {
    dir: PathBuf,
}

impl SecretStore {
    /// The store in `state_dir/secrets`, created if missing.
    pub fn open(state_dir: &Path) -> Result<Self, RuntimeError> {
        Ok(Self {
            dir: private_dir(&state_dir.join("secrets"))?,
        })
    }

    /// Writes the secrets of `sandbox_id` (mode 0400); the file's host path.
    pub fn save(&self, sandbox_id: &str, content: &str) -> Result<PathBuf, RuntimeError> {
        let path = self.dir.join(sandbox_id);
        remove_file(&path)?;
        write_private(&path, content.as_bytes(), 0o400)?;
        Ok(path)
    }

    pub fn remove(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        remove_file(&self.dir.join(sandbox_id))
    }
}

/// `dir`, created if missing.
pub fn private_dir(dir: &Path) -> Result<PathBuf, RuntimeError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir.to_owned())
}

/// Creates (or truncates) `path` with `mode` and writes `bytes` to it.
pub fn write_private(path: &Path, bytes: &[u8], mode: u32) -> Result<(), RuntimeError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))
}

/// Removes `path`; a missing file is fine.
pub fn remove_file(path: &Path) -> Result<(), RuntimeError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(failed(format!("cannot remove {}: {e}", path.display())))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn secrets_files_are_owner_read_only_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open(dir.path()).unwrap();
        let path = store.save("abc", "WARREN_AGENT_TOKEN_KEY=00\n").unwrap();
        // A second save replaces the read-only file.
        store.save("abc", "WARREN_AGENT_TOKEN_KEY=01\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o400);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "WARREN_AGENT_TOKEN_KEY=01\n"
        );
        store.remove("abc").unwrap();
        store.remove("abc").unwrap();
        assert!(!path.exists());
    }
}
