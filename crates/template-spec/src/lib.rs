//! `POST /v1/templates/build` bodies (both SDK shapes, CONTRACT.md §2.3), checked and turned into
//! the Dockerfile Warren builds.
//!
//! Everything the user sends lands in the Dockerfile in a form that cannot start a new instruction:
//! RUN, COPY and CMD in JSON (exec) form, other values refused when they hold a line break.

use runtime::{Isolation, UnknownIsolation};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

/// The agent's ready check, baked into the image (the agent reads it at start; user code never sees
/// `WARREN_AGENT_*` variables).
const READY_CHECK_ENV: &str = "WARREN_AGENT_READY_CHECK";
const MAX_STEPS: usize = 256;
const MAX_NAME: usize = 128;

/// The `POST /v1/templates/build` body, in either SDK's shape (CONTRACT.md §2.3).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildRequest {
    pub name: String,
    #[serde(alias = "fromImage")]
    pub from_image: Option<String>,
    /// `{"type": "RUN", "args": [...]}` and the like; both SDKs' step shapes.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub steps: Vec<Value>,
    #[serde(rename = "startCmd", alias = "start_cmd")]
    pub start_cmd: Option<String>,
    #[serde(rename = "readyCmd", alias = "ready_cmd")]
    pub ready_cmd: Option<ReadyCmd>,
    pub cpu: Option<i32>,
    pub memory: Option<i32>,
    #[serde(rename = "diskGB", alias = "disk_gb")]
    pub disk_gb: Option<i32>,
    #[serde(rename = "skipCache", alias = "skip_cache", default)]
    pub skip_cache: bool,
    #[serde(default)]
    pub update: bool,
    pub registry_credentials: Option<RegistryCredentials>,
    /// Warren's own: `container` (the default) or `gvisor`.
    pub isolation: Option<String>,
}

/// A readiness condition; `timeout`/`interval` are accepted and left to the agent's own polling.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadyCmd {
    #[serde(rename = "type")]
    pub kind: String,
    pub port: Option<u16>,
    pub url: Option<String>,
    pub path: Option<String>,
    #[serde(rename = "processName", alias = "name")]
    pub process_name: Option<String>,
    pub command: Option<String>,
}

/// Credentials for pulling `from_image`; used for that pull only, never stored. The password stays
/// out of `Debug` and logs.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryCredentials {
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub password: SecretString,
}

/// One build step, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Run(String),
    Copy {
        sources: Vec<String>,
        dest: String,
        files_hash: String,
        owner: Option<String>,
    },
    Env(String, String),
    Workdir(String),
    User(String),
    Cmd(Vec<String>),
}

/// A checked build request.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    pub name: String,
    pub from_image: String,
    /// Each step, and whether it (and so everything after it) skips the layer cache.
    pub steps: Vec<(Step, bool)>,
    pub start_cmd: Option<String>,
    /// The agent's `WARREN_AGENT_READY_CHECK` value.
    pub ready_check: Option<String>,
    pub vcpu: i32,
    pub memory_mb: i32,
    pub disk_gb: i32,
    pub isolation: Isolation,
    /// `skipCache`: build without any cached layer.
    pub no_cache: bool,
}

