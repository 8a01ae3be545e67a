//! What outlives sandboxes on the sandbox disk, one directory per id under `{kind}/{instance}`:
//! volumes (`volumes/`), bind-mounted into the sandboxes that name them, and snapshots
//! (`snapshots/`), read-only btrfs snapshots of a sandbox's disk that new sandboxes start from. On
//! btrfs each volume is a subvolume with a qgroup limit of its size, as a sandbox's own disk is
//! ([`crate::disk`]); where the disk is no btrfs filesystem a volume is a plain directory and what
//! is written is not bounded (the connect warning says so; the control plane still reserves the
//! size against the quota), and there are no snapshots.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use bollard::models::{Mount, MountType};
use runtime::{DockerSettings, RuntimeError, VolumeMount};

use crate::container::DEFAULT_USER;
use crate::disk::DiskPool;
use crate::engine::failed;

/// Where the volumes (or the snapshots) of one instance live, and the btrfs pool bounding them (if
/// any).
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    disk: Option<DiskPool>,
}

impl Store {
    /// The `kind` directory (`volumes`, `snapshots`) of `settings.instance`: on the disk pool when
    /// there is one, else in `sandbox_disk_dir`, else in `state_dir`. Made if missing.
    pub fn open(
        settings: &DockerSettings,
        disk: Option<&DiskPool>,
        kind: &str,
    ) -> Result<Self, RuntimeError> {
        let base = match (disk, &settings.sandbox_disk_dir) {
            (Some(pool), _) => pool.root().to_owned(),
            (None, Some(dir)) => dir.clone(),
            (None, None) => settings.state_dir.clone(),
        };
        let root = base.join(kind).join(&settings.instance);
        std::fs::create_dir_all(&root)
            .map_err(|e| failed(format!("cannot make {}: {e}", root.display())))?;
        Ok(Self {
            root,
            disk: disk.cloned(),
        })
    }

    /// The host directory of volume (or snapshot) `volume_id`.
    pub fn dir(&self, volume_id: &str) -> Result<PathBuf, RuntimeError> {
        check_volume_id(volume_id)?;
        Ok(self.root.join(volume_id))
    }

    /// Takes `snapshot_id` as a read-only copy-on-write snapshot of the disk of `sandbox_id`
    /// (instant on btrfs; a leftover of the same id is replaced). Only on a btrfs pool.
    pub async fn take_snapshot(
        &self,
        snapshot_id: &str,
        sandbox_id: &str,
    ) -> Result<(), RuntimeError> {
        let dir = self.dir(snapshot_id)?;
        let pool = self.disk.as_ref().ok_or_else(no_snapshots)?;
        pool.snapshot(sandbox_id, &dir).await
    }

    /// Makes the volume, empty and owned by the sandbox user; a leftover is replaced.
    pub async fn create(&self, volume_id: &str, size_mb: u32) -> Result<(), RuntimeError> {
        let dir = self.dir(volume_id)?;
        match &self.disk {
            Some(pool) => pool.create_subvolume(&dir, size_mb, prepare).await,
            None => blocking(move || {
                remove_dir(&dir)?;
                std::fs::create_dir(&dir)?;
                prepare(&dir)
            })
            .await
            .map_err(|e| failed(format!("cannot make volume {volume_id}: {e}"))),
        }
    }

    /// Removes the volume (or snapshot) and its data; an unknown one is not an error.
    pub async fn remove(&self, volume_id: &str) -> Result<(), RuntimeError> {
        let dir = self.dir(volume_id)?;
        match &self.disk {
            Some(pool) => pool.remove_subvolume(&dir).await,
            None => blocking(move || remove_dir(&dir))
                .await
                .map_err(|e| failed(format!("cannot remove volume {volume_id}: {e}"))),
        }
    }

    /// The bind mounts of a sandbox's volumes; fails when one of them does not exist.
    pub fn mounts(&self, volumes: &[VolumeMount]) -> Result<Vec<Mount>, RuntimeError> {
        volumes
            .iter()
            .map(|v| {
                let dir = self.dir(&v.volume_id)?;
                if !dir.is_dir() {
                    return Err(failed(format!("volume {} does not exist", v.volume_id)));
                }
                Ok(Mount {
                    target: Some(v.mount_path.clone()),
                    source: Some(dir.display().to_string()),
                    typ: Some(MountType::BIND),
                    read_only: Some(v.read_only),
                    ..Default::default()
                })
            })
            .collect()
    }

    /// The ids of every volume (or snapshot) of this instance.
    pub fn list(&self) -> Result<Vec<String>, RuntimeError> {
        let entries = std::fs::read_dir(&self.root)
            .map_err(|e| failed(format!("cannot list {}: {e}", self.root.display())))?;
        Ok(entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| check_volume_id(name).is_ok())
            .collect())
    }
}

/// Why a backend without a btrfs sandbox disk takes no snapshots.
pub fn no_snapshots() -> RuntimeError {
    failed("snapshots need a btrfs sandbox disk (docker.sandbox_disk_dir)")
}

/// A volume id is a path component of `[a-z0-9_]`, at most 63 bytes.
fn check_volume_id(volume_id: &str) -> Result<(), RuntimeError> {
    let ok = !volume_id.is_empty()
        && volume_id.len() <= 63
        && volume_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(failed(format!("invalid volume id {volume_id:?}")))
    }
}

/// The volume's root: the sandbox user's, `rwxr-xr-x`.
fn prepare(dir: &Path) -> std::io::Result<()> {
    let (uid, gid) = DEFAULT_USER;
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

fn remove_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

async fn blocking(f: impl FnOnce() -> std::io::Result<()> + Send + 'static) -> std::io::Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path) -> DockerSettings {
        DockerSettings {
            sandbox_disk_dir: None,
            state_dir: dir.to_owned(),
            instance: "unit".into(),
            ..DockerSettings::default()
        }
    }

    #[tokio::test]
    async fn plain_directories_are_made_listed_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let volumes = Store::open(&settings(tmp.path()), None, "volumes").unwrap();
        volumes.create("vol_abc", 10).await.unwrap();
        let dir = volumes.dir("vol_abc").unwrap();
        assert!(dir.starts_with(tmp.path().join("volumes/unit")));
        std::fs::write(dir.join("f"), "x").unwrap();
        assert_eq!(volumes.list().unwrap(), vec!["vol_abc".to_owned()]);
        volumes.create("vol_abc", 10).await.unwrap();
        assert!(!dir.join("f").exists(), "a leftover is replaced");
        volumes.remove("vol_abc").await.unwrap();
        volumes.remove("vol_abc").await.unwrap();
        assert!(volumes.list().unwrap().is_empty());
    }

    #[tokio::test]
    async fn mounts_bind_existing_volumes_read_only_when_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let volumes = Store::open(&settings(tmp.path()), None, "volumes").unwrap();
        volumes.create("vol_a", 10).await.unwrap();
        let mount = |id: &str, read_only| VolumeMount {
            volume_id: id.into(),
            mount_path: "/data".into(),
            read_only,
        };
        let made = volumes.mounts(&[mount("vol_a", true)]).unwrap();
        assert_eq!(made[0].typ, Some(MountType::BIND));
        assert_eq!(made[0].read_only, Some(true));
        assert_eq!(made[0].target.as_deref(), Some("/data"));
        assert!(volumes.mounts(&[mount("vol_gone", false)]).is_err());
    }

    #[test]
    fn ids_are_single_path_components() {
        for bad in ["", "..", "a/b", "A", "vol-1", &"a".repeat(64)] {
            assert!(check_volume_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_volume_id("vol_a1").is_ok());
    }
}
