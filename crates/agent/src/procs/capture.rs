//! Supervising a started child to its end: bounded output capture, an optional live tap of the output,
//! and a timeout that kills the child's whole process group.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::spawn::{Spawned, Spawner, signal_group};

/// How long a finished child's pipes may stay open (held by its own background children) before the
/// agent stops reading them.
const DRAIN_GRACE: Duration = Duration::from_millis(200);

/// A piece of output, as it is read.
#[derive(Debug)]
pub enum Chunk {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// How a supervised run ended.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    pub timed_out: bool,
    pub truncated: bool,
    /// Seconds.
    pub elapsed: f64,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.exit_code == 0 && !self.timed_out
    }
}

/// What becomes of the processes a child leaves in its session when it ends.
pub enum Leftovers {
    /// They run on (background commands, the start command).
    Keep,
    /// They are killed as soon as the child has ended (foreground commands and executions).
    Kill(Spawner),
}

/// Waits for `child`, capturing at most `limit` bytes of each stream and killing its process group
/// after `timeout`. Every chunk read is also sent to `tap` when given.
pub async fn supervise(
    child: Spawned,
    limit: usize,
    timeout: Duration,
    tap: Option<mpsc::Sender<Chunk>>,
    leftovers: Leftovers,
) -> Outcome {
    let start = Instant::now();
    let Spawned {
        pid,
        stdout,
        stderr,
        exit,
        ..
    } = child;
    let out = tokio::spawn(read_capped(stdout, limit, tap.clone(), Chunk::Stdout));
    let err = tokio::spawn(read_capped(stderr, limit, tap, Chunk::Stderr));
    let mut timed_out = false;
    let mut exit = exit;
    let exit_code = tokio::select! {
        code = &mut exit => code.unwrap_or(-1),
        () = tokio::time::sleep(timeout) => {
            timed_out = true;
            signal_group(pid, Signal::SIGKILL);
            exit.await.unwrap_or(-1)
        }
    };
    if let Leftovers::Kill(spawner) = &leftovers {
        spawner.kill_leftovers(pid).await;
    }
    // Orphans kept (`cmd &` in the background) may hold the pipes open after the child exits: drain
    // for a grace period only.
    let deadline = tokio::time::Instant::now() + DRAIN_GRACE;
    let o = drain(out, deadline).await;
    let e = drain(err, deadline).await;
    Outcome {
        truncated: o.1 || e.1,
        stdout: String::from_utf8_lossy(&o.0).into_owned(),
        stderr: String::from_utf8_lossy(&e.0).into_owned(),
        exit_code,
        timed_out,
        elapsed: start.elapsed().as_secs_f64(),
    }
}

/// The reader's result if it ends by `deadline`; else it is stopped and what it read is lost.
async fn drain(
    mut reader: JoinHandle<(Vec<u8>, bool)>,
    deadline: tokio::time::Instant,
) -> (Vec<u8>, bool) {
    match tokio::time::timeout_at(deadline, &mut reader).await {
        Ok(read) => read.unwrap_or_default(),
        Err(_) => {
            reader.abort();
            reader.await.unwrap_or_default()
        }
    }
}

async fn read_capped(
    pipe: Option<pipe::Receiver>,
    limit: usize,
    tap: Option<mpsc::Sender<Chunk>>,
    wrap: fn(Vec<u8>) -> Chunk,
) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let Some(mut pipe) = pipe else {
        return (kept, truncated);
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let room = limit.saturating_sub(kept.len());
        if n > room {
            truncated = true;
        }
        kept.extend_from_slice(&buf[..n.min(room)]);
        if let Some(tap) = &tap
            && tap.send(wrap(buf[..n].to_vec())).await.is_err()
        {
            // The stream's reader is gone; keep draining so the child never blocks on a full pipe.
            continue;
        }
    }
    (kept, truncated)
}
