//! The display stack's log: the last lines each supervised program wrote, and what the supervisor did,
//! served by `GET /desktop/debug/logs`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::unix::pipe;

/// Lines kept, oldest dropped first.
const MAX_LINES: usize = 2000;
/// A longer line is cut (a program printing binary garbage must not fill the log).
const MAX_LINE: usize = 1000;

/// A bounded, shared log.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<VecDeque<String>>>);

impl Logs {
    /// Appends `line`, tagged with `source` and the time.
    pub fn push(&self, source: &str, line: &str) {
        let mut line = line.trim_end().to_owned();
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        let now = chrono_like_now();
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == MAX_LINES {
            lines.pop_front();
        }
        lines.push_back(format!("{now} [{source}] {line}"));
    }

    /// Every line kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect()
    }

    /// Copies what `pipe` carries into the log, line by line, until it closes.
    pub fn follow(&self, source: &'static str, pipe: Option<pipe::Receiver>) {
        let Some(pipe) = pipe else { return };
        let logs = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                logs.push(source, &line);
            }
        });
    }
}

/// Seconds since the epoch with milliseconds: enough to order lines, no date crate needed.
fn chrono_like_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", now.as_secs(), now.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_bounded_and_long_lines_are_cut() {
        let logs = Logs::default();
        for i in 0..MAX_LINES + 5 {
            logs.push("xvfb", &format!("line {i}"));
        }
        let lines = logs.lines();
        assert_eq!(lines.len(), MAX_LINES);
        assert!(lines[0].ends_with("[xvfb] line 5"), "{}", lines[0]);
        logs.push("x", &"é".repeat(MAX_LINE));
        assert!(logs.lines().last().unwrap().len() < MAX_LINE + 40);
    }
}
