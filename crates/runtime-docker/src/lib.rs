//! The Docker backend of [`runtime::SandboxRuntime`]: one hardened container per sandbox, with the
//! static `warren-agent` bind-mounted as its entrypoint, on shared Warren-managed networks, with what
//! its user writes bounded by a btrfs subvolume. See `docs/runtime-docker.md`.

mod agent;
mod cgroup;
mod claims;
mod container;
mod disk;
mod engine;
mod holder;
mod holder_owner;
mod holder_record;
mod images;
mod launch;
mod network;
mod secrets;
mod snapshot;
mod volumes;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use api_types::agent::ConfigureRequest;
use async_trait::async_trait;
use bollard::Docker;
use bollard::query_parameters::StopContainerOptionsBuilder;
use runtime::{
    ImageBuilder, PooledSandbox, PooledSpec, RuntimeError, RuntimeSandbox, RuntimeState,
    RuntimeStatus, SandboxRuntime, SandboxSpec,
};

use crate::cgroup::Cgroups;
use crate::claims::{Claim, ClaimStore};
use crate::container::Identity;
use crate::disk::DiskPool;
use crate::engine::{
    LABEL_HOLDER, LABEL_MANAGED, LABEL_SANDBOX_ID, check_sandbox_id, container_name, failed,
    map_err, map_transport,
};
use crate::holder::Holders;
use crate::secrets::SecretStore;
use crate::volumes::Store;

pub use images::DockerImages;
pub use runtime::{DockerSettings, Headroom, NetworkSettings};

/// Seconds the first call to the engine may take: an engine that does not answer fails `connect`
/// quickly, whatever `engine_timeout_seconds` allows later calls.
const CONNECT_TIMEOUT_SECONDS: u64 = 5;
/// Seconds a stopping agent gets before it is killed (it ends its children within 3 s).
const STOP_GRACE_SECONDS: i32 = 5;

/// Sandboxes as Docker containers on one engine.
#[derive(Debug)]
pub struct DockerRuntime {
    docker: Docker,
    settings: DockerSettings,
    disk: Option<DiskPool>,
    holders: Holders,
    claims: ClaimStore,
    secrets: SecretStore,
    /// The sandboxes' cgroup parents and user cgroups, where the engine allows them.
    cgroups: Option<Cgroups>,
    http: reqwest::Client,
    /// Template images, on the same engine.
    images: Arc<DockerImages>,
    /// Volumes sandboxes mount.
    volumes: Store,
    /// Snapshots of sandboxes' disks.
    snapshots: Store,
}

/// Fails unless the agent sandboxes mount exists: the volume `agent_volume`, else the file
/// `agent_binary`.
async fn check_agent(docker: &Docker, settings: &DockerSettings) -> Result<(), RuntimeError> {
    match &settings.agent_volume {
        Some(volume) => match docker.inspect_volume(volume).await {
            Ok(_) => Ok(()),
            Err(e) if engine::status_of(&e) == Some(404) => Err(failed(format!(
                "the agent volume {volume} does not exist (the warren-agent image fills it, see docs/deployment.md)"
            ))),
            Err(e) => Err(map_transport(e)),
        },
        None if settings.agent_binary.is_file() => Ok(()),
        None => Err(failed(format!(
            "the agent binary {} does not exist (build it with scripts/build-agent.sh)",
            settings.agent_binary.display()
        ))),
    }
}

