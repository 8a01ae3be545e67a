//! Admission control: a create (or a start, or a warm-pool refill) that would commit more vCPU or
//! memory than this host is configured to give is refused with 503 `INSUFFICIENT_CAPACITY`.
//!
//! The decision is made in Postgres, under an advisory lock taken in the same transaction that writes
//! the row holding the resources, so every replica sharing the database agrees. Creating, running
//! and paused sandboxes and every pool row count; stopped and failed ones do not. The warm pool
//! yields: a requested sandbox that does not fit evicts ready pooled sandboxes (oldest first) when
//! that makes it fit, while the pool refill never displaces anything.

use sqlx::PgConnection;

use crate::config::CapacitySettings;
use crate::db::{self, capacity::Committed};
use crate::error::ApiError;

/// The default vCPU capacity is this many times the host's CPUs: a vCPU is a CPU quota, and idle
/// sandboxes use none.
pub const CPU_OVERCOMMIT: u32 = 4;

/// What all live sandboxes together may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub vcpu: i64,
    pub memory_mb: i64,
}

impl Capacity {
    /// `[capacity]`, with unset values taken from this host.
    pub fn from_settings(settings: &CapacitySettings) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as i64);
        Self {
            vcpu: settings
                .vcpu
                .map_or(cpus * i64::from(CPU_OVERCOMMIT), i64::from),
            memory_mb: settings.memory_mb.map_or_else(host_memory_mb, i64::from),
        }
    }

    /// Whether `vcpu` and `memory_mb` more fit beside what is `committed`.
    fn check(&self, committed: Committed, vcpu: i32, memory_mb: i32) -> Result<(), ApiError> {
        let wanted = [
            ("vcpu", i64::from(vcpu), committed.vcpu, self.vcpu),
            (
                "memory_mb",
                i64::from(memory_mb),
                committed.memory_mb,
                self.memory_mb,
            ),
        ];
        for (resource, requested, in_use, limit) in wanted {
            if in_use + requested > limit {
                return Err(ApiError::CapacityExceeded {
                    resource,
                    requested,
                    in_use,
                    limit,
                });
            }
        }
        Ok(())
    }

    /// Admits a sandbox of this size, or refuses it. Call inside the transaction that then writes
    /// the row holding the resources; the lock is held until it ends.
    pub async fn admit(
        &self,
        conn: &mut PgConnection,
        vcpu: i32,
        memory_mb: i32,
    ) -> Result<(), ApiError> {
        let committed = db::capacity::lock_and_sum(conn).await?;
        self.check(committed, vcpu, memory_mb)
    }

    /// [`Capacity::admit`] for a requested sandbox: when it does not fit, ready warm-pool sandboxes
    /// are evicted (their rows deleted in this transaction) as long as that helps. Returns the evicted
    /// ids; the caller destroys them in the runtime after committing.
    pub async fn admit_evicting(
        &self,
        conn: &mut PgConnection,
        vcpu: i32,
        memory_mb: i32,
    ) -> Result<Vec<String>, ApiError> {
        let mut committed = db::capacity::lock_and_sum(conn).await?;
        let mut evicted = Vec::new();
        while let Err(refusal) = self.check(committed, vcpu, memory_mb) {
            let Some(gone) = db::pool::evict_oldest(&mut *conn).await? else {
                return Err(refusal);
            };
            committed.vcpu -= i64::from(gone.vcpu);
            committed.memory_mb -= i64::from(gone.memory_mb);
            evicted.push(gone.id);
        }
        Ok(evicted)
    }
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

    #[test]
    fn defaults_come_from_the_host_and_settings_win() {
        let host = Capacity::from_settings(&CapacitySettings::default());
        assert!(host.vcpu >= i64::from(CPU_OVERCOMMIT));
        assert!(host.memory_mb > 0);
        let set = Capacity::from_settings(&CapacitySettings {
            vcpu: Some(3),
            memory_mb: Some(4096),
        });
        assert_eq!(
            set,
            Capacity {
                vcpu: 3,
                memory_mb: 4096
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
            vcpu: 4,
            memory_mb: 4096,
        };
        let used = Committed {
            vcpu: 3,
            memory_mb: 1024,
        };
        assert!(cap.check(used, 1, 3072).is_ok(), "exactly full fits");
        match cap.check(used, 2, 512) {
            Err(ApiError::CapacityExceeded {
                resource, limit, ..
            }) => assert_eq!((resource, limit), ("vcpu", 4)),
            other => panic!("{other:?}"),
        }
        match cap.check(used, 1, 3073) {
            Err(ApiError::CapacityExceeded { resource, .. }) => assert_eq!(resource, "memory_mb"),
            other => panic!("{other:?}"),
        }
    }
}
