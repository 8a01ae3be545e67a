//! Control-plane (lifecycle) API types, CONTRACT.md §2.
//!
//! Responses serialise field for field as the contract's tables say: `template_id` is a string and
//! `organization_id` an integer on sandboxes, `organization_id` a string (or null) on templates, all
//! timestamps second-precision `Z`. Requests ignore unknown fields (the SDKs send extra ones).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// A sandbox's compute (`disk_mb`, unlike templates' `disk_gb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SandboxResources {
    pub vcpu: i32,
    pub memory_mb: i32,
    pub disk_mb: i32,
}

/// The sandbox object (§2.0): create, get and list items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sandbox {
    pub object: String,
    pub id: String,
    /// Warren extension: the name given at create, if any.
    pub name: Option<String>,
    pub status: String,
    pub public_host: String,
    pub direct_url: String,
    pub template_id: Option<String>,
    pub template_name: String,
    pub organization_id: i64,
    pub region: String,
    pub resources: SandboxResources,
    pub internet_access: bool,
    pub live_mode: bool,
    pub timeout_seconds: Option<i64>,
    /// Warren extension: seconds without traffic or work after which the sandbox is paused (and
    /// resumed by the next request through the router); `null`: never.
    pub auto_pause: Option<i32>,
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::timestamp::option")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /v1/sandboxes` request. Either `template_name` or `template_id` (or `snapshot_id`); the
/// rest optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateSandbox {
    #[serde(default)]
    pub template_name: Option<String>,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub timeout_seconds: Option<i64>,
    #[serde(default)]
    pub internet_access: Option<bool>,
    #[serde(default)]
    pub env_vars: Option<BTreeMap<String, String>>,
    /// Warren extension: port previews (`{port}-{id}.{domain}`) need the sandbox token.
    #[serde(default)]
    pub private_previews: Option<bool>,
    /// Warren extension: a name unique among the organization's live sandboxes (1–63 of
    /// `[A-Za-z0-9._-]`, starting with a letter or digit). A create naming a live sandbox answers
    /// that sandbox (200) instead of making a second one.
    #[serde(default)]
    pub name: Option<String>,
    /// Warren extension: volumes to mount (`/v1/volumes`).
    #[serde(default)]
    pub volumes: Option<Vec<crate::volumes::VolumeMountRequest>>,
    /// Warren extension: pause the sandbox after this many seconds without API or router traffic
    /// and without work in it (background processes, terminals, listening ports); the next request
    /// to its agent or a preview resumes it (docs/auto-pause.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_pause: Option<i64>,
    /// Warren extension: start from this snapshot (`/v1/snapshots`): its template's image with
    /// the snapshot's files. `template_name` and `template_id` may then be left out (given, they
    /// must name the snapshot's template). Never served from the warm pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
}

/// `POST /v1/sandboxes` response: the sandbox object plus its first agent token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedSandbox {
    #[serde(flatten)]
    pub sandbox: Sandbox,
    pub auth_token: String,
    #[serde(with = "crate::timestamp")]
    pub token_expires_at: DateTime<Utc>,
    pub request_id: String,
}

/// `GET /v1/sandboxes` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SandboxList {
    pub object: String,
    pub data: Vec<Sandbox>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
    pub url: String,
    pub request_id: String,
}

/// Body of delete, pause, resume, start and stop responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SandboxStatusChange {
    pub id: String,
    pub status: String,
    pub request_id: String,
}

/// `PUT /v1/sandboxes/{id}/timeout` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetTimeout {
    pub timeout_seconds: i64,
}

/// `PUT /v1/sandboxes/{id}/timeout` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeoutSet {
    pub id: String,
    pub timeout_seconds: i64,
    #[serde(with = "crate::timestamp")]
    pub expires_at: DateTime<Utc>,
    pub request_id: String,
}

/// `POST /v1/sandboxes/{id}/token/refresh` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRefreshed {
    pub id: String,
    pub auth_token: String,
    #[serde(with = "crate::timestamp")]
    pub token_expires_at: DateTime<Utc>,
    pub request_id: String,
}