impl DockerRuntime {
    /// Connects to the engine and prepares what every sandbox needs: the shared networks, the
    /// firewall rules and the disk pool. Fails fast with [`RuntimeError::Unavailable`] when no engine
    /// answers.
    pub async fn connect(settings: &DockerSettings) -> Result<Self, RuntimeError> {
        let docker = Docker::connect_with_unix(
            &settings.socket,
            CONNECT_TIMEOUT_SECONDS.min(settings.engine_timeout_seconds),
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(map_transport)?
        .negotiate_version()
        .await
        .map_err(map_transport)?
        .with_timeout(Duration::from_secs(settings.engine_timeout_seconds));
        check_agent(&docker, settings).await?;
        let runtimes = [
            settings.oci_runtime.as_str(),
            settings.gvisor_runtime.as_str(),
        ];
        engine::warn_unless_gvisor_seccomp(&docker, &runtimes).await?;
        network::ensure_network(&docker, &settings.network, false).await?;
        network::ensure_network(&docker, &settings.internal_network, true).await?;
        if settings.firewall {
            network::install_firewall().await?;
        }
        let holders = Holders::open(&docker, settings).await?;
        let disk = match &settings.sandbox_disk_dir {
            Some(dir) => {
                let pool = DiskPool::open(dir).await?;
                if pool.is_none() {
                    tracing::warn!(
                        dir = %dir.display(),
                        "not a btrfs filesystem: what sandboxes write is not bounded"
                    );
                }
                pool
            }
            None => None,
        };
        let cgroups = cgroup::detect(&docker, settings).await;
        let volumes = Store::open(settings, disk.as_ref(), "volumes")?;
        let snapshots = Store::open(settings, disk.as_ref(), "snapshots")?;
        Ok(Self {
            docker,
            settings: settings.clone(),
            disk,
            holders,
            claims: ClaimStore::open(&settings.state_dir)?,
            secrets: SecretStore::open(&settings.state_dir)?,
            cgroups,
            http: agent::client()?,
            images: Arc::new(DockerImages::new(&settings.socket)?),
            volumes,
            snapshots,
        })
    }

    /// Whether what sandboxes write is bounded (a btrfs disk pool is in use).
    pub fn disk_bounded(&self) -> bool {
        self.disk.is_some()
    }

    fn network_name(&self, internet_access: bool) -> &str {
        if internet_access {
            &self.settings.network.name
        } else {
            &self.settings.internal_network.name
        }
    }

    /// Moves a running sandbox (its holder, if it joined one) from the egress network to the
    /// internal one; its new agent address.
    async fn isolate(&self, sandbox_id: &str) -> Result<SocketAddr, RuntimeError> {
        let name = self.network_owner(sandbox_id).await?.id.unwrap_or_default();
        let disconnect = bollard::models::NetworkDisconnectRequest {
            container: name.clone(),
            force: Some(true),
        };
        self.docker
            .disconnect_network(&self.settings.network.name, disconnect)
            .await
            .map_err(|e| map_err(sandbox_id, e))?;
        let connect = bollard::models::NetworkConnectRequest {
            container: name,
            ..Default::default()
        };
        self.docker
            .connect_network(&self.settings.internal_network.name, connect)
            .await
            .map_err(|e| map_err(sandbox_id, e))?;
        self.agent_addr(sandbox_id).await
    }
}

#[async_trait]
impl SandboxRuntime for DockerRuntime {
    async fn create(&self, spec: &SandboxSpec) -> Result<RuntimeSandbox, RuntimeError> {
        check_sandbox_id(&spec.sandbox_id)?;
        let identity = Identity::Owner {
            token_key_hex: &spec.token_key_hex,
            env_vars: &spec.env_vars,
            viewer_base: spec.viewer_base.as_deref(),
            preview_epoch: spec.preview_epoch,
        };
        let network = self.network_name(spec.internet_access);
        let request = container::Request {
            sandbox_id: &spec.sandbox_id,
            template: &spec.template,
            image: &spec.image,
            isolation: spec.isolation,
            resources: spec.resources,
            identity,
            network,
            volumes: &spec.volumes,
            snapshot_id: spec.snapshot_id.as_deref(),
        };
        let agent_addr = self.launch(request).await?;
        Ok(RuntimeSandbox {
            sandbox_id: spec.sandbox_id.clone(),
            agent_addr,
        })
    }