impl BuildSpec {
    /// The distinct `files_hash`es the COPY steps read.
    pub fn files_hashes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (step, _) in &self.steps {
            if let Step::Copy { files_hash, .. } = step
                && !out.contains(&files_hash.as_str())
            {
                out.push(files_hash);
            }
        }
        out
    }

    /// The Dockerfile; COPY sources are read from `<files_hash>/` in the context. A step that skips
    /// the cache is preceded by `ARG WARREN_CACHE_BUST_<n>`, given a fresh value at build time (see
    /// [`BuildSpec::cache_busters`]), which changes the cache key of every later step.
    pub fn dockerfile(&self) -> String {
        let json = |v: &[String]| serde_json::to_string(v).expect("strings serialize");
        let mut out = format!("FROM {}\n", self.from_image);
        for (i, (step, skip_cache)) in self.steps.iter().enumerate() {
            if *skip_cache {
                out.push_str(&format!("ARG WARREN_CACHE_BUST_{i}\n"));
            }
            let line = match step {
                Step::Run(cmd) => format!(
                    "RUN {}",
                    json(&["/bin/sh".into(), "-c".into(), cmd.clone()])
                ),
                Step::Copy {
                    sources,
                    dest,
                    files_hash,
                    owner,
                } => {
                    let mut args: Vec<String> = sources
                        .iter()
                        .map(|s| format!("{files_hash}/{s}"))
                        .collect();
                    args.push(dest.clone());
                    let chown = owner
                        .as_ref()
                        .map(|o| format!("--chown={o} "))
                        .unwrap_or_default();
                    format!("COPY {chown}{}", json(&args))
                }
                Step::Env(k, v) => format!("ENV {k}={}", quote(v)),
                Step::Workdir(dir) => format!("WORKDIR {dir}"),
                Step::User(user) => format!("USER {user}"),
                Step::Cmd(argv) => format!("CMD {}", json(argv)),
            };
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(check) = &self.ready_check {
            out.push_str(&format!("ENV {READY_CHECK_ENV}={}\n", quote(check)));
        }
        if let Some(cmd) = &self.start_cmd {
            // The agent runs (and supervises) the image's command as the template's start command,
            // in its workspace: the command goes to the template's WORKDIR first.
            let argv: Vec<String> = match self.workdir() {
                Some(dir) => vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "cd \"$1\" && eval \"$2\"".into(),
                    "start".into(),
                    dir,
                    cmd.clone(),
                ],
                None => vec!["/bin/sh".into(), "-c".into(), cmd.clone()],
            };
            out.push_str(&format!("CMD {}\n", json(&argv)));
        }
        out
    }

    /// The working directory the WORKDIR steps leave (relative ones resolve against the one before).
    fn workdir(&self) -> Option<String> {
        self.steps.iter().fold(None, |dir, (step, _)| match step {
            Step::Workdir(d) if d.starts_with('/') => Some(d.clone()),
            Step::Workdir(d) => Some(format!("{}/{d}", dir.as_deref().unwrap_or(""))),
            _ => dir,
        })
    }

    /// The build arguments that invalidate the cache of steps marked `skipCache`.
    pub fn cache_busters(&self, nonce: &str) -> Vec<(String, String)> {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, (_, skip))| *skip)
            .map(|(i, _)| (format!("WARREN_CACHE_BUST_{i}"), nonce.to_owned()))
            .collect()
    }
}

/// A Dockerfile double-quoted word: `\`, `"` and `$` escaped (values are literal, not expanded).
fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

type Bad = String;

fn one_line(what: &str, v: &str) -> Result<(), Bad> {
    if v.is_empty() || v.contains(['\n', '\r', '\0']) {
        Err(format!("{what} must be a non-empty single line"))
    } else {
        Ok(())
    }
}

fn str_arg<'a>(step: &'a Value, i: usize, key: &str) -> Option<&'a str> {
    step.get("args")
        .and_then(|a| a.get(i))
        .or_else(|| step.get(key))
        .and_then(Value::as_str)
}

