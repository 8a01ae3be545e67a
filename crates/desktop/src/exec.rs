//! How the desktop starts programs. The agent reaps every child itself (it is PID 1), so this crate
//! never uses `std::process` or `tokio::process`: the agent implements [`Exec`] over its spawner, and
//! programs run as the sandbox user, in the user cgroups, with the sandbox's environment.

use std::time::Duration;

use tokio::net::unix::pipe;
use tokio::sync::oneshot;

/// A finished run.
#[derive(Debug, Default, Clone)]
pub struct Output {
    /// Exit code; 128 + signal when killed, -1 when it did not end in time.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

/// A started long-running program.
pub struct Started {
    pub pid: u32,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
    /// Its exit code, when it ends.
    pub exit: oneshot::Receiver<i32>,
}

/// Starting programs as the sandbox user. `env` is added to the sandbox's environment.
#[async_trait::async_trait]
pub trait Exec: Send + Sync + 'static {
    /// Runs `program` to its end, feeding it `stdin`, killed after `timeout`.
    async fn run(
        &self,
        program: &str,
        args: &[String],
        env: &[(String, String)],
        stdin: Option<Vec<u8>>,
        timeout: Duration,
    ) -> std::io::Result<Output>;

    /// Starts `program` in its own process group and returns at once.
    fn start(
        &self,
        program: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> std::io::Result<Started>;

    /// Sends `signal` (a libc signal number) to the process group `pid` leads.
    fn signal(&self, pid: u32, signal: i32);

    /// Whether `program` is on the sandbox's `PATH`.
    fn has_program(&self, program: &str) -> bool;
}
