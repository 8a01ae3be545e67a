//! The one error type handlers return, its stable codes, and its envelope (CONTRACT.md §1.6).
//!
//! Every refusal the control plane makes goes through [`ApiError`]; `docs/api.md` lists the codes.
//! Internal causes are logged here with their whole chain and never sent to the client. The
//! request id every answer carries is [`request_id`]'s.

pub mod request_id;

use api_types::error::ControlErrorBody;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use runtime::RuntimeError;
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing API key")]
    MissingApiKey,
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("request body too slow")]
    BodyTooSlow,
    #[error("Sandbox not found")]
    SandboxNotFound,
    #[error("Template not found: {0}")]
    TemplateNotFound(String),
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    InvalidTransition(String),
    /// The runtime no longer holds the sandbox its row names (the row is marked `error`).
    #[error("the sandbox vanished from the runtime")]
    SandboxVanished,
    #[error("built-in templates cannot be deleted")]
    TemplateProtected,
    #[error("template name {0:?} is taken")]
    TemplateNameTaken(String),
    #[error("template is used by {0} live sandboxes")]
    TemplateInUse(i64),
    #[error("template {0:?} is not active")]
    TemplateNotReady(String),
    #[error("too many template builds queued")]
    BuildQueueFull,
    #[error("upload larger than {limit} bytes")]
    UploadTooLarge { limit: u64 },
    #[error("no such upload")]
    UploadNotFound,
    #[error("sandbox limit reached")]
    SandboxLimit { limit: i64, current: i64 },
    #[error("Volume not found")]
    VolumeNotFound,
    #[error("volume name {0:?} is taken")]
    VolumeNameTaken(String),
    /// Live sandboxes mount the volume (their ids).
    #[error("volume is mounted by {} live sandboxes", .0.len())]
    VolumeInUse(Vec<String>),
    /// The organization's volumes would hold more than `volumes.org_quota_mb`.
    #[error("volume quota exceeded")]
    VolumeQuotaExceeded {
        requested_mb: i64,
        used_mb: i64,
        quota_mb: i64,
    },
    #[error("Snapshot not found")]
    SnapshotNotFound,
    /// The organization's snapshots would exceed `snapshots.org_max_count` (`limit: "count"`) or
    /// `snapshots.org_quota_mb` (`limit: "size_mb"`).
    #[error("snapshot quota exceeded")]
    SnapshotQuotaExceeded {
        limit: &'static str,
        requested: i64,
        used: i64,
        quota: i64,
    },
    /// A fork `count` over `snapshots.max_fork_count`.
    #[error("fork count over the limit")]
    ForkLimit { requested: i64, limit: i64 },
    /// The runtime takes no snapshots (no btrfs sandbox disk).
    #[error("snapshots are not supported by this runtime")]
    SnapshotsUnsupported,
    /// An `Idempotency-Key` already used for a create with another body.
    #[error("idempotency key reused with another request")]
    IdempotencyKeyReused,
    #[error("rate limit exceeded")]
    RateLimited { retry_after_seconds: u64 },
    #[error("no sandbox runtime is configured")]
    RuntimeUnavailable,
    #[error("the sandbox runtime is unreachable")]
    RuntimeUnreachable,
    /// The sandbox's agent did not answer a call the control plane made to it (a key push).
    #[error("the sandbox's agent is unreachable")]
    AgentUnreachable(#[source] anyhow::Error),
    #[error("insufficient capacity")]
    InsufficientCapacity,
    /// Admission control: the sandbox would take the live total of `resource` over `limit`.
    #[error("insufficient {resource} capacity")]
    CapacityExceeded {
        resource: &'static str,
        requested: i64,
        in_use: i64,
        limit: i64,
    },
    /// Admission control: the organization would hold more of `resource` than its share, `limit`.
    #[error("organization share of {resource} exceeded")]
    OrgShareExceeded {
        resource: &'static str,
        requested: i64,
        in_use: i64,
        limit: i64,
    },
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] sqlx::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The stable code (`SANDBOX_NOT_FOUND`, ...).
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    /// The status and the envelope this error answers with (logged: 5xx at `error` with the whole
    /// chain, refusals at `debug`); also one entry of an answer that reports several outcomes.
    pub fn envelope(&self) -> (StatusCode, ControlErrorBody) {
        let (status, code, message) = self.parts();
        if status.is_server_error() {
            tracing::error!(error.code = code, error.chain = %chain(self), "request failed");
        } else {
            tracing::debug!(error.code = code, error.message = %message, "request refused");
        }
        let body = ControlErrorBody::new(code, message, request_id::current(), self.details());
        (status, body)
    }

    /// Status, stable code and client-safe message.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        use ApiError::*;
        match self {
            MissingApiKey => (
                StatusCode::UNAUTHORIZED,
                "AUTHENTICATION_REQUIRED",
                "Missing API key: send X-API-Key or Authorization: Bearer".into(),
            ),
            InvalidApiKey => (
                StatusCode::UNAUTHORIZED,
                "INVALID_API_KEY",
                "Invalid API key".into(),
            ),
            InvalidJson(m) => (
                StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                format!("Invalid JSON body: {m}"),
            ),
            InvalidRequest(m) => (StatusCode::BAD_REQUEST, "INVALID_REQUEST", m.clone()),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "Request body too large".into(),
            ),
            BodyTooSlow => (
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "The request body arrived too slowly (server.body_min_bytes_per_second)".into(),
            ),
            SandboxNotFound => (
                StatusCode::NOT_FOUND,
                "SANDBOX_NOT_FOUND",
                "Sandbox not found".into(),
            ),
            TemplateNotFound(t) => (
                StatusCode::NOT_FOUND,
                "TEMPLATE_NOT_FOUND",
                format!("Template not found: {t}"),
            ),
            SandboxVanished => (
                StatusCode::CONFLICT,
                "SANDBOX_VANISHED",
                "The sandbox no longer exists in the runtime; it is now in state error".into(),
            ),
            RouteNotFound => (
                StatusCode::NOT_FOUND,
                "ROUTE_NOT_FOUND",
                "No such route".into(),
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "Method not allowed on this route".into(),
            ),
            InvalidTransition(m) => (StatusCode::CONFLICT, "INVALID_STATE_TRANSITION", m.clone()),
            TemplateProtected => (
                StatusCode::FORBIDDEN,
                "TEMPLATE_PROTECTED",
                "Built-in templates cannot be deleted".into(),
            ),
            TemplateNameTaken(name) => (
                StatusCode::CONFLICT,
                "TEMPLATE_EXISTS",
                format!(
                    "A template named {name:?} already exists; pass update: true to rebuild your own"
                ),
            ),
            TemplateInUse(n) => (
                StatusCode::CONFLICT,
                "TEMPLATE_IN_USE",
                format!("The template is used by {n} live sandbox(es); delete them first"),
            ),
            TemplateNotReady(t) => (
                StatusCode::CONFLICT,
                "TEMPLATE_NOT_READY",
                format!("Template {t} is not active (still building, or its build failed)"),
            ),
            BuildQueueFull => (
                StatusCode::SERVICE_UNAVAILABLE,
                "BUILD_QUEUE_FULL",
                "Too many template builds are queued; try again later".into(),
            ),
            UploadTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("Uploads may have at most {limit} bytes (templates.max_upload_bytes)"),
            ),
            UploadNotFound => (
                StatusCode::NOT_FOUND,
                "UPLOAD_NOT_FOUND",
                "No pending upload at this URL (it expired, was completed, or never existed)"
                    .into(),
            ),
            SandboxLimit { limit, .. } => (
                StatusCode::FORBIDDEN,
                "RESOURCE_LIMIT_ERROR",
                format!("Sandbox limit reached: this organization may hold {limit} sandboxes"),
            ),
            VolumeNotFound => (
                StatusCode::NOT_FOUND,
                "VOLUME_NOT_FOUND",
                "Volume not found".into(),
            ),
            VolumeNameTaken(name) => (
                StatusCode::CONFLICT,
                "VOLUME_EXISTS",
                format!("A volume named {name:?} already exists"),
            ),
            VolumeInUse(ids) => (
                StatusCode::CONFLICT,
                "VOLUME_IN_USE",
                format!(
                    "The volume is mounted by {} live sandbox(es); delete them first",
                    ids.len()
                ),
            ),
            VolumeQuotaExceeded {
                requested_mb,
                used_mb,
                quota_mb,
            } => (
                StatusCode::FORBIDDEN,
                "VOLUME_QUOTA_EXCEEDED",
                format!(
                    "Volume quota exceeded: this organization may hold {quota_mb} MiB of volumes, \
                     holds {used_mb} and the volume needs {requested_mb} (volumes.org_quota_mb)"
                ),
            ),
            SnapshotNotFound => (
                StatusCode::NOT_FOUND,
                "SNAPSHOT_NOT_FOUND",
                "Snapshot not found".into(),
            ),
            SnapshotQuotaExceeded {
                limit,
                requested,
                used,
                quota,
            } => (
                StatusCode::FORBIDDEN,
                "SNAPSHOT_QUOTA_EXCEEDED",
                if *limit == "count" {
                    format!(
                        "Snapshot quota exceeded: this organization may hold {quota} snapshots and \
                         holds {used} (snapshots.org_max_count)"
                    )
                } else {
                    format!(
                        "Snapshot quota exceeded: this organization may hold {quota} MiB of \
                         snapshots, holds {used} and the snapshot needs {requested} \
                         (snapshots.org_quota_mb)"
                    )
                },
            ),
            ForkLimit { requested, limit } => (
                StatusCode::BAD_REQUEST,
                "FORK_LIMIT_EXCEEDED",
                format!(
                    "count must be between 1 and {limit} (snapshots.max_fork_count); got {requested}"
                ),
            ),
            SnapshotsUnsupported => (
                StatusCode::NOT_IMPLEMENTED,
                "SNAPSHOTS_UNSUPPORTED",
                "This server's runtime takes no snapshots (they need a btrfs sandbox disk)".into(),
            ),
            IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used for a create with another body; use a new key"
                    .into(),
            ),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                "Rate limit exceeded".into(),
            ),
            RuntimeUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "RUNTIME_UNAVAILABLE",
                "No sandbox runtime is configured on this server".into(),
            ),
            AgentUnreachable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "SANDBOX_UNREACHABLE",
                "The sandbox's agent did not take the request; nothing changed, retry".into(),
            ),
            RuntimeUnreachable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "RUNTIME_UNAVAILABLE",
                "The sandbox runtime is unreachable; try again later".into(),
            ),
            InsufficientCapacity => (
                StatusCode::SERVICE_UNAVAILABLE,
                "INSUFFICIENT_CAPACITY",
                "Not enough capacity to place the sandbox; try again later".into(),
            ),
            CapacityExceeded {
                resource,
                requested,
                in_use,
                limit,
            } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "INSUFFICIENT_CAPACITY",
                format!(
                    "Not enough capacity to place the sandbox: it needs {requested} {} and {} of \
                     {limit} are free; try again later",
                    unit(resource),
                    (limit - in_use).max(0)
                ),
            ),
            OrgShareExceeded {
                resource,
                requested,
                in_use,
                limit,
            } => (
                StatusCode::FORBIDDEN,
                "RESOURCE_LIMIT_ERROR",
                format!(
                    "Organization share limit reached: it may hold {limit} {unit} of this host, \
                     holds {in_use} and the sandbox needs {requested}",
                    unit = unit(resource)
                ),
            ),
            DatabaseUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "Service temporarily unavailable".into(),
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "Internal server error".into(),
            ),
        }
    }

    fn details(&self) -> Map<String, Value> {
        let v = match self {
            ApiError::SandboxLimit { limit, current } => json!({
                "limit": limit,
                "current": current,
                "available": (limit - current).max(0),
            }),
            ApiError::CapacityExceeded {
                resource,
                requested,
                in_use,
                limit,
            }
            | ApiError::OrgShareExceeded {
                resource,
                requested,
                in_use,
                limit,
            } => json!({
                "resource": resource,
                "requested": requested,
                "in_use": in_use,
                "limit": limit,
            }),
            ApiError::VolumeInUse(ids) => json!({ "sandbox_ids": ids }),
            ApiError::VolumeQuotaExceeded {
                requested_mb,
                used_mb,
                quota_mb,
            } => json!({
                "requested_mb": requested_mb,
                "used_mb": used_mb,
                "quota_mb": quota_mb,
                "available_mb": (quota_mb - used_mb).max(0),
            }),
            ApiError::SnapshotQuotaExceeded {
                limit,
                requested,
                used,
                quota,
            } => json!({
                "limit": limit,
                "requested": requested,
                "used": used,
                "quota": quota,
                "available": (quota - used).max(0),
            }),
            ApiError::ForkLimit { requested, limit } => json!({
                "requested": requested,
                "limit": limit,
            }),
            ApiError::RateLimited {
                retry_after_seconds,
            } => {
                json!({ "retry_after_seconds": retry_after_seconds })
            }
            _ => json!({}),
        };
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// How the messages name an admission-controlled resource.
fn unit(resource: &str) -> &'static str {
    match resource {
        "vcpu" => "vCPU",
        "memory_mb" => "MiB of memory",
        _ => "MiB of disk",
    }
}

