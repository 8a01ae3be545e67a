//! The embedded mode: with no `database.url`, `warren` runs its own Postgres in `embedded.data_dir`
//! ([`postgres::Cluster`]) for the command at hand. `serve` holds the data directory's lock and
//! stops the cluster when it stops; the other commands start it when it is not running (and stop it
//! again), or use the one a running `serve` started.

pub mod postgres;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::DirBuilderExt as _;

use anyhow::Context as _;
use nix::fcntl::{Flock, FlockArg};
use secrecy::SecretString;

use postgres::Cluster;
use settings::Settings;

/// The embedded database of one command; dropping it stops the cluster if this command owns it.
pub struct Embedded {
    // Dropped in this order: the cluster stops before the lock is released.
    _cluster: Cluster,
    _lock: Option<Flock<File>>,
}

/// In the embedded mode, the running cluster, with `settings.database.url` pointing at it; `None`
/// when a database URL is configured. `serve` owns the cluster: it takes the data directory's lock
/// (one `serve` per data directory) and stops the cluster when dropped.
pub async fn open(settings: &mut Settings, serve: bool) -> anyhow::Result<Option<Embedded>> {
    if !settings.database.is_embedded() {
        return Ok(None);
    }
    let data_dir = settings.embedded.data_dir()?;
    // Searchable by all: as root, the cluster's owner (`postgres`) must reach its directory in it.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let lock = if serve {
        let path = data_dir.join("serve.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
            anyhow::anyhow!(
                "another `warren serve` is using the data directory {} ({e})",
                data_dir.display()
            )
        })?;
        Some(lock)
    } else {
        None
    };
    let cluster = Cluster::start(&data_dir, serve).await?;
    settings.database.url = SecretString::from(cluster.url());
    Ok(Some(Embedded {
        _cluster: cluster,
        _lock: lock,
    }))
}
