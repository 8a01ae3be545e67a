//! What a claimed warm-pool sandbox was configured with, kept on the host (root-only files under
//! `state_dir`), so that a stop and start can configure its fresh agent again: a pooled container's
//! environment carries only the configure secret.

use std::path::{Path, PathBuf};

use api_types::agent::ConfigureRequest;
use runtime::RuntimeError;
use serde::{Deserialize, Serialize};

use crate::engine::failed;
use crate::secrets::{private_dir, remove_file, write_private};

/// One claim: the secret the container's agent accepts and the owner's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claim {
    pub secret: String,
    pub request: ConfigureRequest,
}

/// The claim files.
#[derive(Debug, Clone)]
pub struct ClaimStore {
    dir: PathBuf,
}

impl ClaimStore {
    /// The store in `state_dir/claims`, created if missing.
    pub fn open(state_dir: &Path) -> Result<Self, RuntimeError> {
        Ok(Self {
            dir: private_dir(&state_dir.join("claims"))?,
        })
    }

    fn path(&self, sandbox_id: &str) -> PathBuf {
        self.dir.join(format!("{sandbox_id}.json"))
    }

    pub fn save(&self, claim: &Claim) -> Result<(), RuntimeError> {
        let path = self.path(&claim.request.sandbox_id);
        let json = serde_json::to_vec(claim).map_err(|e| RuntimeError::Failed(e.into()))?;
        write_private(&path, &json, 0o600)
    }

    /// The claim of `sandbox_id`, if it was claimed.
    pub fn load(&self, sandbox_id: &str) -> Result<Option<Claim>, RuntimeError> {
        let path = self.path(sandbox_id);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| failed(format!("corrupt claim {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(format!("cannot read {}: {e}", path.display()))),
        }
    }

    pub fn remove(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        remove_file(&self.path(sandbox_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_round_trip_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = ClaimStore::open(dir.path()).unwrap();
        let claim = Claim {
            secret: "s".into(),
            request: ConfigureRequest {
                sandbox_id: "abc".into(),
                token_key: "00".into(),
                env_vars: Default::default(),
                viewer_base: Some("http://6080-abc.sandbox.localhost:8080".into()),
                preview_epoch: 2,
            },
        };
        store.save(&claim).unwrap();
        assert_eq!(store.load("abc").unwrap().unwrap().request, claim.request);
        store.remove("abc").unwrap();
        store.remove("abc").unwrap();
        assert!(store.load("abc").unwrap().is_none());
    }

    #[test]
    fn a_claim_saved_before_the_viewer_fields_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let store = ClaimStore::open(dir.path()).unwrap();
        let old =
            br#"{"secret":"s","request":{"sandbox_id":"abc","token_key":"00","env_vars":{}}}"#;
        write_private(&store.path("abc"), old, 0o600).unwrap();
        let request = store.load("abc").unwrap().unwrap().request;
        assert_eq!(
            (request.viewer_base, request.preview_epoch),
            (None, 0),
            "the viewer fields default"
        );
    }
}
