//! `[volumes]`: how large volumes may be, per volume and per organization, and how many one
//! sandbox mounts.

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
