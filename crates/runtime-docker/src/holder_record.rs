//! Which network holder each sandbox claimed, kept on the host (root-only files under `state_dir`):
//! holder names are opaque, because the engine's embedded DNS answers for them on the shared
//! networks, so a sandbox's id must not be read from them.

use std::path::{Path, PathBuf};

use runtime::RuntimeError;

use crate::engine::failed;
use crate::secrets::{private_dir, remove_file, write_private};

/// The records: one file per sandbox, named by its id, holding its holder's container name.
#[derive(Debug, Clone)]
pub struct HolderRecords {
    dir: PathBuf,
}

impl HolderRecords {
    /// The records in `state_dir/holders`, created if missing.
    pub fn open(state_dir: &Path) -> Result<Self, RuntimeError> {
        Ok(Self {
            dir: private_dir(&state_dir.join("holders"))?,
        })
    }

    pub fn save(&self, sandbox_id: &str, holder: &str) -> Result<(), RuntimeError> {
        write_private(&self.dir.join(sandbox_id), holder.as_bytes(), 0o600)
    }

    /// The holder `sandbox_id` claimed, if it claimed one.
    pub fn load(&self, sandbox_id: &str) -> Result<Option<String>, RuntimeError> {
        let path = self.dir.join(sandbox_id);
        match std::fs::read_to_string(&path) {
            Ok(name) => Ok(Some(name)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(format!("cannot read {}: {e}", path.display()))),
        }
    }

    pub fn remove(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        remove_file(&self.dir.join(sandbox_id))
    }

    /// Every record, as (sandbox id, holder name).
    pub fn all(&self) -> Result<Vec<(String, String)>, RuntimeError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| failed(format!("cannot list {}: {e}", self.dir.display())))?;
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            // A record removed meanwhile (a concurrent destroy) is simply not listed.
            if let Some(holder) = self.load(&id)? {
                records.push((id, holder));
            }
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let records = HolderRecords::open(dir.path()).unwrap();
        records.save("abc", "warren-net-0123").unwrap();
        assert_eq!(
            records.load("abc").unwrap().as_deref(),
            Some("warren-net-0123")
        );
        assert_eq!(
            records.all().unwrap(),
            [("abc".to_owned(), "warren-net-0123".to_owned())]
        );
        records.remove("abc").unwrap();
        records.remove("abc").unwrap();
        assert_eq!(records.load("abc").unwrap(), None);
    }
}
