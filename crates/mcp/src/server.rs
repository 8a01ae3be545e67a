//! [`WarrenMcp`]: the MCP server handler. Its tools live in `tools/` (one file per area, each its own
//! `#[tool_router]`, summed in [`WarrenMcp::new`]); the prompt in `prompts.rs`, the sandbox files as
//! resources in `resources.rs`.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};
use serde_json::Value;

use crate::api::{Api, ApiFailure, ApiResult, Caller};
use crate::{prompts, resources};

/// What every tool answers.
pub type ToolResult = Result<CallToolResult, ErrorData>;

/// The MCP server of one Warren: every tool call goes to Warren's API at [`Api::base`] with the
/// caller's key.
#[derive(Clone)]
pub struct WarrenMcp {
    pub(crate) api: Api,
    /// The key of every call (`warren mcp` over stdio); `None`: the key of each HTTP request.
    key: Option<String>,
    tool_router: ToolRouter<Self>,
}

impl WarrenMcp {
    /// A server whose tools call `api`. With `key`, every call uses it; without, each call uses the
    /// key its HTTP request presented (`X-API-Key`, else `Authorization: Bearer`).
    pub fn new(api: Api, key: Option<String>) -> Self {
        let tool_router = Self::sandbox_tools()
            + Self::code_tools()
            + Self::command_tools()
            + Self::file_tools()
            + Self::system_tools()
            + Self::desktop_tools()
            + Self::state_tools();
        Self {
            api,
            key,
            tool_router,
        }
    }

    /// The caller of this request: the fixed key, else the HTTP request's.
    pub(crate) fn caller(&self, ctx: &RequestContext<RoleServer>) -> ApiResult<Caller<'_>> {
        if let Some(key) = &self.key {
            return Ok(self.api.with_key(key));
        }
        ctx.extensions
            .get::<http::request::Parts>()
            .and_then(|parts| api_keys::presented(&parts.headers))
            .map(|key| self.api.with_key(key))
            .ok_or_else(|| ApiFailure("No API key on this request".to_owned()))
    }
}

/// A JSON answer as the tool's text, or its failure as an `isError` result.
pub(crate) fn json_result(answer: ApiResult<Value>) -> ToolResult {
    Ok(match answer {
        Ok(v) => CallToolResult::success(vec![ContentBlock::text(pretty(&v))]),
        Err(e) => failed(e),
    })
}

pub(crate) fn failed(e: ApiFailure) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(e.0)])
}

pub(crate) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Runs `body` with the caller of `ctx`; a missing key is a failed tool result.
macro_rules! with_caller {
    ($self:ident, $ctx:ident, |$caller:ident| $body:expr) => {
        match $self.caller(&$ctx) {
            Ok($caller) => $body,
            Err(e) => Ok($crate::server::failed(e)),
        }
    };
}
pub(crate) use with_caller;

const INSTRUCTIONS: &str = "Warren runs code in isolated sandboxes (containers) through the Hopx \
API. Create one with create_sandbox (template 'code-interpreter' for Python with numpy, pandas and \
matplotlib; list_templates shows the others, 'desktop' has a screen), then run code in it with \
execute_code (Python state is kept between calls; charts come back as images), commands with \
run_command, and files with file_read/file_write/file_list. Kill it with kill_sandbox when done. \
For a one-off snippet, execute_code with mode 'isolated' creates, runs and kills a sandbox. The \
prompt 'sandbox_guide' explains every tool.";

#[tool_handler(router = self.tool_router)]
impl ServerHandler for WarrenMcp {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .build();
        ServerConfig::new(capabilities).with_instructions(INSTRUCTIONS)
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(prompts::list())
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        prompts::get(&request.name)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        resources::list(self, &ctx).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(self, &request.uri, &ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tool of hopx-mcp 0.2.1 under its own name, so prompts written for it work here.
    const HOPX_MCP_TOOLS: [&str; 35] = [
        "health",
        "list_sandboxes",
        "create_sandbox",
        "get_sandbox",
        "delete_sandbox",
        "update_sandbox_timeout",
        "resume_sandbox",
        "list_templates",
        "get_template",
        "ping_vm",
        "get_vm_info",
        "get_preview_url",
        "get_agent_url",
        "execute_code",
        "execute_code_persistent",
        "execute_code_rich",
        "execute_code_background",
        "execute_code_isolated",
        "execute_list_processes",
        "execute_kill_process",
        "run_command",
        "run_command_background",
        "list_processes",
        "file_read",
        "file_write",
        "file_list",
        "file_exists",
        "file_remove",
        "file_mkdir",
        "get_system_metrics",
        "env_get",
        "env_set",
        "env_clear",
        "cache_clear",
        "cache_stats",
    ];

    #[test]
    fn has_every_hopx_mcp_tool_and_warrens() {
        let server = WarrenMcp::new(Api::new("http://127.0.0.1:1"), None);
        let names: Vec<String> = server
            .tool_router
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        for name in HOPX_MCP_TOOLS.iter().chain(&[
            "kill_sandbox",
            "pause_sandbox",
            "get_process_output",
            "file_upload",
            "file_download",
            "desktop_screenshot",
            "desktop_click",
            "desktop_type",
            "desktop_key_press",
            "create_snapshot",
            "list_snapshots",
            "delete_snapshot",
            "fork_sandbox",
            "list_volumes",
        ]) {
            assert!(names.iter().any(|n| n == name), "{name} missing");
        }
        // Every tool describes itself and its arguments.
        for tool in server.tool_router.list_all() {
            assert!(
                tool.description.is_some_and(|d| !d.is_empty()),
                "{}",
                tool.name
            );
        }
    }
}
