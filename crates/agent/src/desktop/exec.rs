//! [`desktop::exec::Exec`] over the agent's spawner: desktop programs run as the sandbox user, in the
//! user cgroups, with the image's environment, reaped by the agent like every child.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use desktop::exec::{Exec, Output, Started};
use tokio::io::AsyncWriteExt as _;

use crate::lang::find_program;
use crate::procs::capture::{Leftovers, supervise};
use crate::procs::spawn::{SpawnSpec, Spawner, Stdio3, signal_group};

/// Output kept of a desktop program run to its end (OCR text, window lists, the clipboard).
const OUTPUT_LIMIT: usize = 16 << 20;

pub struct SandboxExec {
    spawner: Spawner,
    env: BTreeMap<String, String>,
    home: PathBuf,
    path: String,
}

impl SandboxExec {
    pub fn new(spawner: Spawner, mut env: BTreeMap<String, String>, home: PathBuf) -> Self {
        let path = env
            .entry("PATH".into())
            .or_insert_with(|| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
            })
            .clone();
        env.entry("HOME".into())
            .or_insert_with(|| home.display().to_string());
        env.entry("LANG".into()).or_insert_with(|| "C.UTF-8".into());
        Self {
            spawner,
            env,
            home,
            path,
        }
    }

    fn spec(
        &self,
        program: &str,
        args: &[String],
        env: &[(String, String)],
        stdio: Stdio3,
    ) -> SpawnSpec {
        let mut all = self.env.clone();
        all.extend(env.iter().cloned());
        SpawnSpec {
            program: program.to_owned(),
            args: args.to_vec(),
            env: all,
            cwd: self.home.clone(),
            stdio,
        }
    }
}

#[async_trait::async_trait]
impl Exec for SandboxExec {
    async fn run(
        &self,
        program: &str,
        args: &[String],
        env: &[(String, String)],
        stdin: Option<Vec<u8>>,
        timeout: Duration,
    ) -> std::io::Result<Output> {
        let stdio = if stdin.is_some() {
            Stdio3::Interactive
        } else {
            Stdio3::Piped
        };
        let mut child = self.spawner.spawn(self.spec(program, args, env, stdio))?;
        if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), stdin) {
            // A program that exits without reading all of it is not an error of the write.
            let _ = pipe.write_all(&bytes).await;
        }
        // What a desktop program leaves behind (xclip serving the clipboard) keeps running.
        let out = supervise(child, OUTPUT_LIMIT, timeout, None, Leftovers::Keep).await;
        Ok(Output {
            code: if out.timed_out { -1 } else { out.exit_code },
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    fn start(
        &self,
        program: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> std::io::Result<Started> {
        let child = self
            .spawner
            .spawn(self.spec(program, args, env, Stdio3::Piped))?;
        Ok(Started {
            pid: child.pid,
            stdout: child.stdout,
            stderr: child.stderr,
            exit: child.exit,
        })
    }

    fn signal(&self, pid: u32, signal: i32) {
        if let Ok(signal) = nix::sys::signal::Signal::try_from(signal) {
            signal_group(pid, signal);
        }
    }

    fn has_program(&self, program: &str) -> bool {
        find_program(program, &self.path).is_some()
    }
}
