//! Postgres for tests.
//!
//! With `DATABASE_URL` set (a role that may `CREATE DATABASE`), tests use that server. Otherwise the
//! first test process starts a private cluster in `$TMPDIR/warren-test-pg-<hash of this checkout>`
//! (`initdb`, then `pg_ctl start` with `fsync=off`, listening on 127.0.0.1 and a free port), guarded
//! by a file lock so concurrent test processes start it once; later processes reuse it. As root the
//! server runs as the `postgres` user (it refuses to run as root). The cluster keeps running after
//! the tests; stop it with `pg_ctl -D $TMPDIR/warren-test-pg-*/data stop` (as `postgres` when root),
//! or remove the directory after a reboot.
//!
//! Each test gets its own database created from a template database migrated once per set of
//! migrations (`warren_tpl_<hash>`). Test databases are named `warren_t_<unix time>_<random>`;
//! those older than an hour are dropped when a test process next sets up.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use embedded_postgres::postgres as embedded;
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{User, chown};
use sha2::{Digest, Sha256};
use sqlx::{Connection as _, Executor as _, PgConnection};

/// A fresh database for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    /// URL of this database.
    pub url: String,
}

struct Shared {
    /// URL of the maintenance database (`postgres`) on the test server.
    admin_url: String,
    template: String,
}

/// A new, migrated, empty database.
pub async fn test_database() -> TestDatabase {
    let shared = shared();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "warren_t_{}_{}",
        nanos.as_secs(),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut admin = PgConnection::connect(&shared.admin_url)
        .await
        .expect("connect to the test server");
    admin
        .execute(format!(r#"CREATE DATABASE "{name}" TEMPLATE "{}""#, shared.template).as_str())
        .await
        .expect("create the test database");
    let _ = admin.close().await;
    TestDatabase {
        url: with_database(&shared.admin_url, &name),
        name,
    }
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        // A plain thread: setup blocks (file lock, child processes) and runs its own small runtime.
        std::thread::spawn(|| setup().unwrap_or_else(|e| panic!("test Postgres setup: {e:#}")))
            .join()
            .expect("setup thread")
    })
}

fn with_database(url: &str, name: &str) -> String {
    let mut url = reqwest::Url::parse(url).expect("valid database URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn setup() -> anyhow::Result<Shared> {
    let (admin_url, _lock) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (with_database(&url, "postgres"), None),
        _ => {
            let (url, lock) = private_cluster()?;
            (url, Some(lock))
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let template = rt.block_on(ensure_template(&admin_url))?;
    Ok(Shared {
        admin_url,
        template,
    })
}

/// Hash of the migrations, so a changed schema gets a new template.
fn migrations_hash() -> String {
    let mut h = Sha256::new();
    for m in db::MIGRATOR.iter() {
        h.update(m.version.to_le_bytes());
        h.update(&*m.checksum);
    }
    hex::encode(&h.finalize()[..6])
}

async fn ensure_template(admin_url: &str) -> anyhow::Result<String> {
    let template = format!("warren_tpl_{}", migrations_hash());
    let mut admin = PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connect to {admin_url}"))?;
    // Another process may be doing the same against a shared DATABASE_URL server: serialise.
    admin.execute("SELECT pg_advisory_lock(727274)").await?;
    drop_stale_databases(&mut admin).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let tmp = format!("{template}_tmp");
        admin
            .execute(format!(r#"DROP DATABASE IF EXISTS "{tmp}" WITH (FORCE)"#).as_str())
            .await?;
        admin
            .execute(format!(r#"CREATE DATABASE "{tmp}""#).as_str())
            .await?;
        let mut conn = PgConnection::connect(&with_database(admin_url, &tmp)).await?;
        db::MIGRATOR.run(&mut conn).await?;
        conn.close().await?;
        admin
            .execute(format!(r#"ALTER DATABASE "{tmp}" RENAME TO "{template}""#).as_str())
            .await?;
    }
    admin.execute("SELECT pg_advisory_unlock(727274)").await?;
    admin.close().await?;
    Ok(template)
}

async fn drop_stale_databases(admin: &mut PgConnection) -> anyhow::Result<()> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'warren\\_t\\_%'")
            .fetch_all(&mut *admin)
            .await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    for name in names {
        let created: u64 = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(now);
        if now.saturating_sub(created) > 3600 {
            admin
                .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                .await?;
        }
    }
    Ok(())
}

/// Starts (or finds running) the private cluster; returns its admin URL and the held lock.
fn private_cluster() -> anyhow::Result<(String, Flock<File>)> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace = workspace.canonicalize().unwrap_or(workspace);
    let tag = hex::encode(&Sha256::digest(workspace.to_string_lossy().as_bytes())[..4]);
    let dir = std::env::temp_dir().join(format!("warren-test-pg-{tag}"));
    fs::create_dir_all(&dir)?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
    let owner = server_user()?;
    if let Some(u) = &owner {
        chown(&dir, Some(u.uid), Some(u.gid))?;
    }
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("setup.lock"))?;
    let lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .context("lock the test cluster")?;

    let data = dir.join("data");
    if !data.join("PG_VERSION").exists() {
        let _ = fs::remove_dir_all(&data);
        let out = pg_command("initdb", &owner)?
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let port_file = dir.join("port");
    let running = pg_command("pg_ctl", &owner)?
        .args(["status", "-D"])
        .arg(&data)
        .output()?
        .status
        .success();
    if !running {
        let port = free_port()?;
        let opts = format!(
            "-k {} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            dir.display()
        );
        let out = pg_command("pg_ctl", &owner)?
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-o", &opts])
            .output()?;
        if !out.status.success() {
            bail!(
                "pg_ctl start failed: {}; see {}",
                String::from_utf8_lossy(&out.stderr),
                dir.join("server.log").display()
            );
        }
        File::create(&port_file)?.write_all(port.to_string().as_bytes())?;
    }
    let port: u16 = fs::read_to_string(&port_file)
        .context("read the test cluster's port")?
        .trim()
        .parse()?;
    Ok((
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        lock,
    ))
}

/// The user the server must run as: `postgres` when we are root, else ourselves.
fn server_user() -> anyhow::Result<Option<User>> {
    embedded::server_user().context("the test server (or set DATABASE_URL)")
}

fn pg_command(name: &str, owner: &Option<User>) -> anyhow::Result<Command> {
    embedded::server_command(name, owner.as_ref()).context("the test server (or set DATABASE_URL)")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
