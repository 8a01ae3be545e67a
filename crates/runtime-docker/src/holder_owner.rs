//! Which process a spare network holder belongs to, and whether that process still lives. Each
//! runtime takes an owner id at connect and holds an exclusive `flock` on `state_dir/owners/{id}`
//! for as long as it lives; the kernel drops the lock with the process however it ends (a crash, a
//! SIGKILL), so every process sharing the state dir (every replica on this engine: the state dir is
//! on the host, where the sandboxes' secrets are bind-mounted from) can tell a live owner from a
//! dead one by trying the lock. Spares carry their owner in a label ([`LABEL_OWNER`]).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use runtime::RuntimeError;

use crate::engine::failed;
use crate::secrets::{private_dir, remove_file};

/// The label naming a spare holder's owner.
pub const LABEL_OWNER: &str = "warren.owner";

/// This process's owner id, alive while the value is.
#[derive(Debug)]
pub struct Owner {
    id: String,
    dir: PathBuf,
    _lock: Flock<File>,
}

impl Owner {
    /// A fresh owner id under `state_dir/owners`, locked.
    pub fn take(state_dir: &Path) -> Result<Self, RuntimeError> {
        let dir = private_dir(&state_dir.join("owners"))?;
        let uuid = uuid::Uuid::new_v4().simple().to_string();
        let id = uuid[..16].to_owned();
        // Locked before it is visible under its name, so nobody takes it for a dead owner's.
        let fresh = dir.join(format!("{id}.new"));
        let lock = Flock::lock(open(&fresh)?, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| failed(format!("cannot lock the owner file {id}: {e}")))?;
        std::fs::rename(&fresh, dir.join(&id))
            .map_err(|e| failed(format!("cannot name the owner file {id}: {e}")))?;
        Ok(Self {
            id,
            dir,
            _lock: lock,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the owner `id` is gone: not this one, and its lock file missing or lockable (its
    /// process ended). A gone owner's file is removed.
    pub fn is_gone(&self, id: &str) -> bool {
        if id == self.id {
            return false;
        }
        let valid = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return true;
        }
        let path = self.dir.join(id);
        let Ok(file) = open_existing(&path) else {
            return true;
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(_held) => {
                // Dead; the lock taken here goes when `_held` drops.
                let _ = remove_file(&path);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes the files of every gone owner (their spares are swept separately).
    pub fn prune(&self) -> Result<(), RuntimeError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| failed(format!("cannot list {}: {e}", self.dir.display())))?;
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !id.ends_with(".new") {
                self.is_gone(&id);
            }
        }
        Ok(())
    }
}

fn open(path: &Path) -> Result<File, RuntimeError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| failed(format!("cannot open {}: {e}", path.display())))
}

fn open_existing(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_owner_is_not_gone_and_a_dropped_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            Owner::take(dir.path()).unwrap(),
            Owner::take(dir.path()).unwrap(),
        );
        assert_ne!(a.id(), b.id());
        assert!(!a.is_gone(b.id()), "a live owner counts as gone");
        assert!(!a.is_gone(a.id()));
        let b_id = b.id().to_owned();
        drop(b);
        assert!(a.is_gone(&b_id));
        assert!(
            !dir.path().join("owners").join(&b_id).exists(),
            "its file stays"
        );
        assert!(a.is_gone("0123456789abcdef"), "an unknown owner");
        assert!(a.is_gone(""), "no owner label (an older version's spare)");
        assert!(a.is_gone("../x"));
        a.prune().unwrap();
        assert!(dir.path().join("owners").join(a.id()).exists());
    }
}
