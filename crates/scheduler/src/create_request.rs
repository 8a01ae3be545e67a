//! What a `POST /v1/sandboxes` asks for, checked before anything is read or written.

use std::collections::BTreeMap;

use api_error::ApiError;
use api_types::control::CreateSandbox;
use db::templates::TemplateRef;

use crate::Scheduler;
use crate::{mounts, names};

const MAX_ENV_VARS: usize = 256;
const MAX_ENV_NAME: usize = 256;
const MAX_ENV_VALUE: usize = 32 * 1024;

/// What a validated request asks for.
pub struct Wanted<'a> {
    /// The template named, and how; `None` only with a `snapshot`.
    pub template: Option<(TemplateRef<'a>, &'a str)>,
    /// The snapshot it starts from.
    pub snapshot: Option<&'a str>,
    /// Whether `snapshot` is a fork's own (still `creating`), not one a client may name.
    pub forking: bool,
    pub timeout_seconds: i64,
    pub internet_access: bool,
    pub env_vars: BTreeMap<String, String>,
    /// Idle seconds before an auto-pause.
    pub auto_pause_seconds: Option<i32>,
}

/// Checks every field of `req` that needs no database: template reference (or snapshot id),
/// region, timeout, name, volume mounts, environment.
pub fn validate<'a>(state: &Scheduler, req: &'a CreateSandbox) -> Result<Wanted<'a>, ApiError> {
    let bad = |m: &str| ApiError::InvalidRequest(m.to_owned());
    // Like the Python SDK: when both are given, the id wins.
    let template = match req.template_id.as_deref().or(req.template_name.as_deref()) {
        Some(text) => {
            let parsed = TemplateRef::parse(text)
                .ok_or_else(|| ApiError::TemplateNotFound(truncate(text)))?;
            Some((parsed, text))
        }
        None if req.snapshot_id.is_some() => None,
        None => {
            return Err(bad("template_name or template_id is required"));
        }
    };
    let snapshot = req.snapshot_id.as_deref();
    if snapshot.is_some_and(|id| !db::ids::is_snapshot_id(id)) {
        return Err(ApiError::SnapshotNotFound);
    }
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
    if let Some(name) = &req.name {
        names::check_sandbox_name(name)?;
    }
    let min_idle = i64::from(state.settings.sandboxes.auto_pause_min_seconds);
    let auto_pause_seconds = match req.auto_pause {
        None => None,
        Some(s) if (min_idle..=max).contains(&s) => Some(s as i32),
        Some(_) => {
            return Err(bad(&format!(
                "auto_pause must be between {min_idle} and {max} seconds"
            )));
        }
    };
    let max_mounts = state.settings.volumes.max_mounts_per_sandbox;
    mounts::check(req.volumes.as_deref().unwrap_or_default(), max_mounts)?;
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
        snapshot,
        forking: false,
        timeout_seconds,
        internet_access: req.internet_access.unwrap_or(true),
        env_vars,
        auto_pause_seconds,
    })
}

pub fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
