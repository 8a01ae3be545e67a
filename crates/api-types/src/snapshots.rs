//! Warren's snapshots and forks (`/v1/snapshots`, `POST /v1/sandboxes/{id}/snapshots` and
//! `/fork`, an extension of the Hopx API): a sandbox's filesystem, kept after it, that new
//! sandboxes start from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::control::CreatedSandbox;
use crate::error::ControlErrorBody;

/// `POST /v1/sandboxes/{id}/snapshots` request (the body may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateSnapshot {
    /// A label for the snapshot (1–63 of `[A-Za-z0-9._-]`, starting with a letter or digit); not
    /// unique.
    #[serde(default)]
    pub name: Option<String>,
}

/// The snapshot object: create, get and list items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    pub object: String,
    pub id: String,
    pub name: Option<String>,
    /// The sandbox it was taken of (which may be gone: a snapshot outlives its sandbox).
    pub sandbox_id: String,
    /// The template whose image sandboxes made from it run.
    pub template_name: String,
    /// What it counts against the organization's snapshot quota: the disk size of its sandbox.
    pub size_mb: i64,
    /// Whether it holds the sandbox's memory (processes, a kernel's variables): always `false`
    /// for now, with the reason in `memory_reason`.
    pub memory: bool,
    pub memory_reason: Option<String>,
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/sandboxes/{id}/snapshots` and `GET /v1/snapshots/{id}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotResponse {
    #[serde(flatten)]
    pub snapshot: Snapshot,
    pub request_id: String,
}

/// `GET /v1/snapshots` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotList {
    pub object: String,
    pub data: Vec<Snapshot>,
    /// Snapshots (and their MiB) the organization holds, and may hold.
    pub count: i64,
    pub max_count: i64,
    pub used_mb: i64,
    pub quota_mb: i64,
    pub request_id: String,
}

/// `DELETE /v1/snapshots/{id}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotDeleted {
    pub id: String,
    pub deleted: bool,
    pub request_id: String,
}

/// `POST /v1/sandboxes/{id}/fork` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForkSandbox {
    /// How many sandboxes to make: 1 to `snapshots.max_fork_count`.
    pub count: i64,
}

/// One entry of the `POST /v1/sandboxes/{id}/fork` response (a JSON array, one per fork): the
/// created sandbox with its token, or the error envelope of that one create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ForkResult {
    Created(Box<CreatedSandbox>),
    Failed(ControlErrorBody),
}
