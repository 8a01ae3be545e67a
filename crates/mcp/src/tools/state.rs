//! State beyond a sandbox (docs/snapshots.md, docs/volumes.md): snapshots, forks, volumes.

use reqwest::Method;
use rmcp::RoleServer;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::json;

use crate::api::encode;
use crate::server::{ToolResult, WarrenMcp, json_result, with_caller};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TakeSnapshot {
    /// Sandbox id.
    pub sandbox_id: String,
    /// A label for the snapshot (optional).
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SnapshotId {
    /// Snapshot id (from create_snapshot or list_snapshots).
    pub snapshot_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Fork {
    /// Sandbox id.
    pub sandbox_id: String,
    /// How many copies to make (default 1).
    pub count: Option<u32>,
}

#[tool_router(router = state_tools, vis = "pub(crate)")]
impl WarrenMcp {
    #[tool(
        description = "Snapshot a sandbox's files (filesystem only: memory and processes are not \
        kept). fork_sandbox makes new sandboxes from a sandbox's files in one call."
    )]
    async fn create_snapshot(
        &self,
        Parameters(a): Parameters<TakeSnapshot>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/v1/sandboxes/{}/snapshots", encode(&a.sandbox_id));
            let body = a.name.map_or_else(|| json!({}), |n| json!({ "name": n }));
            json_result(c.control(Method::POST, &path, Some(body)).await)
        })
    }

    #[tool(description = "List this organization's snapshots, with the quota used.")]
    async fn list_snapshots(&self, ctx: RequestContext<RoleServer>) -> ToolResult {
        with_caller!(self, ctx, |c| json_result(
            c.control(Method::GET, "/v1/snapshots", None).await
        ))
    }

    #[tool(description = "Delete a snapshot (sandboxes made from it keep their files).")]
    async fn delete_snapshot(
        &self,
        Parameters(a): Parameters<SnapshotId>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/v1/snapshots/{}", encode(&a.snapshot_id));
            json_result(c.control(Method::DELETE, &path, None).await)
        })
    }

    #[tool(
        description = "Fork a sandbox into `count` new ones with copies of its files; one result \
        (a new sandbox with its id) or error per fork."
    )]
    async fn fork_sandbox(
        &self,
        Parameters(a): Parameters<Fork>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/v1/sandboxes/{}/fork", encode(&a.sandbox_id));
            let body = json!({ "count": a.count.unwrap_or(1) });
            json_result(c.control(Method::POST, &path, Some(body)).await)
        })
    }

    #[tool(description = "List this organization's volumes (name, size, quota).")]
    async fn list_volumes(&self, ctx: RequestContext<RoleServer>) -> ToolResult {
        with_caller!(self, ctx, |c| json_result(
            c.control(Method::GET, "/v1/volumes", None).await
        ))
    }
}