fn parse_step(n: usize, step: &Value) -> Result<(Step, bool), Bad> {
    let kind = step
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let need = |key: &str, i: usize| {
        str_arg(step, i, key)
            .map(str::to_owned)
            .ok_or_else(|| format!("step {n} ({kind}): missing {key}"))
    };
    let parsed = match kind.as_str() {
        "RUN" => {
            let cmd = need("command", 0)?;
            if cmd.trim().is_empty() || cmd.contains('\0') {
                return Err(format!("step {n} (RUN): empty command"));
            }
            Step::Run(cmd)
        }
        "COPY" => {
            let sources: Vec<String> = need("src", 0)?
                .split(',')
                .map(|s| s.trim().trim_start_matches("./").to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            let dest = need("dest", 1)?;
            let files_hash = step
                .get("filesHash")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("step {n} (COPY): missing filesHash"))?
                .to_owned();
            check_files_hash(&files_hash).map_err(|e| format!("step {n} (COPY): {e}"))?;
            one_line("COPY destination", &dest)?;
            if sources.is_empty() {
                return Err(format!("step {n} (COPY): no sources"));
            }
            for s in &sources {
                one_line("COPY source", s)?;
                if s.starts_with('/') || s.split('/').any(|c| c == "..") {
                    return Err(format!("step {n} (COPY): source {s:?} leaves the context"));
                }
            }
            let owner = step.get("owner").and_then(Value::as_str).map(str::to_owned);
            if let Some(o) = &owner {
                check_user(o).map_err(|e| format!("step {n} (COPY owner): {e}"))?;
            }
            Step::Copy {
                sources,
                dest,
                files_hash,
                owner,
            }
        }
        "ENV" => {
            let key = need("key", 0)?;
            let value = need("value", 1)?;
            let key_ok = key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !key.starts_with("WARREN_");
            if !key_ok || value.contains(['\n', '\r', '\0']) {
                return Err(format!("step {n} (ENV): invalid variable {key:?}"));
            }
            Step::Env(key, value)
        }
        "WORKDIR" => {
            let dir = need("path", 0)?;
            one_line("WORKDIR", &dir)?;
            Step::Workdir(dir)
        }
        "USER" => {
            let user = need("user", 0)?;
            check_user(&user).map_err(|e| format!("step {n} (USER): {e}"))?;
            Step::User(user)
        }
        "CMD" => {
            let argv: Vec<String> = step
                .get("args")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if argv.is_empty() {
                return Err(format!("step {n} (CMD): no arguments"));
            }
            Step::Cmd(argv)
        }
        _ => return Err(format!("step {n}: unknown type {kind:?}")),
    };
    let skip = step
        .get("skipCache")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((parsed, skip))
}

fn check_user(u: &str) -> Result<(), Bad> {
    let ok = !u.is_empty()
        && u.len() <= 64
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid user {u:?}"))
    }
}

/// A client's `files_hash`: an opaque key, used as a file and directory name.
pub fn check_files_hash(h: &str) -> Result<(), Bad> {
    let ok = !h.is_empty()
        && h.len() <= 128
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err("files_hash must be 1-128 letters, digits, - or _".into())
    }
}

fn ready_check(r: &ReadyCmd) -> Result<String, Bad> {
    let missing = |what: &str| format!("readyCmd {}: missing {what}", r.kind);
    let check = match r.kind.to_ascii_lowercase().as_str() {
        "port" => format!("port:{}", r.port.ok_or_else(|| missing("port"))?),
        "file" => format!("file:{}", r.path.as_deref().ok_or_else(|| missing("path"))?),
        "process" => format!(
            "process:{}",
            r.process_name
                .as_deref()
                .ok_or_else(|| missing("processName"))?
        ),
        "command" => format!(
            "command:{}",
            r.command.as_deref().ok_or_else(|| missing("command"))?
        ),
        // The agent has no HTTP check of its own: a command that fetches the URL with whatever
        // the image has.
        "url" => {
            let url = r.url.as_deref().ok_or_else(|| missing("url"))?;
            if !url.starts_with("http://") && !url.starts_with("https://")
                || url.contains(['\'', ' ', '\\'])
            {
                return Err("readyCmd url: must be an http(s) URL without quotes or spaces".into());
            }
            format!(
                "command:curl -fsS -o /dev/null '{url}' 2>/dev/null || wget -q -O /dev/null '{url}' \
                 2>/dev/null || python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1])' '{url}'"
            )
        }
        other => return Err(format!("readyCmd: unknown type {other:?}")),
    };
    one_line("readyCmd", &check)?;
    Ok(check)
}

