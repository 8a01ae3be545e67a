//! Agent (data-plane) API types, CONTRACT.md §3, WebSocket frames included.
//!
//! Requests accept every spelling an SDK or the docs use (`workdir`/`working_dir`, `command`+`args` or a
//! shell string); responses emit every spelling a client reads (`is_directory`+`is_dir`, …).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Environment variables as they travel on the wire.
pub type EnvMap = BTreeMap<String, String>;

/// `POST /execute`, `/execute/background`, `/execute/async`, and the first frame of `/execute/stream`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecuteRequest {
    pub code: String,
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(
        default,
        alias = "working_dir",
        skip_serializing_if = "Option::is_none"
    )]
    pub workdir: Option<String>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvMap>,
    /// Background runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `/execute/async` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_signature_secret: Option<String>,
}

fn default_language() -> String {
    "python".to_owned()
}

/// Result of a finished execution (`POST /execute`, `POST /execute/ipython`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecuteResponse {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    /// Seconds.
    pub execution_time: f64,
    pub language: String,
    pub timestamp: String,
    /// Set when stdout or stderr was cut at the configured cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub png: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataframe: Option<Value>,
    /// Text form of the last expression's value (JS adds it as `text/plain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// `POST /commands/run`, `/commands/background`, and the first frame of `/commands/stream`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub command: String,
    /// When present, `command` is executed directly with these arguments; otherwise through `/bin/sh -c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(
        default,
        alias = "working_dir",
        skip_serializing_if = "Option::is_none"
    )]
    pub workdir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Result of `POST /commands/run`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandResponse {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    pub execution_time: f64,
    pub command: String,
    pub pid: u32,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// Answer of `/execute/background` and `/commands/background`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackgroundResponse {
    pub process_id: String,
    pub execution_id: String,
    pub status: ProcessStatus,
    pub start_time: String,
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub message: String,
}

/// Answer of `/execute/async`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsyncResponse {
    pub execution_id: String,
    pub status: String,
    pub callback_url: String,
    pub message: String,
    pub timestamp: String,
}

/// The body POSTed to an `/execute/async` callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub execution_id: String,
    /// `completed`, `failed` or `timeout`.
    pub status: String,
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    pub execution_time: f64,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Lifecycle of a background process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Killed,
    Timeout,
}

/// One background process in `GET /execute/processes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub process_id: String,
    pub execution_id: String,
    pub name: Option<String>,
    pub status: ProcessStatus,
    pub language: String,
    pub pid: u32,
    pub start_time: String,
    pub started_at: String,
    pub end_time: Option<String>,
    pub completed_at: Option<String>,
    pub exit_code: Option<i32>,
    pub duration: Option<f64>,
    pub execution_time: Option<f64>,
    pub stdout: String,
    pub stderr: String,
}

/// One process of the sandbox in the system list (`GET /processes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemProcess {
    pub pid: u32,
    pub name: String,
    pub status: String,
    pub cpu_percent: f64,
    pub memory_mb: f64,
    pub command: String,
}

/// `POST /files/write`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileWriteRequest {
    pub path: String,
    pub content: String,
    /// Octal permission string, e.g. `"0644"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `"base64"` when `content` is base64 of the bytes to write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrite: Option<bool>,
}

/// `POST /files/mkdir`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathRequest {
    pub path: String,
}

/// One entry of `GET /files/list`, with both field spellings the SDKs read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub path: String,
    pub size: u64,
    pub is_directory: bool,
    pub is_dir: bool,
    /// `rwxr-xr-x` form.
    pub permissions: String,
    /// Octal form, e.g. `"0644"`.
    pub mode: String,
    pub modified_time: String,
    pub modified: String,
}

/// `GET /files/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileList {
    pub files: Vec<FileEntry>,
    pub path: String,
    pub count: usize,
}

/// `GET/PUT/PATCH /env` bodies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvBody {
    #[serde(default)]
    pub env_vars: EnvMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<bool>,
}

/// Frames the server sends on `/execute/stream` and `/commands/stream`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StreamFrame {
    Stdout {
        data: String,
        timestamp: String,
    },
    Stderr {
        data: String,
        timestamp: String,
    },
    Result {
        exit_code: i32,
        execution_time: f64,
        timestamp: String,
    },
    Error {
        error: String,
        code: String,
        timestamp: String,
    },
    Complete {
        success: bool,
    },
}

/// What the client sends first on `/files/watch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchRequest {
    pub action: String,
    pub path: String,
}

/// A change reported on `/files/watch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchEvent {
    /// Always `"change"`.
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    /// `created`, `modified`, `deleted` or `renamed`.
    pub event: String,
    pub timestamp: String,
}

