//! Making a sandbox run: image facts, its disk, the container, and waiting until its agent answers.
//! A launch that fails leaves nothing behind.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder};
use futures::StreamExt as _;
use runtime::RuntimeError;
use tokio::time::Instant;

use crate::container::{self, AGENT_PORT, ImageFacts, Plan, Request, UserLimits};
use crate::engine::{container_name, failed, map_err, map_transport, status_of};
use crate::{DockerRuntime, SandboxRuntime as _, agent};

/// How often the container's state is checked while waiting for its agent.
const STATE_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// Lines of the container's log quoted when it fails to start.
const LOG_TAIL_LINES: &str = "20";

impl DockerRuntime {
    /// Creates and starts the sandbox's container; its agent's address once `/health` answers 200.
    pub(crate) async fn launch(&self, request: Request<'_>) -> Result<SocketAddr, RuntimeError> {
        let (sandbox_id, network) = (request.sandbox_id, request.network);
        let result = self.try_launch(request).await;
        if result.is_err()
            && let Err(e) = self.destroy(sandbox_id).await
        {
            tracing::warn!(sandbox.id = sandbox_id, error = %e, "cleanup after a failed launch");
        }
        // After the launch, so that refilling does not compete with it for the engine.
        self.holders.refill(network);
        result
    }

    async fn try_launch(&self, request: Request<'_>) -> Result<SocketAddr, RuntimeError> {
        let sandbox_id = request.sandbox_id;
        let mut phases = Phases::new();
        let facts = self.image_facts(request.image).await?;
        phases.end("image");
        let disk = match &self.disk {
            Some(pool) => {
                // A subvolume of an earlier attempt at the same id may still be mounted by that
                // attempt's container: remove the container before the subvolume is replaced.
                if pool.holds(sandbox_id) {
                    self.remove_container(sandbox_id).await?;
                }
                let disk_mb = request.resources.disk_mb;
                Some(match request.snapshot_id {
                    Some(snapshot) => {
                        let source = self.snapshots.dir(snapshot)?;
                        pool.restore(sandbox_id, disk_mb, &source).await?
                    }
                    None => pool.create(sandbox_id, disk_mb, facts.user).await?,
                })
            }
            None if request.snapshot_id.is_some() => return Err(crate::volumes::no_snapshots()),
            None => None,
        };
        phases.end("disk");
        let holder = self.holders.attach(sandbox_id, request.network).await?;
        phases.end("holder");
        let secrets = self
            .secrets
            .save(sandbox_id, &container::secrets(&request.identity))?;
        let user_limits = self.user_limits(&request)?;
        let volumes = self.volumes.mounts(request.volumes)?;
        let plan = Plan {
            request,
            facts: &facts,
            disk: disk.as_ref(),
            secrets: &secrets,
            holder: &holder,
            user_limits: &user_limits,
            volumes: &volumes,
        };
        let body = container::create_body(&self.settings, &plan);
        let name = container_name(sandbox_id);
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        match self
            .docker
            .create_container(Some(options.clone()), body.clone())
            .await
        {
            Ok(_) => {}
            // A container of an earlier attempt at the same id: replace it.
            Err(e) if status_of(&e) == Some(409) => {
                self.remove_container(sandbox_id).await?;
                self.docker
                    .create_container(Some(options), body)
                    .await
                    .map_err(|e| map_err(sandbox_id, e))?;
            }
            Err(e) => return Err(map_err(sandbox_id, e)),
        }
        phases.end("container");
        let addr = self.start_and_wait_timed(sandbox_id, &mut phases).await?;
        tracing::debug!(sandbox.id = sandbox_id, phases = %phases, "launched");
        Ok(addr)
    }

    /// The limits of the sandbox's user processes: its cgroups, made now, or under gVisor (where
    /// host cgroups do not see its processes) an `RLIMIT_NPROC`, which gVisor counts per sandbox.
    fn user_limits(&self, request: &Request<'_>) -> Result<UserLimits, RuntimeError> {
        let pids = u64::try_from(self.settings.pids_limit)
            .ok()
            .filter(|p| *p > 0);
        let headroom = self.settings.headroom;
        if self
            .settings
            .oci_runtime_of(request.isolation)
            .starts_with("runsc")
        {
            return Ok(pids.map_or(UserLimits::Shared, |p| {
                UserLimits::Nproc(headroom.user_pids(p))
            }));
        }
        let Some(cgroups) = &self.cgroups else {
            return Ok(UserLimits::Shared);
        };
        cgroups.create(request.sandbox_id, request.resources, pids)?;
        Ok(UserLimits::Cgroups {
            parent: cgroups.parent(request.sandbox_id),
            dirs: cgroups.user_dirs(request.sandbox_id),
        })
    }