impl BuildRequest {
    /// Checks the request; the message of a 400 when it is not buildable.
    pub fn check(self) -> Result<(BuildSpec, Option<RegistryCredentials>), Bad> {
        let name = self.name.trim().to_owned();
        let name_ok = !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !name.bytes().all(|b| b.is_ascii_digit());
        if !name_ok {
            return Err(
                "name must be 1-128 letters, digits, '.', '_' or '-', and not only digits".into(),
            );
        }
        let from_image = self.from_image.unwrap_or_default();
        let image_ok = !from_image.is_empty()
            && from_image.len() <= 512
            && !from_image.contains(char::is_whitespace)
            && !from_image.starts_with('-');
        if !image_ok {
            return Err("from_image is required (an image reference)".into());
        }
        if self.steps.len() > MAX_STEPS {
            return Err(format!("at most {MAX_STEPS} steps"));
        }
        let steps = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| parse_step(i + 1, s))
            .collect::<Result<Vec<_>, _>>()?;
        let start_cmd = self.start_cmd.filter(|c| !c.trim().is_empty());
        if let Some(c) = &start_cmd
            && c.contains('\0')
        {
            return Err("startCmd must not contain NUL".into());
        }
        let ready_check = self.ready_cmd.as_ref().map(ready_check).transpose()?;
        let positive =
            |v: Option<i32>, default: i32, max: i32, what: &str| match v.unwrap_or(default) {
                v if (1..=max).contains(&v) => Ok(v),
                _ => Err(format!("{what} must be between 1 and {max}")),
            };
        let spec = BuildSpec {
            name,
            from_image,
            steps,
            start_cmd,
            ready_check,
            vcpu: positive(self.cpu, 2, 64, "cpu")?,
            memory_mb: positive(self.memory, 2048, 262_144, "memory")?,
            disk_gb: positive(self.disk_gb, 10, 1024, "diskGB")?,
            isolation: match self.isolation {
                Some(i) => i.parse().map_err(|e: UnknownIsolation| e.to_string())?,
                None => Isolation::default(),
            },
            no_cache: self.skip_cache,
        };
        Ok((spec, self.registry_credentials))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_registry_password_is_not_in_debug() {
        let req: BuildRequest = serde_json::from_value(json!({
            "name": "t", "fromImage": "registry.example/x",
            "registry_credentials": {"username": "u", "password": "hunter2-pw"},
        }))
        .unwrap();
        let shown = format!("{req:?}");
        assert!(shown.contains("registry_credentials"), "{shown}");
        assert!(!shown.contains("hunter2-pw"), "{shown}");
    }

    fn spec(body: Value) -> Result<BuildSpec, Bad> {
        serde_json::from_value::<BuildRequest>(body)
            .unwrap()
            .check()
            .map(|(s, _)| s)
    }

    #[test]
    fn isolation_is_container_unless_gvisor_is_asked() {
        let body = |isolation: Value| {
            json!({"name": "t", "from_image": "img", "isolation": isolation,
                   "steps": [{"type": "RUN", "args": ["true"]}]})
        };
        assert_eq!(
            spec(body(Value::Null)).unwrap().isolation,
            Isolation::Container
        );
        assert_eq!(
            spec(body(json!("gvisor"))).unwrap().isolation,
            Isolation::Gvisor
        );
        let err = spec(body(json!("Gvisor"))).unwrap_err();
        assert!(err.contains("unknown isolation"), "{err}");
    }