    async fn create_pooled(&self, spec: &PooledSpec) -> Result<PooledSandbox, RuntimeError> {
        check_sandbox_id(&spec.sandbox_id)?;
        let request = container::Request {
            sandbox_id: &spec.sandbox_id,
            template: &spec.template,
            image: &spec.image,
            isolation: spec.isolation,
            resources: spec.resources,
            identity: Identity::Pool {
                configure_secret: &spec.configure_secret,
            },
            network: self.network_name(true),
            volumes: &[],
            snapshot_id: None,
        };
        let agent_addr = self.launch(request).await?;
        Ok(PooledSandbox {
            sandbox_id: spec.sandbox_id.clone(),
            agent_addr,
            configure_secret: spec.configure_secret.clone(),
        })
    }

    async fn claim(
        &self,
        pooled: &PooledSandbox,
        spec: &SandboxSpec,
    ) -> Result<RuntimeSandbox, RuntimeError> {
        if pooled.sandbox_id != spec.sandbox_id {
            return Err(failed(format!(
                "claim of pooled sandbox {} names {}",
                pooled.sandbox_id, spec.sandbox_id
            )));
        }
        let agent_addr = if spec.internet_access {
            pooled.agent_addr
        } else {
            self.isolate(&spec.sandbox_id).await?
        };
        let claim = Claim {
            secret: pooled.configure_secret.clone(),
            request: ConfigureRequest {
                sandbox_id: spec.sandbox_id.clone(),
                token_key: spec.token_key_hex.clone(),
                env_vars: spec.env_vars.clone(),
                viewer_base: spec.viewer_base.clone(),
                preview_epoch: spec.preview_epoch,
            },
        };
        self.claims.save(&claim)?;
        agent::configure(&self.http, agent_addr, &claim.secret, &claim.request).await?;
        Ok(RuntimeSandbox {
            sandbox_id: spec.sandbox_id.clone(),
            agent_addr,
        })
    }

    async fn pause(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        self.docker
            .pause_container(&container_name(sandbox_id))
            .await
            .map_err(|e| map_err(sandbox_id, e))
    }

    async fn resume(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        self.docker
            .unpause_container(&container_name(sandbox_id))
            .await
            .map_err(|e| map_err(sandbox_id, e))
    }

    async fn stop(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let name = container_name(sandbox_id);
        let state = self
            .docker
            .inspect_container(&name, None)
            .await
            .map_err(|e| map_err(sandbox_id, e))?
            .state;
        // A frozen agent cannot take SIGTERM: thaw it first so that it shuts down cleanly instead of
        // being killed after the grace period.
        if state.and_then(|s| s.paused) == Some(true) {
            self.resume(sandbox_id).await?;
        }
        let options = StopContainerOptionsBuilder::new()
            .t(STOP_GRACE_SECONDS)
            .build();
        self.docker
            .stop_container(&name, Some(options))
            .await
            .map_err(|e| map_err(sandbox_id, e))
    }

    async fn replace_credentials(
        &self,
        sandbox_id: &str,
        token_key_hex: &str,
        preview_epoch: i64,
    ) -> Result<(), RuntimeError> {
        check_sandbox_id(sandbox_id)?;
        // A claimed pool sandbox is configured again at start; a cold-created one reads its secrets
        // file (bind-mounted by path, so the new file is the one its next start sees).
        if let Some(mut claim) = self.claims.load(sandbox_id)? {
            claim.request.token_key = token_key_hex.to_owned();
            claim.request.preview_epoch = preview_epoch;
            return self.claims.save(&claim);
        }
        let owner = Identity::Owner {
            token_key_hex,
            env_vars: &Default::default(),
            viewer_base: None,
            preview_epoch,
        };
        self.secrets
            .save(sandbox_id, &container::secrets(&owner))
            .map(drop)
    }

    async fn start(&self, sandbox_id: &str) -> Result<RuntimeSandbox, RuntimeError> {
        self.ensure_holder(sandbox_id).await?;
        let agent_addr = self.start_and_wait(sandbox_id).await?;
        if let Some(claim) = self.claims.load(sandbox_id)? {
            agent::configure(&self.http, agent_addr, &claim.secret, &claim.request).await?;
        }
        Ok(RuntimeSandbox {
            sandbox_id: sandbox_id.to_owned(),
            agent_addr,
        })
    }

