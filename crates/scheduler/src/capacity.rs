//! Admission control: a create (or a start, or a warm-pool refill) that would commit more vCPU,
//! memory or disk than this host is configured to give is refused with 503 `INSUFFICIENT_CAPACITY`;
//! one that would give its organization more than `capacity.org_share_percent` of any of them with
//! 403 `RESOURCE_LIMIT_ERROR`.
//!
//! The decision is made in Postgres, under an advisory lock taken in the same transaction that writes
//! the row holding the resources, so every replica sharing the database agrees. Creating, running
//! and paused sandboxes and every pool row count; for disk, stopped sandboxes too (their subvolume
//! is kept); failed ones not. The warm pool yields: a requested sandbox that does not fit evicts
//! ready pooled sandboxes (oldest first) when that makes it fit, while the pool refill never
//! displaces anything.

use std::path::Path;

use sqlx::PgConnection;

use api_error::ApiError;
use db::{self, capacity::Committed};
use settings::CapacitySettings;

/// The default vCPU capacity is this many times the host's CPUs: a vCPU is a CPU quota, and idle
/// sandboxes use none.
pub const CPU_OVERCOMMIT: u32 = 4;

/// What all live sandboxes together may be given, and the percent of it one organization may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub limits: Committed,
    pub org_share_percent: i64,
}

/// What a sandbox asks to be admitted with: whose it is (none for the warm pool) and what it adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub org_id: Option<i64>,
    pub vcpu: i32,
    pub memory_mb: i32,
    /// Disk it adds: 0 to start a stopped sandbox, whose disk is held already.
    pub disk_mb: i32,
}

/// The first resource of which `ask` does not fit beside `in_use` under `limits`: (name, requested,
/// in use, limit).
fn shortfall(
    limits: Committed,
    in_use: Committed,
    ask: Ask,
) -> Option<(&'static str, i64, i64, i64)> {
    [
        ("vcpu", ask.vcpu, in_use.vcpu, limits.vcpu),
        (
            "memory_mb",
            ask.memory_mb,
            in_use.memory_mb,
            limits.memory_mb,
        ),
        ("disk_mb", ask.disk_mb, in_use.disk_mb, limits.disk_mb),
    ]
    .into_iter()
    .map(|(name, requested, used, limit)| (name, i64::from(requested), used, limit))
    .find(|(_, requested, used, limit)| used + requested > *limit)
}

impl Capacity {
    /// `[capacity]`, with unset values taken from this host; the default disk capacity is the size
    /// of the filesystem at `disk_pool` (the runtime's sandbox disk) × `disk_overcommit`, unlimited
    /// without one.
    pub fn from_settings(settings: &CapacitySettings, disk_pool: Option<&Path>) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as i64);
        let disk_mb = match settings.disk_mb {
            Some(mb) => i64::from(mb),
            None => disk_pool
                .and_then(filesystem_mb)
                .map_or(i64::MAX, |mb| mb * i64::from(settings.disk_overcommit)),
        };
        Self {
            limits: Committed {
                vcpu: settings
                    .vcpu
                    .map_or(cpus * i64::from(CPU_OVERCOMMIT), i64::from),
                memory_mb: settings.memory_mb.map_or_else(host_memory_mb, i64::from),
                disk_mb,
            },
            org_share_percent: i64::from(settings.org_share_percent),
        }
    }

    /// The machine's capacity fits `ask` beside what it holds.
    fn check_machine(&self, machine: Committed, ask: Ask) -> Result<(), ApiError> {
        match shortfall(self.limits, machine, ask) {
            None => Ok(()),
            Some((resource, requested, in_use, limit)) => Err(ApiError::CapacityExceeded {
                resource,
                requested,
                in_use,
                limit,
            }),
        }
    }

    /// The organization's share fits `ask` beside what it holds (the pool has no share).
    fn check_org(&self, organization: Committed, ask: Ask) -> Result<(), ApiError> {
        if ask.org_id.is_none() || self.org_share_percent >= 100 {
            return Ok(());
        }
        let share = |limit: i64| limit.saturating_mul(self.org_share_percent) / 100;
        let limits = Committed {
            vcpu: share(self.limits.vcpu),
            memory_mb: share(self.limits.memory_mb),
            disk_mb: share(self.limits.disk_mb),
        };
        match shortfall(limits, organization, ask) {
            None => Ok(()),
            Some((resource, requested, in_use, limit)) => Err(ApiError::OrgShareExceeded {
                resource,
                requested,
                in_use,
                limit,
            }),
        }
    }

    /// Admits `ask`, or refuses it. Call inside the transaction that then writes the row holding
    /// the resources; the lock is held until it ends.
    pub async fn admit(&self, conn: &mut PgConnection, ask: Ask) -> Result<(), ApiError> {
        db::capacity::lock(conn).await?;
        let held = db::capacity::sum(conn, ask.org_id).await?;
        self.check_org(held.organization, ask)?;
        self.check_machine(held.machine, ask)
    }

    /// Admits the claim of a warm-pool sandbox by `ask.org_id`: the machine already holds what it
    /// has, so only the organization's share is checked.
    pub async fn admit_claim(&self, conn: &mut PgConnection, ask: Ask) -> Result<(), ApiError> {
        db::capacity::lock(conn).await?;
        let held = db::capacity::sum(conn, ask.org_id).await?;
        self.check_org(held.organization, ask)
    }

    /// [`Capacity::admit`] for a requested sandbox: when it does not fit the machine, ready
    /// warm-pool sandboxes are evicted (their rows deleted in this transaction) as long as that
    /// helps. Returns the evicted ids; the caller destroys them in the runtime after committing.
    pub async fn admit_evicting(
        &self,
        conn: &mut PgConnection,
        ask: Ask,
    ) -> Result<Vec<String>, ApiError> {
        db::capacity::lock(conn).await?;
        let mut evicted = Vec::new();
        loop {
            let held = db::capacity::sum(conn, ask.org_id).await?;
            // Evicting the pool frees nothing of the organization's share.
            self.check_org(held.organization, ask)?;
            let Err(refusal) = self.check_machine(held.machine, ask) else {
                return Ok(evicted);
            };
            let Some(gone) = db::pool::evict_oldest(&mut *conn).await? else {
                return Err(refusal);
            };
            evicted.push(gone.id);
        }
    }
}