    #[test]
    fn python_and_js_shapes_give_the_same_dockerfile() {
        let py = spec(json!({
            "name": "t", "from_image": "debian:bookworm-slim",
            "steps": [
                {"type": "ENV", "args": ["A", "x \"$y\""]},
                {"type": "WORKDIR", "args": ["/app"]},
                {"type": "COPY", "args": ["a.py,./lib", "/app/"], "filesHash": "abc"},
                {"type": "RUN", "args": ["echo hi\necho there"]},
            ],
            "startCmd": "python3 -m http.server 8000",
            "readyCmd": {"type": "port", "port": 8000, "timeout": 30000, "interval": 2000},
        }))
        .unwrap();
        let js = spec(json!({
            "name": "t", "from_image": "debian:bookworm-slim",
            "steps": [
                {"type": "env", "key": "A", "value": "x \"$y\""},
                {"type": "workdir", "path": "/app"},
                {"type": "COPY", "args": ["a.py,./lib", "/app/"], "filesHash": "abc"},
                {"type": "RUN", "args": ["echo hi\necho there"]},
            ],
            "startCmd": "python3 -m http.server 8000",
            "readyCmd": {"type": "port", "port": 8000},
        }))
        .unwrap();
        assert_eq!(py.dockerfile(), js.dockerfile());
        assert_eq!(
            py.dockerfile(),
            "FROM debian:bookworm-slim\n\
             ENV A=\"x \\\"\\$y\\\"\"\n\
             WORKDIR /app\n\
             COPY [\"abc/a.py\",\"abc/lib\",\"/app/\"]\n\
             RUN [\"/bin/sh\",\"-c\",\"echo hi\\necho there\"]\n\
             ENV WARREN_AGENT_READY_CHECK=\"port:8000\"\n\
             CMD [\"/bin/sh\",\"-c\",\"cd \\\"$1\\\" && eval \\\"$2\\\"\",\"start\",\"/app\",\"python3 -m http.server 8000\"]\n"
        );
        assert_eq!(py.files_hashes(), ["abc"]);
    }

    #[test]
    fn skip_cache_adds_a_cache_buster_before_the_step() {
        let s = spec(json!({"name": "t", "from_image": "x", "steps": [
            {"type": "RUN", "args": ["a"]},
            {"type": "RUN", "args": ["b"], "skipCache": true},
        ]}))
        .unwrap();
        assert!(
            s.dockerfile()
                .contains("RUN [\"/bin/sh\",\"-c\",\"a\"]\nARG WARREN_CACHE_BUST_1\nRUN")
        );
        assert_eq!(
            s.cache_busters("n"),
            [("WARREN_CACHE_BUST_1".to_owned(), "n".to_owned())]
        );
    }

    #[test]
    fn what_could_inject_an_instruction_is_refused() {
        for (steps, from) in [
            (json!([{"type": "ENV", "args": ["A", "1\nRUN x"]}]), "x"),
            (json!([{"type": "WORKDIR", "args": ["/a\nRUN x"]}]), "x"),
            (json!([{"type": "USER", "args": ["root\nRUN x"]}]), "x"),
            (
                json!([{"type": "COPY", "args": ["../etc", "/"], "filesHash": "h"}]),
                "x",
            ),
            (
                json!([{"type": "COPY", "args": ["a", "/"], "filesHash": "../h"}]),
                "x",
            ),
            (
                json!([{"type": "ENV", "args": ["WARREN_AGENT_USER", "0:0"]}]),
                "x",
            ),
            (json!([{"type": "NOPE", "args": []}]), "x"),
            (json!([]), "debian\nRUN x"),
        ] {
            let r = spec(json!({"name": "t", "from_image": from, "steps": steps}));
            assert!(r.is_err(), "{steps} accepted");
        }
        assert!(spec(json!({"name": "123", "from_image": "x"})).is_err());
        assert!(spec(json!({"name": "t", "from_image": "x", "cpu": 0})).is_err());
    }

    #[test]
    fn ready_checks_map_to_the_agents_checks() {
        let check = |r: Value| ready_check(&serde_json::from_value(r).unwrap()).unwrap();
        assert_eq!(
            check(json!({"type": "file", "path": "/tmp/ok"})),
            "file:/tmp/ok"
        );
        assert_eq!(
            check(json!({"type": "process", "name": "nginx"})),
            "process:nginx"
        );
        assert_eq!(
            check(json!({"type": "command", "command": "true"})),
            "command:true"
        );
        assert!(
            check(json!({"type": "url", "url": "http://localhost:8000/"}))
                .starts_with("command:curl")
        );
    }
}
