//! Network-namespace holders: tiny containers started ahead on each sandbox network, whose network
//! namespace a sandbox container joins (`container:` network mode), so that its start skips the
//! engine's network setup of a user-defined network (embedded DNS, iptables: the pause-container
//! pattern), and so that no sandbox container is itself on a shared network. Each process keeps a
//! small pool of spares per network (setting `network_holders`); a create claims one by renaming it
//! to an opaque `warren-net-<random>` (the embedded DNS answers for holder names, forward and
//! reverse, to every container on the network: no sandbox id may be in them), or starts one inline
//! when none is left. Which sandbox claimed which holder is recorded on the host.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HostConfig, HostConfigLogConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RenameContainerOptions,
};
use futures::TryStreamExt as _;
use runtime::RuntimeError;

use crate::container::{agent_entrypoint, agent_mounts, security_options};
use crate::engine::{
    LABEL_HOLDER, LABEL_INSTANCE, LABEL_MANAGED, LABEL_NETWORK, container_name, failed,
    list_of_instance, map_err, map_transport, status_of,
};
use crate::holder_owner::{LABEL_OWNER, Owner};
use crate::holder_record::HolderRecords;
use crate::{DockerRuntime, DockerSettings};

/// The empty image holders run from (made at connect if missing): the agent is their only file.
const IMAGE: &str = "warren/holder:latest";
/// Name prefix of unclaimed holders.
const SPARE_PREFIX: &str = "warren-spare-";
/// Name prefix of claimed holders.
const CLAIMED_PREFIX: &str = "warren-net-";
/// The hostname of every holder, so of every sandbox that joins one (a container cannot set its
/// own hostname in `container:` network mode).
const HOSTNAME: &str = "sandbox";
/// Memory of a holder, MiB; it runs one sleeping process.
const MEMORY_MB: i64 = 16;
/// Most processes (threads included) in a holder. Its own process needs one, but the limit applies
/// from `runc init` on, a Go program whose threads count too; 4 left it no margin (holder starts
/// failed now and then under load with "cannot start a stopped process", a cause not confirmed).
const PIDS_LIMIT: i64 = 32;
/// An unprivileged uid:gid for the holding process.
const USER: &str = "65534:65534";

/// A fresh holder name: `prefix` and 12 random hex digits, nothing of any sandbox.
fn opaque_name(prefix: &str) -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &uuid[..12])
}

/// Whether the engine-listed container name (with its leading `/`) is a claimed holder's.
pub fn is_claimed(name: &str) -> bool {
    name.trim_start_matches('/').starts_with(CLAIMED_PREFIX)
}

/// Spare holders of this process, per network, and whether a refill of that network runs.
#[derive(Debug, Default)]
struct Pool {
    spares: Vec<String>,
    filling: bool,
}

/// This process's holders.
#[derive(Debug, Clone)]
pub struct Holders {
    docker: Docker,
    settings: Arc<DockerSettings>,
    pools: Arc<Mutex<HashMap<String, Pool>>>,
    records: HolderRecords,
    /// Who this process's spares belong to ([`LABEL_OWNER`]), alive while the process is.
    owner: Arc<Owner>,
    /// Set by [`Holders::close`]: no more spares are started or kept.
    closed: Arc<AtomicBool>,
}

impl Holders {
    /// Prepares holders on `docker`: takes an owner id, makes the holder image if missing and
    /// removes the spare holders of this `instance` whose owners are gone (the spares of other live
    /// processes stay). The pool of the egress network starts filling in the background.
    pub async fn open(docker: &Docker, settings: &DockerSettings) -> Result<Self, RuntimeError> {
        let holders = Self {
            docker: docker.clone(),
            settings: Arc::new(settings.clone()),
            pools: Arc::default(),
            records: HolderRecords::open(&settings.state_dir)?,
            owner: Arc::new(Owner::take(&settings.state_dir)?),
            closed: Arc::default(),
        };
        holders.sweep().await?;
        holders.ensure_image().await?;
        holders.refill(&settings.network.name);
        Ok(holders)
    }

