//! Running user code and commands: turning a request into a process spec, bounding concurrency,
//! and the synchronous `/execute` path (Python goes to the stateful kernel).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use api_types::agent::{CommandRequest, EnvMap, ExecuteRequest, ExecuteResponse};
use axum::http::StatusCode;
use tokio::sync::{SemaphorePermit, mpsc};

use crate::env::{check_no_nul, check_vars};
use crate::error::{ApiError, ApiResult};
use crate::kernel::KernelRequest;
use crate::lang::Language;
use crate::procs::capture::{Chunk, Leftovers, Outcome, supervise};
use crate::procs::spawn::{SpawnSpec, Stdio3};
use crate::scratch::{Scratch, is_shell, shell_argv};
use crate::state::AppInner;

/// Timeout when a request names none, in seconds.
pub const DEFAULT_TIMEOUT: u64 = 60;
/// Longest timeout honoured, in seconds.
const MAX_TIMEOUT: u64 = 24 * 3600;

pub fn timeout_of(requested: Option<u64>, default: u64) -> Duration {
    Duration::from_secs(
        requested
            .filter(|t| *t > 0)
            .unwrap_or(default)
            .min(MAX_TIMEOUT),
    )
}

/// A process ready to start, with the scratch file it needs.
pub struct Prepared {
    pub spec: SpawnSpec,
    pub scratch: Option<Scratch>,
}

