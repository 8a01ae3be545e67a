//! Ending groups of user processes found through `/proc`: what a foreground command leaves behind in
//! its session, and every process below the agent (`POST /processes/kill-all`).
//!
//! Both first stop every process they find (SIGSTOP), pass after pass until none is left running, so
//! that a fork bomb can neither grow nor take the CPU meanwhile, then kill them all (SIGKILL), pass
//! after pass until none is left.

use std::collections::{HashMap, HashSet};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// Passes before giving up (a process that survives SIGKILL this long is in the kernel's hands).
const MAX_PASSES: usize = 200;

/// One row of the process table.
#[derive(Debug, Clone, Copy)]
struct Entry {
    pid: i32,
    ppid: i32,
    session: i32,
    stopped: bool,
}

/// The process table: every process of `/proc` with its parent and session.
fn table() -> Vec<Entry> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The name is in parentheses and may hold anything: the fields follow the last `)`.
            let rest = &stat[stat.rfind(')')? + 2..];
            let mut fields = rest.split_whitespace();
            let state = fields.next()?;
            let ppid = fields.next()?.parse().ok()?;
            let _pgrp = fields.next()?;
            let session = fields.next()?.parse().ok()?;
            (state != "Z" && state != "X").then_some(Entry {
                pid,
                ppid,
                session,
                stopped: state == "T",
            })
        })
        .collect()
}

/// Kills every process of the session `sid` (led by a child the agent started) until none is left.
/// Returns how many were killed.
pub fn kill_session(sid: i32) -> usize {
    let me = std::process::id() as i32;
    kill_until_gone(|table| {
        let _ = killpg(Pid::from_raw(sid), Signal::SIGKILL);
        table
            .iter()
            .filter(|e| e.session == sid && e.pid != me)
            .copied()
            .collect()
    })
    .len()
}

/// Kills every descendant of the agent (orphans are re-parented to it: it is PID 1 or a subreaper)
/// except `spared` and its own descendants. Returns the pids killed.
pub fn kill_descendants(spared: Option<i32>) -> HashSet<i32> {
    let me = std::process::id() as i32;
    kill_until_gone(|table| {
        let mut children: HashMap<i32, Vec<&Entry>> = HashMap::new();
        for e in table {
            children.entry(e.ppid).or_default().push(e);
        }
        let mut found = Vec::new();
        let mut todo = vec![me];
        while let Some(pid) = todo.pop() {
            for &child in children.get(&pid).into_iter().flatten() {
                if Some(child.pid) != spared {
                    found.push(*child);
                    todo.push(child.pid);
                }
            }
        }
        found
    })
}

/// Runs passes of `select` over a fresh process table: SIGSTOP to what it selects until a pass finds
/// none of it running, then SIGKILL until a pass selects nothing. Returns the processes killed.
fn kill_until_gone(mut select: impl FnMut(&[Entry]) -> Vec<Entry>) -> HashSet<i32> {
    for _ in 0..MAX_PASSES {
        let running: Vec<Entry> = select(&table())
            .into_iter()
            .filter(|e| !e.stopped)
            .collect();
        if running.is_empty() {
            break;
        }
        for e in running {
            let _ = kill(Pid::from_raw(e.pid), Signal::SIGSTOP);
        }
    }
    let mut killed = HashSet::new();
    for _ in 0..MAX_PASSES {
        let targets = select(&table());
        if targets.is_empty() {
            break;
        }
        for e in targets {
            if kill(Pid::from_raw(e.pid), Signal::SIGKILL).is_ok() {
                killed.insert(e.pid);
            }
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_holds_this_process_and_its_session() {
        let me = std::process::id() as i32;
        let sid = nix::unistd::getsid(None).unwrap().as_raw();
        let table = super::table();
        assert!(table.iter().any(|e| e.pid == me && e.session == sid));
    }
}
