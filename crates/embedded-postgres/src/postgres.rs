//! The embedded mode's Postgres: a private cluster in `<data_dir>/postgres`, run from the locally
//! installed server binaries (`initdb`, `pg_ctl`), listening on a Unix socket in that directory only
//! (no TCP port to collide with). Postgres refuses to run as root, so as root the cluster belongs to
//! the `postgres` system user and its programs run as that user.

use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use nix::unistd::{Uid, User};
use sqlx::{Connection as _, Executor as _, PgConnection};
use tokio::process::Command;

/// The database Warren uses in the cluster.
const DATABASE: &str = "warren";
/// The port names the socket file (`.s.PGSQL.5432`); nothing listens on TCP.
const PORT: u16 = 5432;
/// The longest Unix socket path (`sun_path` less its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// A running cluster; stopped on drop when [`Cluster::start`] was told to.
pub struct Cluster {
    dir: PathBuf,
    owner: Option<User>,
    stop_on_drop: bool,
}

impl Cluster {
    /// Starts the cluster in the existing directory `data_dir` (made with `initdb` the first time)
    /// unless it is running, and creates Warren's database in it. On drop it is stopped if
    /// `stop_on_drop`, or if it was not running before.
    pub async fn start(data_dir: &Path, stop_on_drop: bool) -> anyhow::Result<Self> {
        let owner = server_user()?;
        let dir = data_dir.join("postgres");
        let socket = dir.join(format!(".s.PGSQL.{PORT}"));
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            bail!(
                "the embedded Postgres socket {} would be longer than {MAX_SOCKET_PATH} bytes: \
                 choose a shorter embedded.data_dir",
                socket.display()
            );
        }
        prepare_dir(data_dir, &dir, owner.as_ref())?;
        let mut cluster = Self {
            dir,
            owner,
            stop_on_drop: false,
        };
        if !cluster.dir.join("PG_VERSION").is_file() {
            tracing::info!(dir = %cluster.dir.display(), "initialising the embedded Postgres");
            cluster
                .run("initdb", &["-A", "trust", "-U", "postgres", "-E", "UTF8"])
                .await?;
        }
        let running = Command::from(cluster.command("pg_ctl", &["status"])?)
            .output()
            .await?
            .status
            .success();
        if !running {
            let options = format!(
                "-k {} -p {PORT} -c listen_addresses=''",
                shell_quote(&cluster.dir)?
            );
            let log = cluster.dir.join("server.log");
            let log = log.to_str().context("the data directory is not UTF-8")?;
            cluster
                .run(
                    "pg_ctl",
                    &["start", "-w", "-t", "120", "-l", log, "-o", &options],
                )
                .await
                .with_context(|| format!("starting the embedded Postgres (its log: {log})"))?;
        }
        cluster.stop_on_drop = stop_on_drop || !running;
        cluster.create_database().await?;
        Ok(cluster)
    }

    /// The URL of Warren's database, through the socket.
    pub fn url(&self) -> String {
        url(&self.dir, DATABASE)
    }

    async fn create_database(&self) -> anyhow::Result<()> {
        let mut conn = PgConnection::connect(&url(&self.dir, "postgres"))
            .await
            .context("connecting to the embedded Postgres")?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            conn.execute(format!("CREATE DATABASE {DATABASE}").as_str())
                .await?;
        }
        conn.close().await?;
        Ok(())
    }

    /// `name args -D <cluster>` from the server binaries, as the cluster's owner.
    fn command(&self, name: &str, args: &[&str]) -> anyhow::Result<std::process::Command> {
        let mut cmd = server_command(name, self.owner.as_ref())?;
        cmd.args(args).arg("-D").arg(&self.dir);
        Ok(cmd)
    }

    async fn run(&self, name: &str, args: &[&str]) -> anyhow::Result<()> {
        let out = Command::from(self.command(name, args)?)
            .output()
            .await
            .with_context(|| format!("running {name}"))?;
        if !out.status.success() {
            bail!(
                "{name} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

impl Drop for Cluster {
    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended, then a clean shutdown).
    fn drop(&mut self) {
        if !self.stop_on_drop {
            return;
        }
        let stopped = self
            .command("pg_ctl", &["stop", "-m", "fast", "-w", "-t", "120"])
            .and_then(|mut cmd| Ok(cmd.output()?));
        match stopped {
            Ok(out) if out.status.success() => tracing::info!("the embedded Postgres stopped"),
            Ok(out) => tracing::error!(
                stderr = %String::from_utf8_lossy(&out.stderr).trim(),
                "stopping the embedded Postgres failed"
            ),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "stopping the embedded Postgres failed")
            }
        }
    }
}

