//! Shell commands: the agent's `/commands/run` (foreground, output when it ends) and
//! `/commands/background` (returns a process id; its output through `execute_list_processes`), and
//! the sandbox's system process list.

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
use crate::tools::code::{ListRuns, rich, truncate_list};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunCommand {
    /// Sandbox id.
    pub sandbox_id: String,
    /// A shell command line (run with `sh -c`).
    pub command: String,
    /// Seconds before it is killed (default 30; background 300).
    pub timeout: Option<u64>,
    /// Working directory (default /workspace).
    pub working_dir: Option<String>,
    /// Environment variables of this command.
    pub env: Option<BTreeMap<String, String>>,
    /// Name of a background command.
    pub name: Option<String>,
}

fn body(a: &RunCommand, default_timeout: u64) -> Value {
    let mut b = json!({"command": a.command, "timeout": a.timeout.unwrap_or(default_timeout)});
    if let Some(dir) = &a.working_dir {
        b["workdir"] = json!(dir);
    }
    if let Some(env) = &a.env {
        b["env"] = json!(env);
    }
    if let Some(name) = &a.name {
        b["name"] = json!(name);
    }
    b
}

#[tool_router(router = command_tools, vis = "pub(crate)")]
impl WarrenMcp {
    #[tool(
        description = "Run a shell command in a sandbox and wait for it: stdout, stderr, exit \
        code. A non-zero exit is an error result."
    )]
    async fn run_command(
        &self,
        Parameters(a): Parameters<RunCommand>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let b = body(&a, 30);
            let wait = Duration::from_secs(a.timeout.unwrap_or(30) + 30);
            Ok(
                match c
                    .agent_json(&a.sandbox_id, Method::POST, "/commands/run", Some(b), wait)
                    .await
                {
                    Ok(r) => rich(&r),
                    Err(e) => crate::server::failed(e),
                },
            )
        })
    }

    #[tool(
        description = "Start a shell command in the background (servers, long jobs); returns \
        its process_id. Its status and output: execute_list_processes or get_process_output."
    )]
    async fn run_command_background(
        &self,
        Parameters(a): Parameters<RunCommand>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let b = body(&a, 300);
            json_result(
                c.agent_json(
                    &a.sandbox_id,
                    Method::POST,
                    "/commands/background",
                    Some(b),
                    Duration::from_secs(60),
                )
                .await,
            )
        })
    }

    #[tool(description = "Every process running in the sandbox (pid, name, CPU, memory, command).")]
    async fn list_processes(
        &self,
        Parameters(a): Parameters<ListRuns>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let r = c
                .agent_json(
                    &a.sandbox_id,
                    Method::GET,
                    "/processes",
                    None,
                    Duration::from_secs(30),
                )
                .await;
            json_result(r.map(|v| truncate_list(v, "processes", a.max_results.unwrap_or(200))))
        })
    }
}
