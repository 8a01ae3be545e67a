//! Background executions and commands: what `GET /execute/processes` lists and the kill routes stop.

use std::collections::BTreeMap;
use std::sync::Mutex;

use api_types::agent::{ProcessInfo, ProcessStatus};
use nix::sys::signal::Signal;

use super::capture::Outcome;
use super::spawn::signal_group;

/// Finished entries kept for listing; the oldest finished ones are dropped beyond this.
const KEEP_FINISHED: usize = 256;

/// All background processes of the sandbox, keyed by process id.
#[derive(Default)]
pub struct Registry {
    procs: Mutex<BTreeMap<String, ProcessInfo>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ProcessInfo>> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert(&self, info: ProcessInfo) {
        let mut procs = self.lock();
        procs.insert(info.process_id.clone(), info);
        let finished: Vec<String> = procs
            .values()
            .filter(|p| p.status != ProcessStatus::Running)
            .map(|p| p.process_id.clone())
            .collect();
        for id in finished
            .iter()
            .take(finished.len().saturating_sub(KEEP_FINISHED))
        {
            procs.remove(id);
        }
    }

    /// Records how a process ended (a kill already recorded wins) and returns the final record.
    pub fn finish(&self, process_id: &str, outcome: &Outcome) -> Option<ProcessInfo> {
        let mut procs = self.lock();
        let p = procs.get_mut(process_id)?;
        if p.status == ProcessStatus::Running {
            p.status = if outcome.timed_out {
                ProcessStatus::Timeout
            } else if outcome.success() {
                ProcessStatus::Completed
            } else {
                ProcessStatus::Failed
            };
        }
        let now = crate::util::now_ts();
        p.end_time = Some(now.clone());
        p.completed_at = Some(now);
        p.exit_code = Some(outcome.exit_code);
        p.duration = Some(outcome.elapsed);
        p.execution_time = Some(outcome.elapsed);
        p.stdout = outcome.stdout.clone();
        p.stderr = outcome.stderr.clone();
        Some(p.clone())
    }

    pub fn list(&self) -> Vec<ProcessInfo> {
        self.lock().values().cloned().collect()
    }

    /// Records every running process as killed, ahead of `POST /processes/kill-all` (which kills
    /// them all: they are the agent's children).
    pub fn mark_all_killed(&self) {
        for p in self.lock().values_mut() {
            if p.status == ProcessStatus::Running {
                p.status = ProcessStatus::Killed;
            }
        }
    }

    /// Kills a running process found by process id, execution id or pid.
    pub fn kill(&self, id: &str) -> Option<ProcessInfo> {
        let mut procs = self.lock();
        let p = procs
            .values_mut()
            .find(|p| p.process_id == id || p.execution_id == id || p.pid.to_string() == id)?;
        if p.status == ProcessStatus::Running {
            signal_group(p.pid, Signal::SIGKILL);
            p.status = ProcessStatus::Killed;
        }
        Some(p.clone())
    }
}