impl AppInner {
    /// Waits for a free execution slot.
    pub async fn permit(&self) -> ApiResult<SemaphorePermit<'_>> {
        self.permits
            .acquire()
            .await
            .map_err(|e| ApiError::internal("wait for an execution slot", e))
    }

    fn checked_workdir(&self, requested: Option<&str>) -> ApiResult<PathBuf> {
        let dir = self.workdir(requested)?;
        if !dir.is_dir() {
            let shown = dir.display().to_string();
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "DIRECTORY_NOT_FOUND",
                format!("Working directory not found: {shown}"),
            )
            .with_detail("path", shown));
        }
        Ok(dir)
    }

    /// Prepares `code` in `lang` to run as a fresh process.
    pub fn prepare_code(
        &self,
        lang: Language,
        code: &str,
        workdir: Option<&str>,
        env: Option<&EnvMap>,
    ) -> ApiResult<Prepared> {
        let program = self.toolchains.program(lang).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Language {} is not available in this sandbox",
                lang.name()
            ))
            .with_detail("language", lang.name())
        })?;
        let cwd = self.checked_workdir(workdir)?;
        let env = self.request_env(env, &cwd)?;
        let owner = self.spawner.run_as();
        let scratch = Scratch::write(&self.config.tmp_dir, lang.extension(), code, owner)?;
        let (program, args) = lang.argv(&program, scratch.path());
        Ok(Prepared {
            spec: SpawnSpec {
                program,
                args,
                env,
                cwd,
                stdio: Stdio3::Piped,
            },
            scratch: Some(scratch),
        })
    }

    /// The environment of a child started in `cwd` with the request's `env`, once it is checked.
    fn request_env(&self, env: Option<&EnvMap>, cwd: &Path) -> ApiResult<BTreeMap<String, String>> {
        if let Some(env) = env {
            check_vars(env)?;
        }
        Ok(self.env.child_env(&self.config.base_env, env, cwd))
    }

    /// Prepares a command: `command` + `args` exec'd directly, or a shell string through `/bin/sh -c`.
    /// A shell script too long for one argument (`sh -c SCRIPT`, also `bash -c SCRIPT` in the args
    /// form) runs from a scratch file instead.
    pub fn prepare_command(&self, req: &CommandRequest) -> ApiResult<Prepared> {
        if req.command.trim().is_empty() {
            return Err(ApiError::missing("command"));
        }
        check_no_nul("command", [&req.command])?;
        check_no_nul("args", req.args.iter().flatten())?;
        let cwd = self.checked_workdir(req.workdir.as_deref())?;
        let env = self.request_env(req.env.as_ref(), &cwd)?;
        let (tmp, owner) = (&self.config.tmp_dir, self.spawner.run_as());
        let (program, (args, scratch)) = match req.args.as_deref() {
            None => ("/bin/sh".to_owned(), shell_argv(&req.command, tmp, owner)?),
            Some([c, script]) if c == "-c" && is_shell(&req.command) => {
                (req.command.clone(), shell_argv(script, tmp, owner)?)
            }
            Some(args) => (req.command.clone(), (args.to_vec(), None)),
        };
        Ok(Prepared {
            spec: SpawnSpec {
                program,
                args,
                env,
                cwd,
                stdio: Stdio3::Piped,
            },
            scratch,
        })
    }

    /// Starts `prepared` and supervises it to its end. Returns the pid and the outcome.
    pub async fn run_prepared(
        &self,
        prepared: Prepared,
        timeout: Duration,
        tap: Option<mpsc::Sender<Chunk>>,
    ) -> ApiResult<(u32, Outcome)> {
        let Prepared { spec, scratch } = prepared;
        let program = spec.program.clone();
        let child = self
            .spawner
            .spawn(spec)
            .map_err(|e| ApiError::from_spawn(&e, &program))?;
        let pid = child.pid;
        self.metrics
            .executions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.metrics
            .active_executions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let outcome = supervise(
            child,
            self.config.output_limit,
            timeout,
            tap,
            Leftovers::Kill(self.spawner.clone()),
        )
        .await;
        self.metrics
            .active_executions
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        drop(scratch);
        Ok((pid, outcome))
    }

    /// Starts the Python kernel ahead of the first request (every agent does at start, see `lib.rs`),
    /// so the first `run_code` does not wait for the interpreter. Images without Python skip it.
    /// After a kill, `grace` is how long a kernel may take to be seen dead. Returns whether it started
    /// a kernel.
    pub async fn warm_kernel(&self, grace: Duration) -> bool {
        let cwd = self.config.workspace.clone();
        let env = self.env.child_env(&self.config.base_env, None, &cwd);
        let started = self
            .kernel
            .prestart(&env, &cwd.display().to_string(), grace)
            .await;
        started.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "no python kernel to warm");
            false
        })
    }

    /// `POST /execute`: Python on the stateful kernel, everything else as a fresh process.
    pub async fn execute_sync(&self, req: &ExecuteRequest) -> ApiResult<ExecuteResponse> {
        let lang = Language::parse(&req.language)?;
        let timeout = timeout_of(req.timeout, DEFAULT_TIMEOUT);
        let _permit = self.permit().await?;
        let mut res = ExecuteResponse {
            language: req.language.clone(),
            ..ExecuteResponse::default()
        };
        if lang == Language::Python {
            let cwd = self.checked_workdir(req.workdir.as_deref())?;
            let env = self.request_env(req.env.as_ref(), &cwd)?;
            let started = std::time::Instant::now();
            self.metrics
                .executions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let reply = self
                .kernel
                .execute(
                    &KernelRequest {
                        code: &req.code,
                        env: &env,
                        cwd: &cwd.display().to_string(),
                        limit: self.config.output_limit,
                    },
                    timeout,
                )
                .await
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "EXECUTION_FAILED",
                        format!("Python is not available in this sandbox: {e}"),
                    )
                })?;
            res.execution_time = started.elapsed().as_secs_f64();
            res.success = reply.success && !reply.timed_out;
            res.exit_code = if reply.timed_out {
                124
            } else {
                reply.exit_code
            };
            res.stdout = reply.stdout;
            res.stderr = reply.stderr;
            res.truncated = reply.truncated;
            res.error = if reply.timed_out {
                Some(format!("Execution timed out after {}s", timeout.as_secs()))
            } else {
                reply.error
            };
            res.result = reply.result;
            res.png = reply.png;
            res.html = reply.html;
            res.json = reply.json;
            res.dataframe = reply.dataframe;
        } else {
            let prepared =
                self.prepare_code(lang, &req.code, req.workdir.as_deref(), req.env.as_ref())?;
            let (_, out) = self.run_prepared(prepared, timeout, None).await?;
            res.success = out.success();
            res.exit_code = if out.timed_out { 124 } else { out.exit_code };
            res.error = out
                .timed_out
                .then(|| format!("Execution timed out after {}s", timeout.as_secs()));
            res.execution_time = out.elapsed;
            res.truncated = out.truncated;
            res.stdout = out.stdout;
            res.stderr = out.stderr;
        }
        res.timestamp = crate::util::now_ts();
        Ok(res)
    }
}
