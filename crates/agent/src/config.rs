//! Agent settings, read once at start from `WARREN_AGENT_*` variables and argv (documented in
//! `docs/agent.md`). The variables are removed from the environment user code sees. Secrets may
//! instead come from a root-only file named by `WARREN_AGENT_SECRETS_FILE`, so that they are in no
//! process environment at all.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// Prefix of every variable the agent reads; none of them reach user code.
pub const ENV_PREFIX: &str = "WARREN_AGENT_";
/// The variable naming the secrets file: `WARREN_AGENT_*=VALUE` lines, read at start.
const SECRETS_FILE: &str = "SECRETS_FILE";

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Everything the agent needs to know at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the HTTP server binds (`WARREN_AGENT_LISTEN`, default `0.0.0.0:7777`).
    pub listen: SocketAddr,
    /// Default working directory of executions (`WARREN_AGENT_WORKSPACE`, default `/workspace`).
    pub workspace: PathBuf,
    /// Directory for scratch files (code files of executions) (`WARREN_AGENT_TMP`, default `/tmp`).
    pub tmp_dir: PathBuf,
    /// Sandbox id, when known at start (`WARREN_AGENT_SANDBOX_ID`).
    pub sandbox_id: Option<String>,
    /// Hex token key, when known at start (`WARREN_AGENT_TOKEN_KEY`).
    pub token_key: Option<SecretString>,
    /// Secret that authorizes the one-time configure step (`WARREN_AGENT_CONFIGURE_SECRET`).
    pub configure_secret: Option<SecretString>,
    /// The secrets file read at start (`WARREN_AGENT_SECRETS_FILE`); the files API refuses it.
    pub secrets_file: Option<PathBuf>,
    /// Longest lifetime in seconds an agent token may claim; tokens expiring later are refused
    /// (`WARREN_AGENT_MAX_TOKEN_LIFETIME`, default 7 days).
    pub max_token_lifetime: i64,
    /// uid:gid user code runs as (`WARREN_AGENT_USER`, default `1000:1000` as root, else unchanged).
    pub run_as: Option<(u32, u32)>,
    /// Python interpreter for the kernel and python runs (`WARREN_AGENT_PYTHON`, default `python3`).
    pub python: String,
    /// Bytes of stdout and of stderr kept per execution (`WARREN_AGENT_OUTPUT_LIMIT`, default 1 MiB).
    pub output_limit: usize,
    /// Executions running at once (`WARREN_AGENT_MAX_CONCURRENT`, default 16); others wait.
    pub max_concurrent: usize,
    /// Largest accepted upload in bytes (`WARREN_AGENT_MAX_UPLOAD`, default 1 GiB).
    pub max_upload: u64,
    /// Time a client has to send a request's head, and on a keep-alive connection the longest wait
    /// for the next request (`WARREN_AGENT_HEADER_READ_TIMEOUT`, seconds, default 60: longer than
    /// the router keeps an idle connection, so the router is the side that closes it).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight this long is closed (`WARREN_AGENT_IDLE_TIMEOUT`,
    /// seconds, default 120).
    pub idle_timeout: Duration,
    /// Connections open at once (`WARREN_AGENT_MAX_CONNECTIONS`, default 1024); more get 503.
    pub max_connections: usize,
    /// WebSockets open at once (`WARREN_AGENT_MAX_STREAMS`, default 256); more get 429.
    pub max_streams: usize,
    /// Slowest request body accepted, uploads included: `WARREN_AGENT_BODY_MIN_RATE` bytes per second
    /// (default 1024) over `WARREN_AGENT_BODY_RATE_WINDOW` seconds (default 30); slower is cut, 408.
    pub body_rate: listener::MinRate,
    /// Ready check (`WARREN_AGENT_READY_CHECK`): `port:N`, `file:PATH`, `process:NAME` or `command:SHELL`.
    pub ready_check: Option<ReadyCheck>,
    /// The image's start command (argv after the options, or `WARREN_AGENT_START_CMD` run by `/bin/sh -c`).
    pub start_command: Vec<String>,
    /// Base environment of user code: the agent's own environment minus `WARREN_AGENT_*`.
    pub base_env: BTreeMap<String, String>,
    /// A directory whose subdirectories (`pids/`, `memory/`) are cgroups every user process is moved
    /// into before it runs (`WARREN_AGENT_USER_CGROUP`; the Docker backend mounts them at
    /// `/.warren/cgroup` with limits below the sandbox's own, so the agent keeps headroom).
    pub user_cgroup: Option<PathBuf>,
    /// `RLIMIT_NPROC` of user processes (`WARREN_AGENT_USER_NPROC`; set under gVisor, where it counts
    /// the sandbox's processes only).
    pub user_nproc: Option<u64>,
    /// The public URL of this sandbox's desktop viewer port, e.g.
    /// `http://6080-abc.sandbox.localhost:8080` (`WARREN_AGENT_VIEWER_BASE`; the agent cannot know
    /// its external host, so the control plane hands it over; a claimed pool sandbox gets it in the
    /// configure step instead).
    pub viewer_base: Option<String>,
    /// The sandbox's preview epoch, which preview links are signed for
    /// (`WARREN_AGENT_PREVIEW_EPOCH`, default 0).
    pub preview_epoch: i64,
}

