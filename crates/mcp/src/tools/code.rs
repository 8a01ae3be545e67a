//! Code execution: the agent's `/execute` (Python on the sandbox's stateful kernel; other languages
//! as processes) and `/execute/background`, with hopx-mcp's tool names and modes. Rich results come
//! back as MCP content: a PNG as image content, HTML as an embedded resource, never base64 in text.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use rmcp::RoleServer;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiFailure, Caller};
use crate::server::{ToolResult, WarrenMcp, failed, json_result, pretty, with_caller};
use crate::tools::sandboxes::{CreateSandbox, create, kill};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ExecuteCode {
    /// The code to run.
    pub code: String,
    /// "persistent" (default with a sandbox_id: run in that sandbox, Python state kept), "rich"
    /// (the same; charts come back as images), "background" (start and return at once), or
    /// "isolated" (default without a sandbox_id: a new sandbox, run, kill it).
    pub mode: Option<String>,
    /// Sandbox id (all modes but "isolated").
    pub sandbox_id: Option<String>,
    /// "python" (default), "bash", "javascript", "go".
    pub language: Option<String>,
    /// Seconds before the run is killed (default 30; background 300).
    pub timeout: Option<u64>,
    /// Environment variables of this run.
    pub env: Option<BTreeMap<String, String>>,
    /// Working directory (default /workspace).
    pub working_dir: Option<String>,
    /// Name of a background run.
    pub name: Option<String>,
    /// Template of the isolated mode's sandbox (default "code-interpreter").
    pub template_name: Option<String>,
    /// Region of the isolated mode's sandbox.
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunInSandbox {
    /// Sandbox id.
    pub sandbox_id: String,
    /// The code to run.
    pub code: String,
    /// "python" (default), "bash", "javascript", "go".
    pub language: Option<String>,
    /// Seconds before the run is killed (default 30; background 300).
    pub timeout: Option<u64>,
    /// Environment variables of this run.
    pub env: Option<BTreeMap<String, String>>,
    /// Working directory (default /workspace).
    pub working_dir: Option<String>,
    /// Name of a background run.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunIsolated {
    /// The code to run.
    pub code: String,
    /// "python" (default), "bash", "javascript", "go".
    pub language: Option<String>,
    /// Seconds before the run is killed (default 30).
    pub timeout: Option<u64>,
    /// Environment variables of this run.
    pub env: Option<BTreeMap<String, String>>,
    /// Template of the sandbox (default "code-interpreter").
    pub template_name: Option<String>,
    /// Region of the sandbox.
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListRuns {
    /// Sandbox id.
    pub sandbox_id: String,
    /// Most processes to return (default 100).
    pub max_results: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ProcessRef {
    /// Sandbox id.
    pub sandbox_id: String,
    /// Process id (from execute_code_background or run_command_background).
    pub process_id: String,
}

fn body(
    code: &str,
    language: Option<&str>,
    timeout: u64,
    env: Option<&BTreeMap<String, String>>,
    dir: Option<&str>,
    name: Option<&str>,
) -> Value {
    let mut b = json!({"code": code, "language": language.unwrap_or("python"), "timeout": timeout});
    if let Some(env) = env {
        b["env"] = json!(env);
    }
    if let Some(dir) = dir {
        b["workdir"] = json!(dir);
    }
    if let Some(name) = name {
        b["name"] = json!(name);
    }
    b
}

/// Runs `body` on sandbox `id`'s agent; the result as MCP content.
async fn run(caller: &Caller<'_>, id: &str, body: Value) -> CallToolResult {
    let timeout = body["timeout"].as_u64().unwrap_or(30);
    let wait = Duration::from_secs(timeout + 30);
    match caller
        .agent_json(id, Method::POST, "/execute", Some(body), wait)
        .await
    {
        Ok(r) => rich(&r),
        Err(e) => failed(e),
    }
}

/// An execution's answer as content: the text fields as JSON, then each rich output as its own
/// block (PNG as image content, HTML as an embedded `text/html` resource). A failed run (an
/// exception, a non-zero exit, a timeout) is an `isError` result with the same content.
pub(crate) fn rich(r: &Value) -> CallToolResult {
    let mut text = serde_json::Map::new();
    for k in [
        "success",
        "stdout",
        "stderr",
        "exit_code",
        "error",
        "result",
        "execution_time",
        "truncated",
    ] {
        if let Some(v) = r.get(k).filter(|v| !v.is_null()) {
            text.insert(k.to_owned(), v.clone());
        }
    }
    let mut content = vec![ContentBlock::text(pretty(&Value::Object(text)))];
    if let Some(png) = r.get("png").and_then(Value::as_str) {
        content.push(ContentBlock::image(png, "image/png"));
    }
    if let Some(html) = r.get("html").and_then(Value::as_str) {
        content.push(ContentBlock::resource(
            ResourceContents::TextResourceContents {
                uri: "warren://execution/result.html".to_owned(),
                mime_type: Some("text/html".to_owned()),
                text: html.to_owned(),
                meta: None,
            },
        ));
    }
    if r.get("success").and_then(Value::as_bool) == Some(false) {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    }
}

async fn background(caller: &Caller<'_>, id: &str, body: Value) -> ToolResult {
    let r = caller
        .agent_json(
            id,
            Method::POST,
            "/execute/background",
            Some(body),
            Duration::from_secs(60),
        )
        .await;
    json_result(r)
}

async fn isolated(caller: &Caller<'_>, a: RunIsolated) -> CallToolResult {
    let create_args = CreateSandbox {
        template_id: a
            .template_name
            .unwrap_or_else(|| "code-interpreter".to_owned()),
        region: a.region,
        timeout_seconds: Some(600),
        internet_access: None,
        env_vars: None,
        auto_pause: None,
    };
    let sandbox = match create(caller, &create_args).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let Some(id) = sandbox["id"].as_str() else {
        return failed(ApiFailure("The API's answer has no id".to_owned()));
    };
    let b = body(
        &a.code,
        a.language.as_deref(),
        a.timeout.unwrap_or(30),
        a.env.as_ref(),
        None,
        None,
    );
    let result = run(caller, id, b).await;
    // The sandbox goes whatever the run did; a failed delete is left to the sandbox's timeout.
    let _ = kill(caller, id).await;
    result
}

#[tool_router(router = code_tools, vis = "pub(crate)")]
impl WarrenMcp {
    #[tool(
        description = "Run code. mode \"isolated\" (default without sandbox_id): a new \
        sandbox, run, kill it. \"persistent\"/\"rich\" (default with sandbox_id): run in that \
        sandbox; Python variables and imports are kept between calls, the last expression's value \
        is returned, matplotlib charts come back as images. \"background\": start it and return a \
        process id at once."
    )]
    async fn execute_code(
        &self,
        Parameters(a): Parameters<ExecuteCode>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let mode = a.mode.as_deref().unwrap_or(if a.sandbox_id.is_some() {
                "persistent"
            } else {
                "isolated"
            });
            match (mode, a.sandbox_id.as_deref()) {
                ("isolated", _) => Ok(isolated(
                    &c,
                    RunIsolated {
                        code: a.code,
                        language: a.language,
                        timeout: a.timeout,
                        env: a.env,
                        template_name: a.template_name,
                        region: a.region,
                    },
                )
                .await),
                ("persistent" | "rich", Some(id)) => {
                    let b = body(
                        &a.code,
                        a.language.as_deref(),
                        a.timeout.unwrap_or(30),
                        a.env.as_ref(),
                        a.working_dir.as_deref(),
                        None,
                    );
                    Ok(run(&c, id, b).await)
                }
                ("background", Some(id)) => {
                    let b = body(
                        &a.code,
                        a.language.as_deref(),
                        a.timeout.unwrap_or(300),
                        a.env.as_ref(),
                        a.working_dir.as_deref(),
                        a.name.as_deref(),
                    );
                    background(&c, id, b).await
                }
                ("persistent" | "rich" | "background", None) => Ok(failed(ApiFailure(format!(
                    "mode \"{mode}\" needs a sandbox_id (create one with create_sandbox)"
                )))),
                _ => Ok(failed(ApiFailure(format!(
                    "unknown mode \"{mode}\": isolated, persistent, rich or background"
                )))),
            }
        })
    }

    #[tool(description = "Run code in a sandbox; Python state is kept between calls.")]
    async fn execute_code_persistent(
        &self,
        Parameters(a): Parameters<RunInSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let b = body(
                &a.code,
                a.language.as_deref(),
                a.timeout.unwrap_or(30),
                a.env.as_ref(),
                a.working_dir.as_deref(),
                None,
            );
            Ok(run(&c, &a.sandbox_id, b).await)
        })
    }

    #[tool(
        description = "Run code in a sandbox and return its rich outputs: matplotlib charts as \
        images, DataFrames as HTML."
    )]
    async fn execute_code_rich(
        &self,
        Parameters(a): Parameters<RunInSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let b = body(
                &a.code,
                a.language.as_deref(),
                a.timeout.unwrap_or(30),
                a.env.as_ref(),
                a.working_dir.as_deref(),
                None,
            );
            Ok(run(&c, &a.sandbox_id, b).await)
        })
    }

    #[tool(
        description = "Start code in the background; returns its process_id. See its status \
        and output with execute_list_processes, stop it with execute_kill_process."
    )]
    async fn execute_code_background(
        &self,
        Parameters(a): Parameters<RunInSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let b = body(
                &a.code,
                a.language.as_deref(),
                a.timeout.unwrap_or(300),
                a.env.as_ref(),
                a.working_dir.as_deref(),
                a.name.as_deref(),
            );
            background(&c, &a.sandbox_id, b).await
        })
    }

    #[tool(description = "Run code once in a new sandbox that is killed afterwards.")]
    async fn execute_code_isolated(
        &self,
        Parameters(a): Parameters<RunIsolated>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| Ok(isolated(&c, a).await))
    }

    #[tool(
        description = "The sandbox's background runs (code and commands): status, exit code, \
        stdout and stderr so far."
    )]
    async fn execute_list_processes(
        &self,
        Parameters(a): Parameters<ListRuns>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let r = c
                .agent_json(
                    &a.sandbox_id,
                    Method::GET,
                    "/execute/processes",
                    None,
                    Duration::from_secs(30),
                )
                .await;
            json_result(r.map(|v| truncate_list(v, "processes", a.max_results.unwrap_or(100))))
        })
    }

    #[tool(description = "Kill a background run by its process_id.")]
    async fn execute_kill_process(
        &self,
        Parameters(a): Parameters<ProcessRef>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/execute/kill/{}", crate::api::encode(&a.process_id));
            json_result(
                c.agent_json(
                    &a.sandbox_id,
                    Method::POST,
                    &path,
                    None,
                    Duration::from_secs(30),
                )
                .await,
            )
        })
    }

    #[tool(description = "One background run's status and output (stdout, stderr, exit code).")]
    async fn get_process_output(
        &self,
        Parameters(a): Parameters<ProcessRef>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let r = c
                .agent_json(
                    &a.sandbox_id,
                    Method::GET,
                    "/execute/processes",
                    None,
                    Duration::from_secs(30),
                )
                .await;
            json_result(r.and_then(|v| {
                let list = if v.is_array() {
                    v
                } else {
                    v["processes"].clone()
                };
                list.as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| {
                        [&p["process_id"], &p["execution_id"]]
                            .iter()
                            .any(|x| x.as_str() == Some(a.process_id.as_str()))
                    })
                    .cloned()
                    .ok_or_else(|| ApiFailure(format!("No background process {}", a.process_id)))
            }))
        })
    }
}

/// At most `max` entries of the list `v` is or holds under `field`.
pub(crate) fn truncate_list(v: Value, field: &str, max: usize) -> Value {
    let list = if v.is_array() { v } else { v[field].clone() };
    let all = list.as_array().cloned().unwrap_or_default();
    let total = all.len();
    let kept: Vec<Value> = all.into_iter().take(max).collect();
    json!({ field: kept, "count": kept.len(), "total": total })
}
