//! Desktop sandboxes (template `desktop`): the agent's `/desktop/*`. A screenshot is image content.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use rmcp::RoleServer;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::{ToolResult, WarrenMcp, failed, json_result, with_caller};
use crate::tools::sandboxes::OnSandbox;

const CALL: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Click {
    /// Sandbox id.
    pub sandbox_id: String,
    /// Pixels from the left edge.
    pub x: i64,
    /// Pixels from the top edge.
    pub y: i64,
    /// "left" (default), "middle" or "right".
    pub button: Option<String>,
    /// Clicks (2: double click).
    pub clicks: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TypeText {
    /// Sandbox id.
    pub sandbox_id: String,
    /// The text to type.
    pub text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct KeyPress {
    /// Sandbox id.
    pub sandbox_id: String,
    /// An X key name or combination: "Return", "Escape", "Tab", "ctrl+c", "alt+F4".
    pub key: String,
}

impl WarrenMcp {
    async fn desktop_post(
        &self,
        ctx: &RequestContext<RoleServer>,
        id: &str,
        path: &str,
        body: Value,
    ) -> ToolResult {
        match self.caller(ctx) {
            Ok(c) => json_result(c.agent_json(id, Method::POST, path, Some(body), CALL).await),
            Err(e) => Ok(failed(e)),
        }
    }
}

#[tool_router(router = desktop_tools, vis = "pub(crate)")]
impl WarrenMcp {
    #[tool(description = "A screenshot of a desktop sandbox's screen, as an image.")]
    async fn desktop_screenshot(
        &self,
        Parameters(a): Parameters<OnSandbox>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        with_caller!(self, ctx, |c| {
            Ok(
                match c
                    .agent_bytes(&a.sandbox_id, "/desktop/screenshot", CALL)
                    .await
                {
                    Ok(png) => {
                        let data = base64::engine::general_purpose::STANDARD.encode(png);
                        CallToolResult::success(vec![ContentBlock::image(data, "image/png")])
                    }
                    Err(e) => failed(e),
                },
            )
        })
    }

    #[tool(description = "Click at (x, y) on a desktop sandbox's screen.")]
    async fn desktop_click(
        &self,
        Parameters(a): Parameters<Click>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        let mut body = json!({"x": a.x, "y": a.y});
        if let Some(b) = &a.button {
            body["button"] = json!(b);
        }
        if let Some(n) = a.clicks {
            body["clicks"] = json!(n);
        }
        self.desktop_post(&ctx, &a.sandbox_id, "/desktop/mouse/click", body)
            .await
    }

    #[tool(description = "Type text on a desktop sandbox's keyboard.")]
    async fn desktop_type(
        &self,
        Parameters(a): Parameters<TypeText>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        self.desktop_post(
            &ctx,
            &a.sandbox_id,
            "/desktop/keyboard/type",
            json!({"text": a.text}),
        )
        .await
    }

    #[tool(
        description = "Press a key or key combination on a desktop sandbox (\"Return\", \"ctrl+c\")."
    )]
    async fn desktop_key_press(
        &self,
        Parameters(a): Parameters<KeyPress>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult {
        self.desktop_post(
            &ctx,
            &a.sandbox_id,
            "/desktop/keyboard/press",
            json!({"key": a.key}),
        )
        .await
    }
}