    async fn destroy(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        check_sandbox_id(sandbox_id)?;
        self.remove_container(sandbox_id).await?;
        self.holders.release(sandbox_id).await?;
        if let Some(cgroups) = &self.cgroups {
            cgroups.remove(sandbox_id).await?;
        }
        if let Some(disk) = &self.disk {
            disk.remove(sandbox_id).await?;
        }
        self.secrets.remove(sandbox_id)?;
        self.claims.remove(sandbox_id)
    }

    async fn create_volume(&self, volume_id: &str, size_mb: u32) -> Result<(), RuntimeError> {
        self.volumes.create(volume_id, size_mb).await
    }

    async fn remove_volume(&self, volume_id: &str) -> Result<(), RuntimeError> {
        self.volumes.remove(volume_id).await
    }

    async fn list_volumes(&self) -> Result<Vec<String>, RuntimeError> {
        self.volumes.list()
    }

    fn snapshots_supported(&self) -> bool {
        self.disk.is_some()
    }

    async fn snapshot(&self, sandbox_id: &str, snapshot_id: &str) -> Result<(), RuntimeError> {
        self.take_snapshot(sandbox_id, snapshot_id).await
    }

    async fn remove_snapshot(&self, snapshot_id: &str) -> Result<(), RuntimeError> {
        self.snapshots.remove(snapshot_id).await
    }

    async fn list_snapshots(&self) -> Result<Vec<String>, RuntimeError> {
        self.snapshots.list()
    }

    async fn shutdown(&self) {
        self.holders.close().await;
    }

    async fn sweep(&self) -> Result<Vec<String>, RuntimeError> {
        self.holders.sweep().await
    }

    fn images(&self) -> Option<Arc<dyn ImageBuilder>> {
        Some(self.images.clone())
    }

    async fn list(&self) -> Result<Vec<RuntimeStatus>, RuntimeError> {
        use bollard::models::ContainerSummaryStateEnum as S;
        let containers = engine::list_of_instance(
            &self.docker,
            &self.settings.instance,
            format!("{LABEL_MANAGED}=1"),
        )
        .await?;
        // A sandbox whose container is gone but whose holder remains is listed as stopped, so that
        // the reconciler's destroy removes the holder too.
        let mut sandboxes = HashMap::new();
        let mut holders = HashSet::new();
        for c in containers {
            let mut labels = c.labels.unwrap_or_default();
            if labels.contains_key(LABEL_HOLDER) {
                let names = c.names.into_iter().flatten();
                holders.extend(names.filter(|n| holder::is_claimed(n)));
            } else if let Some(sandbox_id) = labels.remove(LABEL_SANDBOX_ID) {
                let state = match c.state {
                    Some(S::RUNNING | S::RESTARTING) => RuntimeState::Running,
                    Some(S::PAUSED) => RuntimeState::Paused,
                    _ => RuntimeState::Stopped,
                };
                sandboxes.insert(sandbox_id, state);
            }
        }
        for (sandbox_id, holder) in self.holders.claims()? {
            if holders.contains(&format!("/{holder}")) {
                sandboxes.entry(sandbox_id).or_insert(RuntimeState::Stopped);
            }
        }
        // Likewise a sandbox of which only cgroups remain (a crash between the container's removal and
        // theirs).
        let leftovers = self.cgroups.iter().flat_map(Cgroups::leftovers);
        for sandbox_id in leftovers.filter(|id| check_sandbox_id(id).is_ok()) {
            sandboxes.entry(sandbox_id).or_insert(RuntimeState::Stopped);
        }
        Ok(sandboxes
            .into_iter()
            .map(|(sandbox_id, state)| RuntimeStatus { sandbox_id, state })
            .collect())
    }
}
