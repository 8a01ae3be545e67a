//! The sandbox's global environment variables (`/env`) and how a child's environment is assembled:
//! request `env` > global env > the agent's own environment (minus `WARREN_AGENT_*`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use api_types::agent::EnvMap;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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
}
