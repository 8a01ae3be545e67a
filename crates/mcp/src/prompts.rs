//! The prompts: `sandbox_guide` (how to use the sandbox tools) and `quick_code_execution` (hopx-mcp's
//! prompt, under its name, so prompts written for it work here).

use rmcp::ErrorData;
use rmcp::model::{
    GetPromptResponse, GetPromptResult, ListPromptsResult, Prompt, PromptMessage, Role,
};

const GUIDE: &str = "\
You have Warren sandboxes: isolated Linux containers that run code. Use them whenever running code, \
a command or a tool would give a better answer than reasoning alone.

1. Create a sandbox: create_sandbox(template_id=\"code-interpreter\"). It answers with the sandbox's \
`id`; every other tool takes it as `sandbox_id`. list_templates() shows the templates (\"base\", \
\"python\", \"nodejs\", \"code-interpreter\" with numpy/pandas/matplotlib, \"desktop\" with a screen).
2. Run Python: execute_code(sandbox_id=id, code=\"...\", mode=\"persistent\"). Variables and imports \
are kept between calls. The value of the last expression is returned; a matplotlib figure comes back \
as an image, a DataFrame as HTML. Other languages: language=\"bash\", \"javascript\".
3. Run shell commands: run_command(sandbox_id=id, command=\"ls -la\"). For servers and long jobs use \
run_command_background or execute_code_background, then execute_list_processes to see their status \
and output, execute_kill_process to stop them.
4. Files: file_write, file_read, file_list, file_exists, file_mkdir, file_remove; file_download \
returns a file as a resource (any size up to the read limit, binary too), file_upload writes \
base64 content. Paths are relative to /workspace unless absolute. A sandbox's files are also \
resources: warren://sandboxes/{id}/files/{path}.
5. Environment: env_get, env_set (merge or replace), env_clear.
6. Web apps: start a server on a port in the background, then get_preview_url(sandbox_id, port) \
gives a URL a browser can open.
7. Desktop sandboxes (template \"desktop\"): desktop_screenshot returns the screen as an image; \
desktop_click(x, y), desktop_type(text), desktop_key_press(key, e.g. \"Return\", \"ctrl+c\").
8. Lifecycle: pause_sandbox and resume_sandbox keep memory and files; update_sandbox_timeout extends \
its life; kill_sandbox (or delete_sandbox) removes it. Kill sandboxes you no longer need.

One-off snippet: execute_code(code=\"...\", mode=\"isolated\") creates a sandbox, runs the code and \
kills the sandbox. Errors come back as tool results marked as errors, with the reason.";

pub fn list() -> ListPromptsResult {
    ListPromptsResult::with_all_items(vec![
        Prompt::new(
            "sandbox_guide",
            Some(
                "How to use Warren's sandbox tools: create, run code and commands, files, previews, desktop",
            ),
            None,
        ),
        Prompt::new(
            "quick_code_execution",
            Some("Run code quickly in a sandbox (the hopx-mcp prompt)"),
            None,
        ),
    ])
}

pub fn get(name: &str) -> Result<GetPromptResponse, ErrorData> {
    let description = match name {
        "sandbox_guide" => "How to use Warren's sandbox tools",
        "quick_code_execution" => "Run code quickly in a sandbox",
        _ => {
            return Err(ErrorData::invalid_params(
                format!("prompt not found: {name}"),
                None,
            ));
        }
    };
    let messages = vec![PromptMessage::new_text(Role::User, GUIDE)];
    Ok(GetPromptResult::new(messages)
        .with_description(description)
        .into())
}
