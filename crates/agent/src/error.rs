//! The agent's one error type and its mapping to the wire envelope (CONTRACT.md §1.6): `error` a string,
//! `code` UPPER_SNAKE, `details` an object. Internal causes are logged here and never returned.

use api_types::error::AgentErrorBody;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::io;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Map<String, Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<desktop::DesktopError> for ApiError {
    fn from(e: desktop::DesktopError) -> Self {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(code = e.code, message = %e.message, "desktop operation failed");
        }
        Self {
            status,
            code: e.code,
            message: e.message,
            details: e.details,
        }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    pub fn missing(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MISSING_PARAMETER",
            format!("Missing required parameter: {field}"),
        )
        .with_detail("parameter", field)
    }

    pub fn token_invalid() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "TOKEN_INVALID",
            "Invalid or missing token",
        )
    }

    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "FILE_NOT_FOUND",
            format!("File not found: {path}"),
        )
        .with_detail("path", path)
    }

    pub fn process_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "PROCESS_NOT_FOUND",
            format!("Process not found: {id}"),
        )
        .with_detail("process_id", id)
    }

    /// An unexpected failure: the cause is logged, the client sees a generic message.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error.context = context, error.cause = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            format!("Internal error while trying to {context}"),
        )
    }

    /// 403 `PATH_NOT_ALLOWED`: a place the files API never touches (kernel interfaces, the agent's).
    pub fn path_not_allowed(path: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "PATH_NOT_ALLOWED",
            format!("Path not allowed: {path}"),
        )
        .with_detail("path", path)
    }

    /// 400 `INVALID_PATH`, saying why.
    pub fn invalid_path(path: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PATH",
            format!("Invalid path {path}: {why}"),
        )
        .with_detail("path", path)
    }

    /// Maps a failure to start `program` (fork or exec in the child, before any user code ran).
    pub fn from_spawn(err: &io::Error, program: &str) -> Self {
        let failed = |message: String| {
            Self::new(StatusCode::BAD_REQUEST, "COMMAND_FAILED", message)
                .with_detail("command", program)
        };
        match err.raw_os_error() {
            Some(libc::ENOENT) => failed(format!("Command not found: {program}")),
            Some(libc::EACCES | libc::EPERM) => {
                failed(format!("Permission denied to run {program}"))
            }
            Some(libc::ENOEXEC) => failed(format!("Not an executable: {program}")),
            Some(libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG) => {
                failed(format!("Invalid command path: {program}"))
            }
            Some(libc::E2BIG) => Self::new(
                StatusCode::BAD_REQUEST,
                "ARGUMENT_TOO_LONG",
                "The command's arguments or environment are over the kernel's limit (128 KiB per \
                 argument or variable); pass long input in a file or on stdin",
            )
            .with_detail("command", program),
            // The user processes' pids or memory limit is reached (a fork bomb, say): the caller may
            // retry once processes have ended (`POST /processes/kill-all` ends them all).
            Some(libc::EAGAIN | libc::ENOMEM) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "RESOURCE_EXHAUSTED",
                "User processes are at their process or memory limit; try again when processes \
                 have ended",
            ),
            _ if err.kind() == io::ErrorKind::InvalidInput => {
                Self::bad_request(format!("Invalid command: {err}"))
            }
            _ => Self::internal("start a process", format!("{program}: {err}")),
        }
    }

    /// Maps a filesystem error on `path` to the contract's file codes. Everything a client can cause
    /// is a 4xx; a full disk is 507 (the sandbox's own disk, not the agent, is at fault), and only
    /// what no request can cause (EIO, EBADF, …) is a 500.
    pub fn from_io(err: &io::Error, path: &str) -> Self {
        let forbidden = |why: &str| {
            Self::new(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                format!("{why}: {path}"),
            )
            .with_detail("path", path)
        };
        let conflict = |why: &str| {
            Self::new(
                StatusCode::CONFLICT,
                "FILE_ALREADY_EXISTS",
                format!("{why}: {path}"),
            )
            .with_detail("path", path)
        };
        let Some(errno) = err.raw_os_error() else {
            return match err.kind() {
                io::ErrorKind::NotFound => Self::not_found(path),
                io::ErrorKind::PermissionDenied => forbidden("Permission denied"),
                io::ErrorKind::AlreadyExists => conflict("File already exists"),
                _ => Self::internal("access a file", format!("{path}: {err}"))
                    .with_detail("path", path),
            };
        };
        match errno {
            libc::ENOENT => Self::not_found(path),
            libc::EACCES | libc::EPERM => forbidden("Permission denied"),
            libc::EROFS => forbidden("Read-only file system"),
            libc::EEXIST => conflict("File already exists"),
            libc::ENOTEMPTY => conflict("Directory not empty"),
            libc::ENOTDIR => Self::invalid_path(path, "a component is not a directory"),
            libc::EISDIR => Self::invalid_path(path, "it is a directory"),
            libc::ENAMETOOLONG => Self::invalid_path(path, "a name is too long"),
            libc::ELOOP => Self::invalid_path(path, "too many levels of symbolic links"),
            libc::EXDEV => Self::invalid_path(path, "it crosses filesystems"),
            libc::ENXIO | libc::ENODEV => Self::invalid_path(path, "no device or reader behind it"),
            libc::ETXTBSY | libc::EBUSY => Self::invalid_path(path, "it is busy"),
            libc::EMLINK => Self::invalid_path(path, "too many links"),
            libc::EINVAL => Self::invalid_path(path, "invalid argument"),
            libc::EFBIG => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "FILE_TOO_LARGE",
                format!("File too large: {path}"),
            )
            .with_detail("path", path),
            libc::ENOSPC | libc::EDQUOT => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "DISK_FULL",
                format!("No space left on device while writing {path}"),
            )
            .with_detail("path", path),
            libc::EMFILE | libc::ENFILE | libc::ENOMEM => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "RESOURCE_EXHAUSTED",
                format!("Out of file descriptors or memory while opening {path}"),
            )
            .with_detail("path", path),
            _ => {
                Self::internal("access a file", format!("{path}: {err}")).with_detail("path", path)
            }
        }
    }

    /// The wire body, stamped with the request id.
    pub fn body(&self, request_id: Option<String>) -> AgentErrorBody {
        AgentErrorBody {
            error: self.message.clone(),
            message: self.message.clone(),
            code: self.code.to_owned(),
            path: self
                .details
                .get("path")
                .and_then(Value::as_str)
                .map(str::to_owned),
            details: self.details.clone(),
            request_id,
            timestamp: crate::util::now_ts(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = self.code, message = %self.message, "request refused");
        }
        let request_id = crate::http::request_id::current();
        let body = serde_json::to_vec(&self.body(request_id)).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    }
}