/// `POST /v1/sandboxes/{id}/token/rotate` request (Warren extension); `token/revoke` takes none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRotate {
    /// How long tokens signed with the old key keep working; 0 refuses them at once. Default:
    /// `sandboxes.token_rotation_grace_seconds`.
    #[serde(default)]
    pub grace_seconds: Option<i64>,
}

/// `POST /v1/sandboxes/{id}/token/rotate` and `.../token/revoke` response: a token signed with the
/// new key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRotated {
    pub id: String,
    pub auth_token: String,
    #[serde(with = "crate::timestamp")]
    pub token_expires_at: DateTime<Utc>,
    /// Until when tokens signed with the old key still work; `null`: they no longer do.
    #[serde(with = "crate::timestamp::option")]
    pub previous_token_valid_until: Option<DateTime<Utc>>,
    pub request_id: String,
}

/// `POST /v1/sandboxes/{id}/preview-links` request (Warren extension).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewLinkRequest {
    /// The one port the link opens; absent: every port of the sandbox.
    #[serde(default)]
    pub port: Option<u16>,
    /// Default: `sandboxes.token_ttl_seconds`; at most `sandboxes.max_token_lifetime_seconds`.
    #[serde(default)]
    pub expires_in_seconds: Option<i64>,
}

/// `POST /v1/sandboxes/{id}/preview-links` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewLink {
    /// The preview URL with the token in its `warren_preview` parameter; `null` for a link that is
    /// not bound to a port (add `?warren_preview={token}` to any port's preview URL).
    pub url: Option<String>,
    pub token: String,
    #[serde(with = "crate::timestamp")]
    pub expires_at: DateTime<Utc>,
    pub port: Option<u16>,
    pub request_id: String,
}

/// `DELETE /v1/sandboxes/{id}/preview-links` response: every link signed so far no longer opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewLinksRevoked {
    pub id: String,
    pub revoked: bool,
    pub request_id: String,
}

/// A template's compute (`disk_gb`, unlike sandboxes' `disk_mb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateResources {
    pub vcpu: i32,
    pub memory_mb: i32,
    pub disk_gb: i32,
}

/// The template object (§2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Template {
    pub object: String,
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub language: Option<String>,
    pub status: String,
    pub default_resources: TemplateResources,
    /// Warren's own: `container` or `gvisor`, how sandboxes of the template are isolated.
    pub isolation: String,
    pub features: Vec<String>,
    pub tags: Vec<String>,
    pub is_active: bool,
    pub is_public: bool,
    pub organization_id: Option<String>,
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `GET /v1/templates` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateList {
    pub object: String,
    pub data: Vec<Template>,
    pub request_id: String,
}

/// `DELETE /v1/templates/{id}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateDeleted {
    pub id: String,
    pub status: String,
    pub request_id: String,
}

/// `POST /v1/templates/files/upload-link` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadLinkRequest {
    pub files_hash: String,
    pub content_length: i64,
}

/// `POST /v1/templates/files/upload-link` response: exactly the keys of the Python SDK's dataclass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadLink {
    pub present: bool,
    pub upload_url: Option<String>,
    #[serde(with = "crate::timestamp::option")]
    pub expires_at: Option<DateTime<Utc>>,
    pub files_hash: Option<String>,
    pub request_id: String,
}

/// `POST /v1/templates/build` response (201): exactly the keys of the Python SDK's `BuildResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateBuildStarted {
    pub build_id: String,
    pub template_id: String,
    pub status: String,
    pub logs_url: String,
    pub request_id: String,
}

/// `GET /v1/templates/build/{id}/status`: exactly the keys of the Python SDK's
/// `BuildStatusResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateBuildStatus {
    pub build_id: String,
    pub template_id: String,
    pub status: String,
    pub progress: i32,
    pub current_step: Option<String>,
    #[serde(with = "crate::timestamp")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp::option")]
    pub completed_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    pub build_duration_ms: Option<i64>,
    pub request_id: String,
}

/// `GET /v1/templates/build/{id}/logs?offset=`: the log from `offset` (characters) on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateBuildLogs {
    pub logs: String,
    pub offset: i64,
    pub status: String,
    pub complete: bool,
    pub request_id: String,
}