    async fn ensure_image(&self) -> Result<(), RuntimeError> {
        match self.docker.inspect_image(IMAGE).await {
            Ok(_) => return Ok(()),
            Err(e) if status_of(&e) == Some(404) => {}
            Err(e) => return Err(map_transport(e)),
        }
        let (repo, tag) = IMAGE.split_once(':').unwrap_or((IMAGE, "latest"));
        let options = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .build();
        // An empty tar archive: two zero blocks.
        let empty_tar = bollard::body_full(vec![0u8; 1024].into());
        self.docker
            .create_image(Some(options), Some(empty_tar), None)
            .try_collect::<Vec<_>>()
            .await
            .map_err(map_transport)?;
        Ok(())
    }

    /// Removes the spare holders of this instance whose owner is gone (a process that crashed, or
    /// a version without owners); the names removed.
    pub async fn sweep(&self) -> Result<Vec<String>, RuntimeError> {
        let containers = list_of_instance(
            &self.docker,
            &self.settings.instance,
            LABEL_HOLDER.to_owned(),
        )
        .await?;
        let mut swept = Vec::new();
        for c in containers {
            let owner = c.labels.as_ref().and_then(|l| l.get(LABEL_OWNER)).cloned();
            let spare = c
                .names
                .into_iter()
                .flatten()
                .map(|n| n.trim_start_matches('/').to_owned())
                .find(|n| n.starts_with(SPARE_PREFIX));
            if let Some(name) = spare
                && self.owner.is_gone(owner.as_deref().unwrap_or_default())
            {
                remove(&self.docker, &name).await?;
                swept.push(name);
            }
        }
        self.owner.prune()?;
        Ok(swept)
    }

    /// A running holder on `network` claimed for `sandbox_id` (replacing the one an earlier attempt
    /// at the same id claimed): a spare of the pool, else one started now. Its container name.
    pub async fn attach(&self, sandbox_id: &str, network: &str) -> Result<String, RuntimeError> {
        self.release(sandbox_id).await?;
        let name = opaque_name(CLAIMED_PREFIX);
        // Recorded first, so that a failure from here on leaves nothing unaccounted for.
        self.records.save(sandbox_id, &name)?;
        while let Some(spare) = self.pop(network) {
            let rename = RenameContainerOptions { name: name.clone() };
            let renamed = self.docker.rename_container(&spare, rename).await;
            // A spare stopped by an engine restart is started again (304: it runs already).
            let running = match renamed {
                Ok(()) => match self.docker.start_container(&name, None).await {
                    Err(e) if status_of(&e) != Some(304) => Err((name.clone(), e)),
                    _ => Ok(()),
                },
                Err(e) => Err((spare, e)),
            };
            match running {
                Ok(()) => return Ok(name),
                // Gone (removed by another process's connect) or broken: the next one.
                Err((holder, e)) => {
                    tracing::debug!(holder, error = %e, "spare holder unusable");
                    let _ = remove(&self.docker, &holder).await;
                }
            }
        }
        self.start(&name, network).await?;
        Ok(name)
    }

    /// Removes the holder `sandbox_id` claimed, if any, and its record. Without a record: the
    /// holder name of sandboxes made before names were opaque, `warren-{id}-net`, if it exists.
    pub async fn release(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let name = self.records.load(sandbox_id)?;
        let name = name.unwrap_or_else(|| format!("warren-{sandbox_id}-net"));
        remove(&self.docker, &name).await?;
        self.records.remove(sandbox_id)
    }

    /// Every sandbox that claimed a holder, with its holder's name.
    pub fn claims(&self) -> Result<Vec<(String, String)>, RuntimeError> {
        self.records.all()
    }

    fn pools_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pool>> {
        self.pools.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pop(&self, network: &str) -> Option<String> {
        self.pools_lock().get_mut(network)?.spares.pop()
    }

    /// Removes this process's spare holders and starts no more (a graceful shutdown). Claimed
    /// holders stay with their sandboxes; other processes' spares are not touched.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let spares: Vec<String> = self
            .pools_lock()
            .values_mut()
            .flat_map(|pool| std::mem::take(&mut pool.spares))
            .collect();
        for spare in spares {
            if let Err(e) = remove(&self.docker, &spare).await {
                tracing::warn!(holder = spare, error = %e, "cannot remove a spare network holder");
            }
        }
    }