/// The server program `name` (see [`binary`]) run as `owner` (else as ourselves), from `/`: the
/// owner may not be allowed into the caller's working directory. Also used by the test harness.
pub fn server_command(name: &str, owner: Option<&User>) -> anyhow::Result<std::process::Command> {
    let mut cmd = std::process::Command::new(binary(name)?);
    cmd.current_dir("/");
    if let Some(u) = owner {
        cmd.uid(u.uid.as_raw())
            .gid(u.gid.as_raw())
            .env("HOME", &u.dir);
    }
    Ok(cmd)
}

/// The user the server runs as: `postgres` when we are root, else ourselves (`None`).
pub fn server_user() -> anyhow::Result<Option<User>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    User::from_name("postgres")?.map(Some).context(
        "as root, the embedded Postgres runs as the `postgres` system user, which does not exist: \
         install PostgreSQL's server package (it creates the user), or set database.url",
    )
}

/// The cluster's directory in `data_dir` (which exists), made if missing and given to the owner.
fn prepare_dir(data_dir: &Path, dir: &Path, owner: Option<&User>) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .or_else(|e| if dir.is_dir() { Ok(()) } else { Err(e) })
        .with_context(|| format!("creating {}", dir.display()))?;
    if let Some(u) = owner {
        nix::unistd::chown(dir, Some(u.uid), Some(u.gid))?;
        let mode = std::fs::metadata(data_dir)?.permissions().mode();
        if mode & 0o001 == 0 {
            bail!(
                "the `postgres` user cannot reach {} (mode {mode:o}): make it searchable \
                 (chmod o+x) or choose another embedded.data_dir",
                data_dir.display()
            );
        }
    }
    Ok(())
}

/// `name` from PATH, else from Debian's `/usr/lib/postgresql/<version>/bin` (the newest).
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    std::env::split_paths(&path)
        .chain(versions.into_iter().rev())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "`{name}` not found on PATH or in /usr/lib/postgresql/*/bin: install the PostgreSQL \
                 server (Debian: apt-get install postgresql), or set database.url"
            )
        })
}

/// `path` in single quotes, for the server options `pg_ctl` hands to a shell.
fn shell_quote(path: &Path) -> anyhow::Result<String> {
    match path.to_str() {
        Some(s) if !s.contains('\'') => Ok(format!("'{s}'")),
        _ => bail!(
            "the data directory {} must be UTF-8 without single quotes",
            path.display()
        ),
    }
}

/// A URL of `database` through the socket in `dir` (libpq's `host` parameter, percent-encoded).
fn url(dir: &Path, database: &str) -> String {
    let encoded: String = dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("postgres://postgres@localhost/{database}?host={encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_socket_directory_percent_encoded() {
        let u = url(Path::new("/var/lib/my warren/postgres"), "warren");
        assert_eq!(
            u,
            "postgres://postgres@localhost/warren?host=/var/lib/my%20warren/postgres"
        );
        let options: sqlx::postgres::PgConnectOptions = u.parse().expect("sqlx parses it");
        assert_eq!(options.get_database(), Some("warren"));
        assert_eq!(
            options.get_socket(),
            Some(Path::new("/var/lib/my warren/postgres").to_path_buf()).as_ref()
        );
    }

    #[test]
    fn quoting_refuses_what_the_shell_would_split() {
        assert_eq!(shell_quote(Path::new("/a b/c")).unwrap(), "'/a b/c'");
        assert!(shell_quote(Path::new("/it's")).is_err());
    }
}