    /// Starts the sandbox's container; its agent's address once `/health` answers 200.
    pub(crate) async fn start_and_wait(
        &self,
        sandbox_id: &str,
    ) -> Result<SocketAddr, RuntimeError> {
        self.start_and_wait_timed(sandbox_id, &mut Phases::new())
            .await
    }

    async fn start_and_wait_timed(
        &self,
        sandbox_id: &str,
        phases: &mut Phases,
    ) -> Result<SocketAddr, RuntimeError> {
        self.docker
            .start_container(&container_name(sandbox_id), None)
            .await
            .map_err(|e| map_err(sandbox_id, e))?;
        phases.end("start");
        let addr = self.agent_addr(sandbox_id).await?;
        phases.end("inspect");
        self.wait_ready(sandbox_id, addr).await?;
        phases.end("ready");
        Ok(addr)
    }

    async fn image_facts(&self, image: &str) -> Result<ImageFacts, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(ImageFacts::from_inspect(&inspect)),
            Err(e) if status_of(&e) == Some(404) => Err(failed(format!(
                "image {image:?} is not on the Docker engine (build or load it first)"
            ))),
            Err(e) => Err(map_transport(e)),
        }
    }

    /// The agent address of a started sandbox: the IP on its (only) network of its container or its
    /// holder, port 7777.
    pub(crate) async fn agent_addr(&self, sandbox_id: &str) -> Result<SocketAddr, RuntimeError> {
        let inspect = self.network_owner(sandbox_id).await?;
        let ip = inspect
            .network_settings
            .and_then(|n| n.networks)
            .into_iter()
            .flat_map(|nets| nets.into_values())
            .filter_map(|endpoint| endpoint.ip_address)
            .find_map(|ip| ip.parse::<IpAddr>().ok())
            .ok_or_else(|| failed(format!("sandbox {sandbox_id} has no IP address")))?;
        Ok(SocketAddr::new(ip, AGENT_PORT))
    }

    /// Polls the agent's `/health` until it answers 200; fails early, quoting the container's log,
    /// when the container stops running, and after the ready timeout.
    async fn wait_ready(&self, sandbox_id: &str, addr: SocketAddr) -> Result<(), RuntimeError> {
        let timeout = Duration::from_secs(self.settings.ready_timeout_seconds);
        let deadline = Instant::now() + timeout;
        let mut next_state_check = Instant::now() + STATE_CHECK_INTERVAL;
        loop {
            if agent::is_healthy(&self.http, addr).await {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                let log = self.log_tail(sandbox_id).await;
                return Err(failed(format!(
                    "the agent of {sandbox_id} was not healthy within {}s; log:\n{log}",
                    timeout.as_secs()
                )));
            }
            if now >= next_state_check {
                next_state_check = now + STATE_CHECK_INTERVAL;
                let state = self
                    .inspect_sandbox(sandbox_id)
                    .await?
                    .state
                    .unwrap_or_default();
                if state.running != Some(true) {
                    let log = self.log_tail(sandbox_id).await;
                    return Err(failed(format!(
                        "sandbox {sandbox_id} exited (code {}) before its agent was ready; log:\n{log}",
                        state.exit_code.unwrap_or_default()
                    )));
                }
            }
            tokio::time::sleep(agent::POLL_INTERVAL).await;
        }
    }

    /// The last lines the container printed, for error messages.
    async fn log_tail(&self, sandbox_id: &str) -> String {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(LOG_TAIL_LINES)
            .build();
        let lines: Vec<String> = self
            .docker
            .logs(&container_name(sandbox_id), Some(options))
            .filter_map(|chunk| async move { chunk.ok().map(|c| c.to_string()) })
            .collect()
            .await;
        lines.concat()
    }

    pub(crate) async fn remove_container(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let name = container_name(sandbox_id);
        crate::engine::remove_container(&self.docker, &name, true, sandbox_id).await
    }
}

/// How long each phase of a launch took, for the debug log (`RUST_LOG=runtime_docker=debug`).
struct Phases {
    last: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn new() -> Self {
        Self {
            last: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Ends the phase `name`, which began where the previous one ended.
    fn end(&mut self, name: &'static str) {
        let now = Instant::now();
        self.done.push((name, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, took)) in self.done.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name}={:.1}ms", took.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}
