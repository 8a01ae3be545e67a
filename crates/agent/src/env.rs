//! The sandbox's global environment variables (`/env`) and how a child's environment is assembled:
//! request `env` > global env > the agent's own environment (minus `WARREN_AGENT_*`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use api_types::agent::EnvMap;

use crate::error::{ApiError, ApiResult};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Refuses variables no process environment can hold: an empty name, a name with `=`, a NUL in a
/// name or value. Every entry of variables (`/env`, the configure step, a request's `env`) checks.
pub fn check_vars(vars: &EnvMap) -> ApiResult<()> {
    for (name, value) in vars {
        let reason = if name.is_empty() {
            "an empty name"
        } else if name.contains('=') {
            "a name with '='"
        } else if name.contains('\0') || value.contains('\0') {
            "a NUL byte"
        } else {
            continue;
        };
        let shown: String = name.escape_debug().take(64).collect();
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "INVALID_ENV",
            format!("Invalid environment variable {shown:?}: {reason}"),
        )
        .with_detail("name", shown));
    }
    Ok(())
}

/// Refuses a NUL byte in a command or argument (no `execve` can take it).
pub fn check_no_nul<'a>(
    field: &str,
    values: impl IntoIterator<Item = &'a String>,
) -> ApiResult<()> {
    if values.into_iter().any(|v| v.contains('\0')) {
        return Err(
            ApiError::bad_request(format!("{field} contains a NUL byte"))
                .with_detail("field", field),
        );
    }
    Ok(())
}

/// Global variables set through `/env` or the configure step.
#[derive(Clone, Default)]
pub struct EnvStore {
    vars: Arc<RwLock<EnvMap>>,
}

impl EnvStore {
    pub fn get_all(&self) -> EnvMap {
        self.vars.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, vars: EnvMap) {
        *self.vars.write().unwrap_or_else(|e| e.into_inner()) = vars;
    }

    pub fn merge(&self, vars: EnvMap) {
        self.vars
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .extend(vars);
    }

    /// The full environment of a child started in `workdir`.
    pub fn child_env(
        &self,
        base: &BTreeMap<String, String>,
        request: Option<&EnvMap>,
        workdir: &Path,
    ) -> BTreeMap<String, String> {
        let mut env = base.clone();
        env.entry("PATH".into())
            .or_insert_with(|| DEFAULT_PATH.into());
        env.entry("HOME".into())
            .or_insert_with(|| workdir.display().to_string());
        env.entry("LANG".into()).or_insert_with(|| "C.UTF-8".into());
        env.insert("PWD".into(), workdir.display().to_string());
        env.extend(self.get_all());
        if let Some(req) = request {
            env.extend(req.clone());
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_env_beats_global_beats_base() {
        let store = EnvStore::default();
        store.replace(EnvMap::from([
            ("A".into(), "global".into()),
            ("B".into(), "global".into()),
        ]));
        let base = BTreeMap::from([("A".into(), "base".into()), ("C".into(), "base".into())]);
        let req = EnvMap::from([("B".into(), "req".into())]);
        let env = store.child_env(&base, Some(&req), Path::new("/w"));
        assert_eq!(env["A"], "global");
        assert_eq!(env["B"], "req");
        assert_eq!(env["C"], "base");
        assert_eq!(env["PWD"], "/w");
        store.merge(EnvMap::from([("D".into(), "x".into())]));
        assert_eq!(store.get_all().len(), 3);
    }

    #[test]
    fn names_and_values_no_environment_can_hold_are_refused() {
        for (name, value) in [("", "v"), ("A=B", "v"), ("A\0B", "v"), ("A", "x\0y")] {
            let vars = EnvMap::from([(name.to_owned(), value.to_owned())]);
            let err = check_vars(&vars).unwrap_err();
            assert_eq!(
                (err.status.as_u16(), err.code),
                (400, "INVALID_ENV"),
                "{name:?}"
            );
        }
        assert!(check_vars(&EnvMap::from([("A_1".into(), "any = value".into())])).is_ok());
        assert!(check_no_nul("command", &["a\0".to_owned()]).is_err());
    }
}