    /// Tops the pool of `network` up to `network_holders` spares in the background.
    pub fn refill(&self, network: &str) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        {
            let mut pools = self.pools_lock();
            let pool = pools.entry(network.to_owned()).or_default();
            if pool.filling || pool.spares.len() >= self.settings.network_holders {
                return;
            }
            pool.filling = true;
        }
        let holders = self.clone();
        let network = network.to_owned();
        tokio::spawn(async move {
            loop {
                let full = {
                    let mut pools = holders.pools_lock();
                    let pool = pools.entry(network.clone()).or_default();
                    let full = pool.spares.len() >= holders.settings.network_holders;
                    pool.filling = !full;
                    full
                };
                if full {
                    return;
                }
                let name = opaque_name(SPARE_PREFIX);
                if let Err(e) = holders.start(&name, &network).await {
                    tracing::warn!(network, error = %e, "cannot start a spare network holder");
                    let _ = remove(&holders.docker, &name).await;
                    holders.pools_lock().entry(network).or_default().filling = false;
                    return;
                }
                if holders.closed.load(Ordering::Acquire) {
                    let _ = remove(&holders.docker, &name).await;
                    return;
                }
                let mut pools = holders.pools_lock();
                pools.entry(network.clone()).or_default().spares.push(name);
            }
        });
    }

    /// Creates and starts a holder `name` on `network`, a second time if the first start fails: one
    /// failed now and then under load here ("cannot start a stopped process"), and neither a create
    /// nor the spare pool should stop for a holder.
    async fn start(&self, name: &str, network: &str) -> Result<(), RuntimeError> {
        if let Err(e) = self.create_and_start(name, network).await {
            tracing::warn!(holder = name, error = %e, "a holder did not start; once more");
            remove(&self.docker, name).await?;
            self.create_and_start(name, network).await?;
        }
        Ok(())
    }

    async fn create_and_start(&self, name: &str, network: &str) -> Result<(), RuntimeError> {
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        self.docker
            .create_container(
                Some(options),
                body(&self.settings, network, self.owner.id()),
            )
            .await
            .map_err(|e| map_err(name, e))?;
        self.docker
            .start_container(name, None)
            .await
            .map_err(|e| map_err(name, e))
    }
}

/// The holder a sandbox container joined: its id, as the engine pinned it.
fn joined_holder(inspect: &ContainerInspectResponse) -> Option<&str> {
    let mode = inspect.host_config.as_ref()?.network_mode.as_deref()?;
    mode.strip_prefix("container:")
}

impl DockerRuntime {
    /// The container that has the sandbox's network endpoint: the holder it joined, else itself.
    pub(crate) async fn network_owner(
        &self,
        sandbox_id: &str,
    ) -> Result<ContainerInspectResponse, RuntimeError> {
        let inspect = self.inspect_sandbox(sandbox_id).await?;
        let Some(holder) = joined_holder(&inspect) else {
            return Ok(inspect);
        };
        match self.docker.inspect_container(holder, None).await {
            Ok(holder) => Ok(holder),
            Err(e) if status_of(&e) == Some(404) => Err(failed(format!(
                "the network holder of sandbox {sandbox_id} is gone"
            ))),
            Err(e) => Err(map_err(sandbox_id, e)),
        }
    }

    /// What the engine says of sandbox `sandbox_id`'s container (404 is `NotFound`).
    pub(crate) async fn inspect_sandbox(
        &self,
        sandbox_id: &str,
    ) -> Result<ContainerInspectResponse, RuntimeError> {
        self.docker
            .inspect_container(&container_name(sandbox_id), None)
            .await
            .map_err(|e| map_err(sandbox_id, e))
    }

    /// Before a stopped sandbox starts: starts the holder it joined if that is stopped (after an
    /// engine restart), or, if the holder is gone, recreates the container on a new holder.
    pub(crate) async fn ensure_holder(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let inspect = self.inspect_sandbox(sandbox_id).await?;
        let Some(holder) = joined_holder(&inspect) else {
            return Ok(());
        };
        match self.docker.inspect_container(holder, None).await {
            Ok(h) if h.state.as_ref().and_then(|s| s.running) == Some(true) => Ok(()),
            Ok(_) => match self.docker.start_container(holder, None).await {
                Err(e) if status_of(&e) != Some(304) => Err(map_err(sandbox_id, e)),
                _ => Ok(()),
            },
            Err(e) if status_of(&e) == Some(404) => self.rejoin(sandbox_id, inspect).await,
            Err(e) => Err(map_err(sandbox_id, e)),
        }
    }