/// Client → server frames on `/terminal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TerminalInput {
    Input { data: String },
    Resize { cols: u16, rows: u16 },
}

/// Server → client frames on `/terminal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TerminalOutput {
    Output { data: String },
    Error { error: String, code: String },
    Exit { code: i32 },
}

/// The port inside a desktop sandbox where the agent serves the browser viewer (noVNC) and its
/// RFB-over-WebSocket bridge. The router always asks a preview token for it (docs/desktop.md).
pub const DESKTOP_VIEWER_PORT: u16 = 6080;

/// The warm-pool configure step (`POST /_warren/configure`, see `docs/agent.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigureRequest {
    pub sandbox_id: String,
    /// Hex of the sandbox's 32-byte token key.
    pub token_key: String,
    #[serde(default)]
    pub env_vars: EnvMap,
    /// The public URL of the sandbox's desktop viewer port ([`DESKTOP_VIEWER_PORT`]), as
    /// `WARREN_AGENT_VIEWER_BASE` gives it at a cold create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer_base: Option<String>,
    /// The sandbox's preview epoch, as `WARREN_AGENT_PREVIEW_EPOCH` gives it at a cold create
    /// (absent, as in claims saved by an older Warren: 0).
    #[serde(default)]
    pub preview_epoch: i64,
}

/// `GET /_warren/activity`: the work in a sandbox, as the idle pauser asks before an auto-pause
/// (docs/auto-pause.md). The idle Python kernel and the desktop's own programs are not work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Whether anything below is under way.
    pub busy: bool,
    /// Requests running code or commands now.
    pub executions: usize,
    /// Background executions and commands still running.
    pub background: usize,
    /// Open WebSocket streams (terminals, streamed executions, watches).
    pub streams: usize,
    /// TCP ports user code listens on beyond loopback (what a preview reaches).
    pub listening: Vec<u16>,
}

/// The key push after a token key rotation (`POST /_warren/keys`, see `docs/agent.md`), authorized by
/// a key-push token signed with a key the agent accepts. Debug leaves the key out.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyPushRequest {
    /// Hex of the new 32-byte token key.
    pub token_key: String,
    /// Until when (unix seconds) the key that signed the push keeps verifying; absent: not at all.
    #[serde(default)]
    pub previous_valid_until: Option<i64>,
    /// The sandbox's preview epoch now, which the desktop viewer's links are signed with; a push of
    /// the agent's current key with a new epoch follows a revocation of the preview links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_epoch: Option<i64>,
}

impl std::fmt::Debug for KeyPushRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPushRequest")
            .field("previous_valid_until", &self.previous_valid_until)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_request_accepts_both_workdir_spellings() {
        let a: ExecuteRequest =
            serde_json::from_str(r#"{"code":"1","language":"python","workdir":"/w"}"#).unwrap();
        let b: ExecuteRequest =
            serde_json::from_str(r#"{"code":"1","language":"python","working_dir":"/w"}"#).unwrap();
        assert_eq!(a.workdir.as_deref(), Some("/w"));
        assert_eq!(a, b);
    }

    #[test]
    fn configure_request_viewer_fields_round_trip_and_default() {
        let full = ConfigureRequest {
            sandbox_id: "abc".into(),
            token_key: "00".into(),
            env_vars: EnvMap::new(),
            viewer_base: Some("http://6080-abc.sandbox.localhost:8080".into()),
            preview_epoch: 3,
        };
        let json = serde_json::to_string(&full).unwrap();
        assert_eq!(
            serde_json::from_str::<ConfigureRequest>(&json).unwrap(),
            full
        );
        // As an older control plane sends it, or an older claim file holds it.
        let old: ConfigureRequest =
            serde_json::from_str(r#"{"sandbox_id":"abc","token_key":"00"}"#).unwrap();
        assert_eq!((old.viewer_base, old.preview_epoch), (None, 0));
        let none = ConfigureRequest {
            viewer_base: None,
            ..full
        };
        assert!(
            !serde_json::to_string(&none)
                .unwrap()
                .contains("viewer_base")
        );
    }

    #[test]
    fn stream_frames_are_tagged() {
        let f = StreamFrame::Complete { success: true };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"type":"complete","success":true}"#
        );
        let t: TerminalInput =
            serde_json::from_str(r#"{"type":"resize","cols":80,"rows":24}"#).unwrap();
        assert_eq!(t, TerminalInput::Resize { cols: 80, rows: 24 });
        let e = TerminalOutput::Exit { code: 3 };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"exit","code":3}"#
        );
    }
}