/// A template's readiness condition; `/health` answers 503 until it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyCheck {
    Port(u16),
    File(PathBuf),
    Process(String),
    Command(String),
}

impl ReadyCheck {
    fn parse(s: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid {
            name: "WARREN_AGENT_READY_CHECK",
            reason: reason.to_owned(),
        };
        let (kind, arg) = s
            .split_once(':')
            .ok_or_else(|| invalid("expected KIND:ARG"))?;
        match kind {
            "port" => arg.parse().map(Self::Port).map_err(|_| invalid("bad port")),
            "file" => Ok(Self::File(arg.into())),
            "process" => Ok(Self::Process(arg.to_owned())),
            "command" => Ok(Self::Command(arg.to_owned())),
            _ => Err(invalid("kind must be port, file, process or command")),
        }
    }
}

impl Config {
    /// Reads the settings from `vars` (the process environment) and `args` (argv without argv[0]).
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Self, ConfigError> {
        let mut own = BTreeMap::new();
        let mut base_env = BTreeMap::new();
        for (k, v) in vars {
            match k.strip_prefix(ENV_PREFIX) {
                Some(name) => {
                    own.insert(name.to_owned(), v);
                }
                None => {
                    base_env.insert(k, v);
                }
            }
        }
        if let Some(path) = own.get(SECRETS_FILE).filter(|p| !p.is_empty()) {
            own.extend(read_secrets(path.as_ref())?);
        }
        let get = |k: &str| own.get(k).filter(|v| !v.is_empty()).cloned();
        let listen = parse_or(
            get("LISTEN"),
            "WARREN_AGENT_LISTEN",
            "0.0.0.0:7777".parse().ok(),
        )?;
        let is_root = nix::unistd::geteuid().is_root();
        let run_as = match get("USER") {
            Some(u) => Some(parse_user(&u)?),
            None if is_root => Some((1000, 1000)),
            None => None,
        };
        let mut start_command: Vec<String> = args.into_iter().collect();
        if start_command.first().map(String::as_str) == Some("--") {
            start_command.remove(0);
        }
        if start_command.is_empty()
            && let Some(cmd) = get("START_CMD")
        {
            start_command = vec!["/bin/sh".into(), "-c".into(), cmd];
        }
        Ok(Self {
            listen,
            workspace: get("WORKSPACE")
                .unwrap_or_else(|| "/workspace".into())
                .into(),
            tmp_dir: get("TMP").unwrap_or_else(|| "/tmp".into()).into(),
            sandbox_id: get("SANDBOX_ID"),
            token_key: get("TOKEN_KEY").map(SecretString::from),
            configure_secret: get("CONFIGURE_SECRET").map(SecretString::from),
            secrets_file: get(SECRETS_FILE).map(PathBuf::from),
            max_token_lifetime: parse_or(
                get("MAX_TOKEN_LIFETIME"),
                "WARREN_AGENT_MAX_TOKEN_LIFETIME",
                Some(sandbox_token::DEFAULT_MAX_LIFETIME_SECONDS),
            )?,
            run_as,
            python: get("PYTHON").unwrap_or_else(|| "python3".into()),
            output_limit: parse_or(
                get("OUTPUT_LIMIT"),
                "WARREN_AGENT_OUTPUT_LIMIT",
                Some(1 << 20),
            )?,
            max_concurrent: parse_or(
                get("MAX_CONCURRENT"),
                "WARREN_AGENT_MAX_CONCURRENT",
                Some(16),
            )?
            .max(1),
            max_upload: parse_or(get("MAX_UPLOAD"), "WARREN_AGENT_MAX_UPLOAD", Some(1 << 30))?,
            header_read_timeout: seconds(
                get("HEADER_READ_TIMEOUT"),
                "WARREN_AGENT_HEADER_READ_TIMEOUT",
                60,
            )?,
            idle_timeout: seconds(get("IDLE_TIMEOUT"), "WARREN_AGENT_IDLE_TIMEOUT", 120)?,
            max_connections: positive(
                get("MAX_CONNECTIONS"),
                "WARREN_AGENT_MAX_CONNECTIONS",
                1024,
            )?,
            max_streams: positive(get("MAX_STREAMS"), "WARREN_AGENT_MAX_STREAMS", 256)?,
            body_rate: listener::MinRate {
                bytes_per_second: parse_or(
                    get("BODY_MIN_RATE"),
                    "WARREN_AGENT_BODY_MIN_RATE",
                    Some(1024),
                )?,
                window: seconds(get("BODY_RATE_WINDOW"), "WARREN_AGENT_BODY_RATE_WINDOW", 30)?,
            },
            ready_check: get("READY_CHECK")
                .map(|s| ReadyCheck::parse(&s))
                .transpose()?,
            start_command,
            base_env,
            user_cgroup: get("USER_CGROUP").map(PathBuf::from),
            user_nproc: get("USER_NPROC")
                .map(|v| parse_or(Some(v), "WARREN_AGENT_USER_NPROC", None))
                .transpose()?,
            viewer_base: get("VIEWER_BASE"),
            preview_epoch: parse_or(get("PREVIEW_EPOCH"), "WARREN_AGENT_PREVIEW_EPOCH", Some(0))?,
        })
    }
}