    /// Recreates the sandbox's container, as it was made, on a new holder of its network (the
    /// engine pins a holder's id, so a gone holder cannot be replaced under it). What the container
    /// wrote outside its disk (volumes and scratch) is lost, as on any recreate.
    async fn rejoin(
        &self,
        sandbox_id: &str,
        inspect: ContainerInspectResponse,
    ) -> Result<(), RuntimeError> {
        let config = inspect.config.unwrap_or_default();
        let network = config
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_NETWORK))
            .ok_or_else(|| failed(format!("sandbox {sandbox_id} names no network")))?;
        let holder = self.holders.attach(sandbox_id, network).await?;
        let host_config = HostConfig {
            network_mode: Some(format!("container:{holder}")),
            ..inspect.host_config.unwrap_or_default()
        };
        let body = ContainerCreateBody {
            image: config.image,
            user: config.user,
            entrypoint: config.entrypoint,
            cmd: config.cmd,
            env: config.env,
            labels: config.labels,
            stop_timeout: config.stop_timeout,
            host_config: Some(host_config),
            ..Default::default()
        };
        self.remove_container(sandbox_id).await?;
        let name = container_name(sandbox_id);
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| map_err(sandbox_id, e))?;
        Ok(())
    }
}

/// Force-removes the container `name`; a missing one is fine.
pub async fn remove(docker: &Docker, name: &str) -> Result<(), RuntimeError> {
    crate::engine::remove_container(docker, name, false, name).await
}

/// The create body of a holder on `network`, owned by `owner` while it is a spare: hardened beyond
/// a sandbox (no capability at all, read-only root, unprivileged user, tiny memory and pids limits).
fn body(settings: &DockerSettings, network: &str, owner: &str) -> ContainerCreateBody {
    let memory = MEMORY_MB << 20;
    let labels = HashMap::from([
        (LABEL_MANAGED.to_owned(), "1".to_owned()),
        (LABEL_INSTANCE.to_owned(), settings.instance.clone()),
        (LABEL_HOLDER.to_owned(), network.to_owned()),
        (LABEL_OWNER.to_owned(), owner.to_owned()),
    ]);
    let (binds, mounts) = agent_mounts(settings);
    ContainerCreateBody {
        image: Some(IMAGE.into()),
        hostname: Some(HOSTNAME.into()),
        user: Some(USER.into()),
        entrypoint: Some(vec![agent_entrypoint(settings)]),
        cmd: Some(vec!["--hold".into()]),
        labels: Some(labels),
        stop_timeout: Some(1),
        host_config: Some(HostConfig {
            binds: Some(binds),
            mounts: Some(mounts),
            network_mode: Some(network.to_owned()),
            privileged: Some(false),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(security_options(false)),
            readonly_rootfs: Some(true),
            memory: Some(memory),
            memory_swap: Some(memory),
            pids_limit: Some(PIDS_LIMIT),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(HashMap::from([("max-size".to_owned(), "64k".to_owned())])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_names_carry_no_sandbox_id() {
        let (a, b) = (opaque_name(CLAIMED_PREFIX), opaque_name(CLAIMED_PREFIX));
        assert_ne!(a, b);
        assert!(is_claimed(&format!("/{a}")));
        assert_eq!(a.len(), CLAIMED_PREFIX.len() + 12);
        assert!(!is_claimed(&format!("/{}", opaque_name(SPARE_PREFIX))));
        assert!(!is_claimed("/warren-abc"));
    }

    #[test]
    fn holders_are_hardened() {
        let body = body(&DockerSettings::default(), "net", "0123");
        let hc = body.host_config.unwrap();
        assert_eq!(hc.cap_drop.as_deref(), Some(&["ALL".to_owned()][..]));
        assert_eq!(hc.cap_add, None);
        assert_eq!(hc.readonly_rootfs, Some(true));
        assert_eq!(hc.network_mode.as_deref(), Some("net"));
        assert_eq!(body.user.as_deref(), Some(USER));
        assert_eq!(body.cmd.as_deref().unwrap(), ["--hold"]);
    }
}
