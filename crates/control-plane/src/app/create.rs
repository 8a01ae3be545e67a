//! `POST /v1/sandboxes`: validate, reserve a row under the organization's cap, ask the runtime, and
//! answer once the sandbox is running (or has failed).

use std::collections::BTreeMap;
use std::sync::Arc;

use api_types::control::CreateSandbox;
use runtime::{Resources, SandboxRuntime, SandboxSpec};
use sandbox_token::TokenKey;

use crate::db::{self, sandboxes::NewSandbox, sandboxes::SandboxRow, templates::TemplateRef};
use crate::error::ApiError;
use crate::ids;
use crate::state::AppState;

const MAX_ENV_VARS: usize = 256;
const MAX_ENV_NAME: usize = 256;
const MAX_ENV_VALUE: usize = 32 * 1024;

/// What a validated request asks for.
struct Wanted<'a> {
    template: TemplateRef<'a>,
    template_text: &'a str,
    timeout_seconds: i64,
    internet_access: bool,
    env_vars: BTreeMap<String, String>,
}

fn validate<'a>(state: &AppState, req: &'a CreateSandbox) -> Result<Wanted<'a>, ApiError> {
    let bad = |m: &str| ApiError::InvalidRequest(m.to_owned());
    // Like the Python SDK: when both are given, the id wins.
    let template_text = req
        .template_id
        .as_deref()
        .or(req.template_name.as_deref())
        .ok_or_else(|| bad("template_name or template_id is required"))?;
    let template = TemplateRef::parse(template_text)
        .ok_or_else(|| ApiError::TemplateNotFound(truncate(template_text)))?;
    if let Some(region) = &req.region
        && region != &state.settings.sandboxes.region
    {
        return Err(bad(&format!(
            "unknown region; this server serves region {:?}",
            state.settings.sandboxes.region
        )));
    }
    let max = i64::from(state.settings.sandboxes.max_timeout_seconds);
    let timeout_seconds = req
        .timeout_seconds
        .unwrap_or(i64::from(state.settings.sandboxes.default_timeout_seconds));
    if !(1..=max).contains(&timeout_seconds) {
        return Err(bad(&format!("timeout_seconds must be between 1 and {max}")));
    }
    let env_vars = req.env_vars.clone().unwrap_or_default();
    if env_vars.len() > MAX_ENV_VARS {
        return Err(bad(&format!("at most {MAX_ENV_VARS} env_vars")));
    }
    for (k, v) in &env_vars {
        let name_ok = !k.is_empty()
            && k.len() <= MAX_ENV_NAME
            && !k.contains(['=', '\0'])
            && !k.starts_with("WARREN_");
        if !name_ok || v.len() > MAX_ENV_VALUE || v.contains('\0') {
            return Err(bad(&format!("invalid env_vars entry {:?}", truncate(k))));
        }
    }
    Ok(Wanted {
        template,
        template_text,
        timeout_seconds,
        internet_access: req.internet_access.unwrap_or(true),
        env_vars,
    })
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Creates a sandbox; returns its row (status `running`) and its token key.
pub async fn create(
    state: &AppState,
    org_id: i64,
    req: &CreateSandbox,
) -> Result<(SandboxRow, TokenKey), ApiError> {
    let wanted = validate(state, req)?;
    let template = db::templates::find_visible(&state.pool, org_id, wanted.template)
        .await?
        .filter(|t| t.status == "active")
        .ok_or_else(|| ApiError::TemplateNotFound(truncate(wanted.template_text)))?;
    let runtime = state.runtime.clone().ok_or(ApiError::RuntimeUnavailable)?;

    let id = ids::new_sandbox_id();
    let key = TokenKey::generate();
    let disk_mb = template.disk_gb.saturating_mul(1024);
    let mut tx = state.pool.begin().await?;
    let cap = db::orgs::lock_for_create(&mut tx, org_id).await?.map_or(
        i64::from(state.settings.limits.max_live_sandboxes),
        i64::from,
    );
    let current = db::sandboxes::count_live(&mut tx, org_id).await?;
    if current >= cap {
        return Err(ApiError::SandboxLimit {
            limit: cap,
            current,
        });
    }
    let new = NewSandbox {
        id: &id,
        organization_id: org_id,
        template_id: template.id,
        template_name: &template.name,
        region: &state.settings.sandboxes.region,
        vcpu: template.vcpu,
        memory_mb: template.memory_mb,
        disk_mb,
        internet_access: wanted.internet_access,
        timeout_seconds: wanted.timeout_seconds,
        token_key: key.as_bytes(),
    };
    db::sandboxes::insert_creating(&mut tx, &new).await?;
    tx.commit().await?;

    let spec = SandboxSpec {
        sandbox_id: id.clone(),
        template: template.name.clone(),
        image: template.image.clone(),
        resources: Resources {
            vcpu: template.vcpu.unsigned_abs(),
            memory_mb: template.memory_mb.unsigned_abs(),
            disk_mb: disk_mb.unsigned_abs(),
        },
        env_vars: wanted.env_vars,
        internet_access: wanted.internet_access,
        token_key_hex: key.to_hex(),
    };
    // Finish in a task of its own, so a client that hangs up mid-create (the handler future is then
    // dropped) leaves neither a row stuck in `creating` nor an orphan in the runtime.
    let finishing = tokio::spawn(finish(state.clone(), runtime, spec));
    let row = finishing.await.map_err(ApiError::internal)??;
    Ok((row, key))
}

/// Asks the runtime for the sandbox and records the outcome: `running`, or `error` (and cleanup).
async fn finish(
    state: AppState,
    runtime: Arc<dyn SandboxRuntime>,
    spec: SandboxSpec,
) -> Result<SandboxRow, ApiError> {
    let id = spec.sandbox_id.as_str();
    match runtime.create(&spec).await {
        Ok(ready) => {
            let addr = ready.agent_addr.to_string();
            let row =
                db::sandboxes::transition(&state.pool, id, "creating", "running", Some(&addr))
                    .await?;
            match row {
                Some(row) => Ok(row),
                None => {
                    // Deleted (or reaped) while it was being created: undo.
                    destroy_quietly(&state, id).await;
                    Err(ApiError::SandboxNotFound)
                }
            }
        }
        Err(e) => {
            tracing::warn!(sandbox.id = %id, error.chain = %crate::error::chain(&e), "runtime create failed");
            db::sandboxes::transition(&state.pool, id, "creating", "error", None).await?;
            destroy_quietly(&state, id).await;
            Err(e.into())
        }
    }
}

/// Asks the runtime to remove a sandbox, logging (not returning) failures: the row is already
/// `deleted` or `error`, and reconciliation removes leftovers.
pub async fn destroy_quietly(state: &AppState, id: &str) {
    if let Some(runtime) = &state.runtime
        && let Err(e) = runtime.destroy(id).await
    {
        tracing::warn!(sandbox.id = %id, error.chain = %crate::error::chain(&e), "runtime destroy failed");
    }
}
