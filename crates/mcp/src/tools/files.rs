//! Files of a sandbox: the agent's `/files/*`, acting as the sandbox user. Downloads come back as an
//! embedded resource (text, or a base64 blob for binary files), never as base64 inside text.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use rmcp::RoleServer;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::json;

use crate::api::encode;
use crate::resources::file_uri;
use crate::server::{ToolResult, WarrenMcp, failed, json_result, with_caller};
use crate::tools::code::truncate_list;

const FILE_CALL: Duration = Duration::from_secs(120);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FilePath {
    /// Sandbox id.
    pub sandbox_id: String,
    /// Path in the sandbox (relative paths are under /workspace).
    pub path: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FileWrite {
    /// Sandbox id.
    pub sandbox_id: String,
    /// Destination path (parent directories are created).
    pub path: String,
    /// The file's text.
    pub content: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FileUpload {
    /// Sandbox id.
    pub sandbox_id: String,
    /// Destination path (parent directories are created).
    pub path: String,
    /// The file's bytes, base64.
    pub content_base64: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FileList {
    /// Sandbox id.
    pub sandbox_id: String,
    /// Directory (default /workspace).
    pub path: Option<String>,
    /// Most entries to return (default 1000).
    pub max_results: Option<usize>,
}

/// A MIME type by file extension, for downloads.
pub(crate) fn mime_of(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

/// Bytes as resource contents: text when they are UTF-8, else a base64 blob.
pub(crate) fn contents(uri: String, path: &str, bytes: Vec<u8>) -> ResourceContents {
    match String::from_utf8(bytes) {
        Ok(text) => ResourceContents::TextResourceContents {
            uri,
            mime_type: Some(
                match mime_of(path) {
                    "application/octet-stream" => "text/plain",
                    m => m,
                }
                .to_owned(),
            ),
            text,
            meta: None,
        },
        Err(e) => ResourceContents::BlobResourceContents {
            uri,
            mime_type: Some(mime_of(path).to_owned()),
            blob: base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            meta: None,
        },
    }
}

#[tool_router(router = file_tools, vis = "pub(crate)")]
impl WarrenMcp {
    #[tool(description = "Read a text file from a sandbox.")]
    async fn file_read(
        &self,
        Parameters(a): Parameters<FilePath>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/files/read?path={}", encode(&a.path));
            Ok(
                match c
                    .agent_json(&a.sandbox_id, Method::GET, &path, None, FILE_CALL)
                    .await
                {
                    Ok(v) => CallToolResult::success(vec![ContentBlock::text(
                        v["content"].as_str().unwrap_or_default(),
                    )]),
                    Err(e) => failed(e),
                },
            )
        })
    }

    #[tool(description = "Write a text file in a sandbox (replaces it if it exists).")]
    async fn file_write(
        &self,
        Parameters(a): Parameters<FileWrite>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let body = json!({"path": a.path, "content": a.content});
            json_result(
                c.agent_json(
                    &a.sandbox_id,
                    Method::POST,
                    "/files/write",
                    Some(body),
                    FILE_CALL,
                )
                .await,
            )
        })
    }

    #[tool(description = "Write a binary file in a sandbox from base64 content.")]
    async fn file_upload(
        &self,
        Parameters(a): Parameters<FileUpload>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let body = json!({"path": a.path, "content": a.content_base64, "encoding": "base64"});
            json_result(
                c.agent_json(
                    &a.sandbox_id,
                    Method::POST,
                    "/files/write",
                    Some(body),
                    FILE_CALL,
                )
                .await,
            )
        })
    }

    #[tool(
        description = "Download a file from a sandbox as an embedded resource (text, or a \
        binary blob such as an image)."
    )]
    async fn file_download(
        &self,
        Parameters(a): Parameters<FilePath>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/files/download?path={}", encode(&a.path));
            Ok(match c.agent_bytes(&a.sandbox_id, &path, FILE_CALL).await {
                Ok(bytes) => {
                    let uri = file_uri(&a.sandbox_id, &a.path);
                    CallToolResult::success(vec![ContentBlock::resource(contents(
                        uri, &a.path, bytes,
                    ))])
                }
                Err(e) => failed(e),
            })
        })
    }

    #[tool(description = "List a directory of a sandbox (name, size, type, modified time).")]
    async fn file_list(
        &self,
        Parameters(a): Parameters<FileList>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let dir = a.path.as_deref().unwrap_or("/workspace");
            let path = format!("/files/list?path={}", encode(dir));
            let r = c
                .agent_json(&a.sandbox_id, Method::GET, &path, None, FILE_CALL)
                .await;
            json_result(r.map(|v| {
                let mut out = truncate_list(v, "files", a.max_results.unwrap_or(1000));
                out["path"] = json!(dir);
                out
            }))
        })
    }

    #[tool(description = "Whether a path exists in a sandbox.")]
    async fn file_exists(
        &self,
        Parameters(a): Parameters<FilePath>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/files/exists?path={}", encode(&a.path));
            json_result(
                c.agent_json(&a.sandbox_id, Method::GET, &path, None, FILE_CALL)
                    .await,
            )
        })
    }

    #[tool(description = "Remove a file or directory (recursively) from a sandbox.")]
    async fn file_remove(
        &self,
        Parameters(a): Parameters<FilePath>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/files/remove?path={}", encode(&a.path));
            json_result(
                c.agent_json(&a.sandbox_id, Method::DELETE, &path, None, FILE_CALL)
                    .await,
            )
        })
    }

    #[tool(description = "Create a directory (and its parents) in a sandbox.")]
    async fn file_mkdir(
        &self,
        Parameters(a): Parameters<FilePath>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let body = json!({"path": a.path});
            json_result(
                c.agent_json(
                    &a.sandbox_id,
                    Method::POST,
                    "/files/mkdir",
                    Some(body),
                    FILE_CALL,
                )
                .await,
            )
        })
    }
}
