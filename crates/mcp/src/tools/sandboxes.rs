//! Sandboxes and templates: the control plane's `/v1/sandboxes` and `/v1/templates`, and the
//! sandbox's URLs (preview links, the agent).

use std::collections::BTreeMap;

use reqwest::Method;
use rmcp::RoleServer;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api::{ApiResult, Caller, encode};
use crate::server::{ToolResult, WarrenMcp, json_result, with_caller};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListSandboxes {
    /// Most sandboxes to return (default 100).
    pub limit: Option<u32>,
    /// Only sandboxes in this state: running, paused, stopped, creating.
    pub status: Option<String>,
    /// Only sandboxes in this region.
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateSandbox {
    /// Template name (e.g. "code-interpreter", "python", "base", "desktop") or numeric template id.
    #[serde(alias = "template", alias = "template_name")]
    pub template_id: String,
    /// Region (optional).
    pub region: Option<String>,
    /// Seconds until the sandbox is removed (optional).
    pub timeout_seconds: Option<i64>,
    /// Whether the sandbox may reach the internet (optional).
    pub internet_access: Option<bool>,
    /// Environment variables of the sandbox (optional).
    pub env_vars: Option<BTreeMap<String, String>>,
    /// Seconds without use after which the sandbox is paused; the next call resumes it (optional).
    pub auto_pause: Option<i64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SandboxId {
    /// Sandbox id (from create_sandbox or list_sandboxes).
    #[serde(alias = "sandbox_id")]
    pub id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct OnSandbox {
    /// Sandbox id (from create_sandbox or list_sandboxes).
    #[serde(alias = "id")]
    pub sandbox_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SetTimeout {
    /// Sandbox id.
    #[serde(alias = "sandbox_id")]
    pub id: String,
    /// New lifetime in seconds from now (e.g. 3600).
    pub timeout_seconds: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListTemplates {
    /// Most templates to return (default 10).
    pub limit: Option<usize>,
    /// Comma-separated fields to keep (default "id,name,description,category,language").
    pub fields: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TemplateName {
    /// Template name (from list_templates).
    pub name: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PreviewUrl {
    /// Sandbox id.
    pub sandbox_id: String,
    /// The port a server listens on inside the sandbox.
    pub port: u16,
}

/// The fields of a sandbox worth showing a model (never its token).
fn summary(s: &Value) -> Value {
    let keep = [
        "id",
        "status",
        "template_name",
        "template_id",
        "region",
        "public_host",
        "created_at",
        "expires_at",
        "timeout_seconds",
        "auto_pause",
        "internet_access",
        "resources",
    ];
    let mut out = Map::new();
    for k in keep {
        if let Some(v) = s.get(k) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

/// Creates a sandbox and remembers its agent; its summary.
pub(crate) async fn create(caller: &Caller<'_>, args: &CreateSandbox) -> ApiResult<Value> {
    let template = if args.template_id.chars().all(|c| c.is_ascii_digit()) {
        "template_id"
    } else {
        "template_name"
    };
    let mut body = json!({ template: args.template_id });
    if let Some(r) = &args.region {
        body["region"] = json!(r);
    }
    if let Some(t) = args.timeout_seconds {
        body["timeout_seconds"] = json!(t);
    }
    if let Some(i) = args.internet_access {
        body["internet_access"] = json!(i);
    }
    if let Some(e) = &args.env_vars {
        body["env_vars"] = json!(e);
    }
    if let Some(a) = args.auto_pause {
        body["auto_pause"] = json!(a);
    }
    let created = caller
        .control(Method::POST, "/v1/sandboxes", Some(body))
        .await?;
    if let (Some(id), Some(host), Some(token)) = (
        created.get("id").and_then(Value::as_str),
        created.get("public_host").and_then(Value::as_str),
        created.get("auth_token").and_then(Value::as_str),
    ) {
        caller.remember(id, &crate::api::Agent::new(host, token));
    }
    Ok(summary(&created))
}

pub(crate) async fn kill(caller: &Caller<'_>, id: &str) -> ApiResult<Value> {
    let path = format!("/v1/sandboxes/{}", encode(id));
    let answer = caller.control(Method::DELETE, &path, None).await;
    caller.forget(id);
    answer?;
    Ok(json!({"id": id, "status": "deleted"}))
}

async fn action(
    caller: &Caller<'_>,
    id: &str,
    action: &str,
    body: Option<Value>,
) -> ApiResult<Value> {
    let path = format!("/v1/sandboxes/{}/{action}", encode(id));
    let method = if action == "timeout" {
        Method::PUT
    } else {
        Method::POST
    };
    let mut v = caller.control(method, &path, body).await?;
    if let Some(o) = v.as_object_mut() {
        o.remove("request_id");
    }
    Ok(v)
}

async fn progress(ctx: &RequestContext<RoleServer>, progress: f64, message: &str) {
    if let Some(token) = ctx.meta.get_progress_token() {
        let mut p = ProgressNotificationParam::new(token, progress).with_total(2.0);
        p.message = Some(message.to_owned());
        let _ = ctx.peer.notify_progress(p).await;
    }
}

#[tool_router(router = sandbox_tools, vis = "pub(crate)")]
impl WarrenMcp {
    #[tool(description = "Warren's API health (status and version).")]
    async fn health(&self, ctx: RequestContext<RoleServer>) -> ToolResult {
        with_caller!(self, ctx, |c| json_result(
            c.control(Method::GET, "/health", None).await
        ))
    }

    #[tool(description = "List this organization's sandboxes (id, status, template, expiry).")]
    async fn list_sandboxes(
        &self,
        Parameters(a): Parameters<ListSandboxes>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let mut q = format!("?limit={}", a.limit.unwrap_or(100).clamp(1, 100));
            if let Some(s) = &a.status {
                q.push_str(&format!("&status={}", encode(s)));
            }
            if let Some(r) = &a.region {
                q.push_str(&format!("&region={}", encode(r)));
            }
            let list = c
                .control(Method::GET, &format!("/v1/sandboxes{q}"), None)
                .await;
            json_result(list.map(|l| {
                let data: Vec<Value> = l["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(summary)
                    .collect();
                json!({"count": data.len(), "sandboxes": data, "has_more": l["has_more"]})
            }))
        })
    }

    #[tool(
        description = "Create a sandbox from a template and wait until it runs. Its `id` is the \
        sandbox_id of every other tool. Templates: list_templates (\"code-interpreter\" for Python \
        with numpy, pandas, matplotlib; \"desktop\" for a screen)."
    )]
    async fn create_sandbox(
        &self,
        Parameters(a): Parameters<CreateSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            progress(&ctx, 0.0, "creating the sandbox").await;
            let created = create(&c, &a).await;
            progress(&ctx, 2.0, "sandbox created").await;
            json_result(created)
        })
    }

    #[tool(description = "A sandbox's details: status, template, resources, expiry, public host.")]
    async fn get_sandbox(
        &self,
        Parameters(a): Parameters<SandboxId>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/v1/sandboxes/{}", encode(&a.id));
            json_result(
                c.control(Method::GET, &path, None)
                    .await
                    .map(|s| summary(&s)),
            )
        })
    }

    #[tool(description = "Delete a sandbox (hopx-mcp's name for kill_sandbox).")]
    async fn delete_sandbox(
        &self,
        Parameters(a): Parameters<SandboxId>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| json_result(kill(&c, &a.id).await))
    }

    #[tool(description = "Kill a sandbox: it stops and is removed with its files.")]
    async fn kill_sandbox(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| json_result(kill(&c, &a.sandbox_id).await))
    }

    #[tool(description = "Pause a running sandbox (its processes freeze, memory and files kept).")]
    async fn pause_sandbox(
        &self,
        Parameters(a): Parameters<SandboxId>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| json_result(
            action(&c, &a.id, "pause", None).await
        ))
    }

    #[tool(description = "Resume a paused sandbox.")]
    async fn resume_sandbox(
        &self,
        Parameters(a): Parameters<SandboxId>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| json_result(
            action(&c, &a.id, "resume", None).await
        ))
    }

    #[tool(description = "Set a sandbox's remaining lifetime in seconds from now.")]
    async fn update_sandbox_timeout(
        &self,
        Parameters(a): Parameters<SetTimeout>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let body = json!({"timeout_seconds": a.timeout_seconds});
            json_result(action(&c, &a.id, "timeout", Some(body)).await)
        })
    }

    #[tool(description = "List the templates sandboxes can be created from.")]
    async fn list_templates(
        &self,
        Parameters(a): Parameters<ListTemplates>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let fields = a
                .fields
                .unwrap_or_else(|| "id,name,description,category,language".to_owned());
            let fields: Vec<&str> = fields.split(',').map(str::trim).collect();
            let list = c.control(Method::GET, "/v1/templates", None).await;
            json_result(list.map(|l| {
                let data: Vec<Value> = l["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .take(a.limit.unwrap_or(10))
                    .map(|t| {
                        let kept = fields
                            .iter()
                            .filter_map(|f| Some((f.to_string(), t.get(*f)?.clone())));
                        Value::Object(kept.collect())
                    })
                    .collect();
                json!({"count": data.len(), "templates": data})
            }))
        })
    }

    #[tool(description = "A template's details by name.")]
    async fn get_template(
        &self,
        Parameters(a): Parameters<TemplateName>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/v1/templates/{}", encode(&a.name));
            json_result(c.control(Method::GET, &path, None).await)
        })
    }

    #[tool(
        description = "A URL a browser can open for a server listening on `port` inside the \
        sandbox (a signed preview link)."
    )]
    async fn get_preview_url(
        &self,
        Parameters(a): Parameters<PreviewUrl>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let path = format!("/v1/sandboxes/{}/preview-links", encode(&a.sandbox_id));
            let link = c
                .control(Method::POST, &path, Some(json!({"port": a.port})))
                .await;
            json_result(link.map(|l| {
                json!({"url": l["url"], "port": a.port, "expires_at": l["expires_at"], "sandbox_id": a.sandbox_id})
            }))
        })
    }

    #[tool(
        description = "The URL of the sandbox's agent (its data-plane API, port 7777), for \
        debugging; web services use get_preview_url."
    )]
    async fn get_agent_url(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            let agent = c.agent(&a.sandbox_id).await;
            json_result(
                agent.map(|ag| json!({"agent_url": ag.public_host, "sandbox_id": a.sandbox_id})),
            )
        })
    }
}