/// The `WARREN_AGENT_NAME=VALUE` lines of the secrets file, as `NAME` and `VALUE`.
fn read_secrets(path: &std::path::Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "WARREN_AGENT_SECRETS_FILE",
        reason,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.split_once('=')
                .and_then(|(k, v)| Some((k.strip_prefix(ENV_PREFIX)?.to_owned(), v.to_owned())))
                .ok_or_else(|| invalid(format!("expected {ENV_PREFIX}NAME=VALUE lines")))
        })
        .collect()
}

fn parse_or<T: std::str::FromStr>(
    v: Option<String>,
    name: &'static str,
    default: Option<T>,
) -> Result<T, ConfigError> {
    match v {
        Some(s) => s.parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("cannot parse {s:?}"),
        }),
        None => default.ok_or(ConfigError::Invalid {
            name,
            reason: "missing".into(),
        }),
    }
}

/// A positive number, `default` when unset.
fn positive<T: std::str::FromStr + Default + PartialEq>(
    v: Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    let n = parse_or(v, name, Some(default))?;
    if n == T::default() {
        return Err(ConfigError::Invalid {
            name,
            reason: "must be positive".into(),
        });
    }
    Ok(n)
}

fn seconds(v: Option<String>, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    positive(v, name, default).map(Duration::from_secs)
}

