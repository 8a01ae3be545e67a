//! The sandbox's agent: liveness, information, metrics, environment variables and the toolchain
//! cache (hopx-mcp's `ping_vm`, `get_vm_info`, `get_system_metrics`, `env_*`, `cache_*`).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use rmcp::RoleServer;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::{ToolResult, WarrenMcp, json_result, with_caller};
use crate::tools::sandboxes::OnSandbox;

const CALL: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EnvSet {
    /// Sandbox id.
    pub sandbox_id: String,
    /// Variables to set.
    pub env_vars: BTreeMap<String, String>,
    /// true (default): merge with the existing variables; false: replace them all.
    pub merge: Option<bool>,
}

impl WarrenMcp {
    async fn agent_get(
        &self,
        ctx: &RequestContext<RoleServer>,
        id: &str,
        path: &str,
    ) -> ToolResult {
        match self.caller(ctx) {
            Ok(c) => json_result(c.agent_json(id, Method::GET, path, None, CALL).await),
            Err(e) => Ok(crate::server::failed(e)),
        }
    }
}

#[tool_router(router = system_tools, vis = "pub(crate)")]
impl WarrenMcp {
    #[tool(description = "Quick liveness check of a sandbox's agent (version, uptime).")]
    async fn ping_vm(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let r = c
                .agent_json(&a.sandbox_id, Method::GET, "/info", None, CALL)
                .await;
            json_result(r.map(|i: Value| {
                json!({
                    "status": "ok",
                    "agent_version": i.get("agent_version").or(i.get("version")),
                    "agent": i.get("agent"),
                    "features": i.get("features"),
                    "uptime": i.get("uptime"),
                })
            }))
        })
    }

    #[tool(description = "The sandbox agent's version, features, languages and endpoints.")]
    async fn get_vm_info(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        self.agent_get(&ctx, &a.sandbox_id, "/info").await
    }

    #[tool(description = "The sandbox's CPU, memory and disk use.")]
    async fn get_system_metrics(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        self.agent_get(&ctx, &a.sandbox_id, "/metrics/snapshot")
            .await
    }

    #[tool(description = "The sandbox's global environment variables.")]
    async fn env_get(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        self.agent_get(&ctx, &a.sandbox_id, "/env").await
    }

    #[tool(
        description = "Set the sandbox's global environment variables (every later run sees them)."
    )]
    async fn env_set(
        &self,
        Parameters(a): Parameters<EnvSet>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let merge = a.merge.unwrap_or(true);
            let method = if merge { Method::PATCH } else { Method::PUT };
            let body = json!({"env_vars": a.env_vars});
            let r = c
                .agent_json(&a.sandbox_id, method, "/env", Some(body), CALL)
                .await;
            json_result(r.map(|_| {
                json!({
                    "status": "success",
                    "variables_set": a.env_vars.keys().collect::<Vec<_>>(),
                    "merge_mode": merge,
                })
            }))
        })
    }

    #[tool(description = "Remove the sandbox's global environment variables.")]
    async fn env_clear(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let r = c
                .agent_json(&a.sandbox_id, Method::DELETE, "/env", None, CALL)
                .await;
            json_result(r.map(|_| json!({"status": "cleared"})))
        })
    }

    #[tool(description = "Clear the sandbox agent's cache of probed toolchains.")]
    async fn cache_clear(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            json_result(
                c.agent_json(&a.sandbox_id, Method::POST, "/cache/clear", None, CALL)
                    .await,
            )
        })
    }

    #[tool(description = "Statistics of the sandbox agent's cache.")]
    async fn cache_stats(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        self.agent_get(&ctx, &a.sandbox_id, "/cache/stats").await
    }
}
