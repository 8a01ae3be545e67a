//! Request and execution counters, and readings of the sandbox's CPU, memory and disk from `/proc`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// Counters updated by the request middleware and the execution handlers.
#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    /// Sum of request durations in microseconds.
    pub duration_us: AtomicU64,
    pub executions: AtomicU64,
    pub active_executions: AtomicU64,
}

impl Metrics {
    pub fn record_request(&self, micros: u64, is_error: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.duration_us.fetch_add(micros, Ordering::Relaxed);
        if is_error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn avg_duration_ms(&self) -> f64 {
        let n = self.requests.load(Ordering::Relaxed);
        if n == 0 {
            0.0
        } else {
            self.duration_us.load(Ordering::Relaxed) as f64 / n as f64 / 1000.0
        }
    }
}

/// Memory of the machine (or container), from `/proc/meminfo`, in bytes.
pub struct Memory {
    pub total: u64,
    pub available: u64,
}

pub fn memory() -> Memory {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Memory {
        total: field("MemTotal:"),
        available: field("MemAvailable:"),
    }
}

/// CPU busy share since boot, in percent (from `/proc/stat`).
pub fn cpu_usage_percent() -> f64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().next() else {
        return 0.0;
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    if total == 0 {
        0.0
    } else {
        100.0 * (total - idle) as f64 / total as f64
    }
}

/// Disk usage of the filesystem holding `path`: (total, free) bytes.
pub fn disk(path: &std::path::Path) -> (u64, u64) {
    match nix::sys::statvfs::statvfs(path) {
        Ok(s) => (
            s.blocks() * s.fragment_size(),
            s.blocks_available() * s.fragment_size(),
        ),
        Err(_) => (0, 0),
    }
}

/// Resident memory of the agent itself, in bytes.
pub fn own_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The `system` object shared by `/system` and `/metrics/snapshot`.
pub fn system_json(workspace: &std::path::Path) -> Value {
    let mem = memory();
    let used = mem.total.saturating_sub(mem.available);
    let (disk_total, disk_free) = disk(workspace);
    let pct = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            100.0 * part as f64 / whole as f64
        }
    };
    json!({
        "cpu": {"usage_percent": cpu_usage_percent(), "cores": cores()},
        "memory": {"total": mem.total, "used": used, "free": mem.available,
                   "usage_percent": pct(used, mem.total)},
        "disk": {"total": disk_total, "used": disk_total.saturating_sub(disk_free),
                 "free": disk_free, "usage_percent": pct(disk_total.saturating_sub(disk_free), disk_total)},
    })
}
