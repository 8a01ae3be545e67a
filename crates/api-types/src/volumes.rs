//! Warren's volumes (`/v1/volumes`, an extension of the Hopx API): data that outlives sandboxes,
//! mounted into them at create.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `POST /v1/volumes` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateVolume {
    /// Unique in the organization: 1–63 of `[a-z0-9.-]`, starting with a letter or digit.
    pub name: String,
    /// The most the volume holds, in MiB; reserved against the organization's volume quota.
    pub size_mb: i64,
}

/// The volume object: create, get and list items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Volume {
    pub object: String,
    pub id: String,
    pub name: String,
    pub size_mb: i64,
    /// `creating` or `ready`.
    pub status: String,
    /// Live sandboxes (every state but `error` and `deleted`) that mount it.
    pub mounted_by: Vec<String>,
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
}

/// `GET /v1/volumes` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VolumeList {
    pub object: String,
    pub data: Vec<Volume>,
    /// MiB of volumes the organization holds, and may hold.
    pub used_mb: i64,
    pub quota_mb: i64,
    pub request_id: String,
}

/// `POST /v1/volumes` and `GET /v1/volumes/{name_or_id}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VolumeResponse {
    #[serde(flatten)]
    pub volume: Volume,
    pub request_id: String,
}

/// `DELETE /v1/volumes/{name_or_id}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VolumeDeleted {
    pub id: String,
    pub deleted: bool,
    pub request_id: String,
}

/// One entry of `volumes` in `POST /v1/sandboxes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VolumeMountRequest {
    /// The volume's name (or id), of the caller's organization.
    pub name: String,
    /// Absolute path in the sandbox: normalized, not `/`, not under `/proc`, `/sys`, `/dev` or
    /// `/.warren`, not one of the sandbox's own mounts (`/workspace`, `/home/user`, `/tmp`, ...).
    pub mount_path: String,
    /// Mounted read-only: writes fail with `EROFS`.
    #[serde(default)]
    pub read_only: bool,
}