/// Size of the filesystem at `path` in MiB, if it can be read.
fn filesystem_mb(path: &Path) -> Option<i64> {
    let stat = nix::sys::statvfs::statvfs(path).ok()?;
    let bytes = u128::from(stat.blocks()) * u128::from(stat.fragment_size());
    i64::try_from(bytes >> 20).ok()
}

/// `MemTotal` of `/proc/meminfo` in MiB (1 GiB where that cannot be read).
fn host_memory_mb() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| parse_mem_total_kib(&s))
        .map_or(1024, |kib| kib / 1024)
}

fn parse_mem_total_kib(meminfo: &str) -> Option<i64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(vcpu: i32, memory_mb: i32, disk_mb: i32) -> Ask {
        Ask {
            org_id: Some(1),
            vcpu,
            memory_mb,
            disk_mb,
        }
    }

    fn committed(vcpu: i64, memory_mb: i64, disk_mb: i64) -> Committed {
        Committed {
            vcpu,
            memory_mb,
            disk_mb,
        }
    }

    #[test]
    fn defaults_come_from_the_host_and_settings_win() {
        let host = Capacity::from_settings(&CapacitySettings::default(), None);
        assert!(host.limits.vcpu >= i64::from(CPU_OVERCOMMIT));
        assert!(host.limits.memory_mb > 0);
        assert_eq!(host.limits.disk_mb, i64::MAX, "no disk pool: unlimited");
        assert_eq!(host.org_share_percent, 100);
        let dir = tempfile::tempdir().unwrap();
        let pooled = Capacity::from_settings(&CapacitySettings::default(), Some(dir.path()));
        let fs_mb = filesystem_mb(dir.path()).unwrap();
        assert_eq!(pooled.limits.disk_mb, fs_mb * 128);
        let set = Capacity::from_settings(
            &CapacitySettings {
                vcpu: Some(3),
                memory_mb: Some(4096),
                disk_mb: Some(10240),
                disk_overcommit: 2,
                org_share_percent: 50,
            },
            Some(dir.path()),
        );
        assert_eq!(
            set,
            Capacity {
                limits: committed(3, 4096, 10240),
                org_share_percent: 50,
            }
        );
        assert_eq!(
            parse_mem_total_kib("MemFree: 1 kB\nMemTotal:       24684556 kB\n"),
            Some(24_684_556)
        );
    }

    #[test]
    fn check_refuses_the_first_resource_that_overflows() {
        let cap = Capacity {
            limits: committed(4, 4096, 1000),
            org_share_percent: 100,
        };
        let used = committed(3, 1024, 500);
        assert!(
            cap.check_machine(used, ask(1, 3072, 500)).is_ok(),
            "exactly full fits"
        );
        let refused = |a| match cap.check_machine(used, a) {
            Err(ApiError::CapacityExceeded {
                resource, limit, ..
            }) => (resource, limit),
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(ask(2, 512, 0)), ("vcpu", 4));
        assert_eq!(refused(ask(1, 3073, 0)), ("memory_mb", 4096));
        assert_eq!(refused(ask(1, 512, 501)), ("disk_mb", 1000));
    }

    #[test]
    fn an_organization_is_held_to_its_share_and_the_pool_to_none() {
        let mut cap = Capacity {
            limits: committed(10, 10_000, 100_000),
            org_share_percent: 30,
        };
        let org = committed(2, 1000, 0);
        assert!(
            cap.check_org(org, ask(1, 2000, 30_000)).is_ok(),
            "exactly its share"
        );
        match cap.check_org(org, ask(2, 0, 0)) {
            Err(ApiError::OrgShareExceeded {
                resource,
                requested,
                in_use,
                limit,
            }) => assert_eq!((resource, requested, in_use, limit), ("vcpu", 2, 2, 3)),
            other => panic!("{other:?}"),
        }
        let pool = Ask {
            org_id: None,
            ..ask(9, 0, 0)
        };
        assert!(cap.check_org(org, pool).is_ok());
        cap.org_share_percent = 100;
        assert!(
            cap.check_org(org, ask(9, 0, 0)).is_ok(),
            "100: no share limit"
        );
    }
}
