//! What outlives sandboxes: `[volumes]`, how large volumes may be, per volume and per
//! organization, and how many one sandbox mounts; `[snapshots]`, how many snapshots (and MiB) an
//! organization holds and how many sandboxes one fork makes.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeSettings {
    /// Largest `size_mb` of one volume.
    pub max_size_mb: u32,
    /// MiB of volumes one organization may hold in all (reserved at create).
    pub org_quota_mb: u32,
    /// Volumes one sandbox may mount.
    pub max_mounts_per_sandbox: u32,
}

impl Default for VolumeSettings {
    fn default() -> Self {
        Self {
            max_size_mb: 10 * 1024,
            org_quota_mb: 50 * 1024,
            max_mounts_per_sandbox: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotSettings {
    /// Snapshots one organization may hold.
    pub org_max_count: u32,
    /// MiB of snapshots one organization may hold in all, each counted at the disk size of the
    /// sandbox it was taken of (reserved when it is taken).
    pub org_quota_mb: u32,
    /// Sandboxes one `POST /v1/sandboxes/{id}/fork` may make (`count`).
    pub max_fork_count: u32,
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        Self {
            org_max_count: 20,
            org_quota_mb: 200 * 1024,
            max_fork_count: 10,
        }
    }
}