impl From<sqlx::Error> for ApiError {
    /// A Postgres data exception (SQLSTATE class 22: a NUL byte, an over-long or malformed value) is
    /// the client's input that the edge let through: 400, logged so that the gap gets closed.
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::DatabaseUnavailable(e)
            }
            sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("22")) => {
                tracing::warn!(
                    error.code = d.code().as_deref(),
                    error.message = d.message(),
                    "a request value was refused by Postgres; it should be checked at the edge"
                );
                Self::InvalidRequest("A value in the request is not valid".into())
            }
            e => Self::Internal(e.into()),
        }
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::InsufficientCapacity(_) => Self::InsufficientCapacity,
            RuntimeError::Unavailable(_) => Self::RuntimeUnreachable,
            RuntimeError::NotFound(_) => Self::SandboxVanished,
            e => Self::Internal(e.into()),
        }
    }
}

/// Formats an error with its whole `source()` chain.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.envelope();
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited {
            retry_after_seconds,
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    /// Status, `Retry-After` and the envelope's `error` object of `e`'s response.
    async fn answer(e: ApiError) -> (u16, Option<String>, Value) {
        let response = e.into_response();
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        (status, retry, body["error"].clone())
    }

    #[tokio::test]
    async fn runtime_errors_map_to_their_own_status_and_code() {
        let (status, _, error) = answer(RuntimeError::NotFound("abc".into()).into()).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (409, Some("SANDBOX_VANISHED"))
        );
        let unavailable = RuntimeError::Unavailable("socket gone".into());
        let (status, _, error) = answer(unavailable.into()).await;
        assert_eq!(status, 503, "{error}");
        let (status, _, error) =
            answer(RuntimeError::InsufficientCapacity("x".into()).into()).await;
        assert_eq!(status, 503, "{error}");
    }

    #[tokio::test]
    async fn internal_causes_never_reach_the_client() {
        let failed = RuntimeError::Failed("secret path /var/lib/warren/state".into());
        let (status, _, error) = answer(failed.into()).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (500, Some("INTERNAL_ERROR"))
        );
        assert!(!error.to_string().contains("/var/lib"), "{error}");
        let (status, _, error) = answer(sqlx::Error::PoolTimedOut.into()).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (503, Some("SERVICE_UNAVAILABLE"))
        );
    }

    #[tokio::test]
    async fn refusals_carry_their_details_and_retry_after() {
        let limited = ApiError::RateLimited {
            retry_after_seconds: 7,
        };
        let (status, retry, error) = answer(limited).await;
        assert_eq!((status, retry.as_deref()), (429, Some("7")));
        assert_eq!(error["details"]["retry_after_seconds"], 7);
        let cap = ApiError::SandboxLimit {
            limit: 3,
            current: 5,
        };
        let (status, _, error) = answer(cap).await;
        assert_eq!(status, 403);
        assert_eq!(error["details"]["available"], 0, "never negative");
    }

    #[tokio::test]
    async fn snapshot_refusals_name_their_limit() {
        let quota = ApiError::SnapshotQuotaExceeded {
            limit: "size_mb",
            requested: 10,
            used: 95,
            quota: 100,
        };
        let (status, _, error) = answer(quota).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (403, Some("SNAPSHOT_QUOTA_EXCEEDED"))
        );
        assert_eq!(error["details"]["available"], 5);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("snapshots.org_quota_mb")
        );
        let (status, _, error) = answer(ApiError::ForkLimit {
            requested: 11,
            limit: 10,
        })
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("FORK_LIMIT_EXCEEDED"))
        );
        assert_eq!(error["details"]["limit"], 10);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("snapshots.max_fork_count")
        );
        let (status, _, error) = answer(ApiError::SnapshotNotFound).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (404, Some("SNAPSHOT_NOT_FOUND"))
        );
    }

    #[test]
    fn a_chain_names_every_cause() {
        let inner = std::io::Error::other("disk full");
        let outer = anyhow::Error::new(inner).context("writing the log");
        let e = ApiError::internal(outer);
        assert_eq!(chain(&e), "internal error: writing the log: disk full");
    }
}