fn parse_user(s: &str) -> Result<(u32, u32), ConfigError> {
    let invalid = || ConfigError::Invalid {
        name: "WARREN_AGENT_USER",
        reason: "expected UID or UID:GID".into(),
    };
    let (u, g) = s.split_once(':').unwrap_or((s, s));
    Ok((
        u.parse().map_err(|_| invalid())?,
        g.parse().map_err(|_| invalid())?,
    ))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn agent_variables_never_reach_the_base_env() {
        let c = Config::from_env(
            vars(&[
                ("WARREN_AGENT_TOKEN_KEY", "ab"),
                ("WARREN_AGENT_USER", "1234"),
                ("PATH", "/bin"),
            ]),
            ["--".to_owned(), "sleep".into(), "1".into()],
        )
        .unwrap();
        assert_eq!(c.base_env.keys().collect::<Vec<_>>(), ["PATH"]);
        assert_eq!(
            c.token_key.as_ref().map(ExposeSecret::expose_secret),
            Some("ab")
        );
        assert_eq!(c.run_as, Some((1234, 1234)));
        assert_eq!(c.start_command, ["sleep", "1"]);
    }

    #[test]
    fn secrets_come_from_the_secrets_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets");
        std::fs::write(
            &path,
            "WARREN_AGENT_TOKEN_KEY=cd\nWARREN_AGENT_SANDBOX_ID=s1\n",
        )
        .unwrap();
        let file = path.display().to_string();
        let c = Config::from_env(vars(&[("WARREN_AGENT_SECRETS_FILE", &file)]), []).unwrap();
        assert_eq!(
            c.token_key.as_ref().map(ExposeSecret::expose_secret),
            Some("cd")
        );
        assert_eq!(c.sandbox_id.as_deref(), Some("s1"));
        assert!(c.base_env.is_empty());
        std::fs::write(&path, "TOKEN_KEY=cd\n").unwrap();
        assert!(Config::from_env(vars(&[("WARREN_AGENT_SECRETS_FILE", &file)]), []).is_err());
    }

    #[test]
    fn debug_shows_no_secret() {
        let c = Config::from_env(
            vars(&[
                ("WARREN_AGENT_TOKEN_KEY", "token-key-hex-1"),
                ("WARREN_AGENT_CONFIGURE_SECRET", "configure-secret-1"),
            ]),
            [],
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("configure_secret"), "{shown}");
        for secret in ["token-key-hex-1", "configure-secret-1"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn listener_limits_default_and_must_be_positive() {
        let c = Config::from_env(vars(&[("WARREN_AGENT_MAX_STREAMS", "3")]), []).unwrap();
        assert_eq!(c.header_read_timeout, Duration::from_secs(60));
        assert_eq!(c.max_streams, 3);
        assert_eq!(c.body_rate.bytes_per_second, 1024);
        assert!(Config::from_env(vars(&[("WARREN_AGENT_IDLE_TIMEOUT", "0")]), []).is_err());
    }

    #[test]
    fn the_viewer_link_comes_from_the_environment() {
        let c = Config::from_env(
            vars(&[
                (
                    "WARREN_AGENT_VIEWER_BASE",
                    "http://6080-s1.sandbox.localhost:8080",
                ),
                ("WARREN_AGENT_PREVIEW_EPOCH", "4"),
            ]),
            [],
        )
        .unwrap();
        assert_eq!(
            c.viewer_base.as_deref(),
            Some("http://6080-s1.sandbox.localhost:8080")
        );
        assert_eq!(c.preview_epoch, 4);
        let unset = Config::from_env(vars(&[]), []).unwrap();
        assert_eq!((unset.viewer_base, unset.preview_epoch), (None, 0));
        let err = Config::from_env(vars(&[("WARREN_AGENT_PREVIEW_EPOCH", "x")]), [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("WARREN_AGENT_PREVIEW_EPOCH"), "{err}");
    }

    #[test]
    fn ready_checks_parse() {
        assert_eq!(
            ReadyCheck::parse("port:8080").unwrap(),
            ReadyCheck::Port(8080)
        );
        assert!(ReadyCheck::parse("port:x").is_err());
        assert!(ReadyCheck::parse("nope").is_err());
    }
}
