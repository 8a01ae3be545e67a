//! An in-memory [`SandboxRuntime`] for tests: it records every call, keeps a state per sandbox, and can
//! be told to fail the next create. With [`FakeRuntime::with_images`] it has a [`FakeImages`] image
//! builder.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::{
    BuildEvent, ImageBuild, ImageBuilder, PooledSandbox, PooledSpec, RuntimeError, RuntimeSandbox,
    RuntimeState, RuntimeStatus, SandboxRuntime, SandboxSpec,
};

/// One recorded call, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeCall {
    Create(String),
    CreatePooled(String),
    Claim(String),
    Pause(String),
    Resume(String),
    Stop(String),
    Start(String),
    Destroy(String),
}

/// Decides where a created sandbox's agent listens, e.g. by starting a real agent with the spec's
/// token key (see [`FakeRuntime::set_agent_hook`]).
pub type AgentHook =
    Arc<dyn Fn(SandboxSpec) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> + Send + Sync>;

/// How the next create fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeFailure {
    InsufficientCapacity,
    Failed,
}

#[derive(Default)]
struct Inner {
    sandboxes: BTreeMap<String, (RuntimeState, SandboxSpec)>,
    /// Pooled sandboxes not claimed yet, by id.
    pooled: BTreeMap<String, PooledSpec>,
    calls: Vec<FakeCall>,
    fail_next_create: Option<FakeFailure>,
    /// Agent addresses the hook chose, by sandbox id.
    agent_addrs: BTreeMap<String, SocketAddr>,
    agent_hook: Option<AgentHook>,
    /// How long pause, resume, stop and start take.
    action_delay: Duration,
    /// Volumes, by id: their size.
    volumes: BTreeMap<String, u32>,
    /// Snapshots, by id: the sandbox each was taken of.
    snapshots: BTreeMap<String, String>,
}

/// The fake backend. Agents "listen" on `127.0.0.1:7777`.
#[derive(Default)]
pub struct FakeRuntime {
    inner: Mutex<Inner>,
    images: Option<Arc<FakeImages>>,
}

impl FakeRuntime {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake runtime whose image builder is `images`.
    pub fn with_images(images: Arc<FakeImages>) -> Self {
        Self {
            images: Some(images),
            ..Self::default()
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.lock().calls.clone()
    }

    /// The state of a sandbox the fake holds, `None` if it holds none by that id.
    pub fn state_of(&self, sandbox_id: &str) -> Option<RuntimeState> {
        self.lock().sandboxes.get(sandbox_id).map(|(s, _)| *s)
    }

    /// The spec a sandbox was created with.
    pub fn spec_of(&self, sandbox_id: &str) -> Option<SandboxSpec> {
        self.lock()
            .sandboxes
            .get(sandbox_id)
            .map(|(_, s)| s.clone())
    }

    /// From now on, `create` asks `hook` where the new sandbox's agent listens (instead of the default
    /// `127.0.0.1:7777`); `start` returns the same address again.
    pub fn set_agent_hook(&self, hook: AgentHook) {
        self.lock().agent_hook = Some(hook);
    }

    /// The agent address the hook chose for a sandbox.
    pub fn agent_addr(&self, sandbox_id: &str) -> Option<SocketAddr> {
        self.lock().agent_addrs.get(sandbox_id).copied()
    }

    /// Makes the next `create` fail this way.
    pub fn fail_next_create(&self, failure: FakeFailure) {
        self.lock().fail_next_create = Some(failure);
    }

    /// The ids of the volumes the fake holds.
    pub fn volume_ids(&self) -> Vec<String> {
        self.lock().volumes.keys().cloned().collect()
    }

    /// Holds a running sandbox nobody asked for, as a crashed server may leave behind.
    pub fn add_orphan(&self, sandbox_id: &str) {
        let spec = SandboxSpec {
            sandbox_id: sandbox_id.to_owned(),
            template: "orphan".into(),
            image: "orphan".into(),
            isolation: crate::Isolation::Container,
            resources: crate::Resources {
                vcpu: 1,
                memory_mb: 1,
                disk_mb: 1,
            },
            env_vars: BTreeMap::new(),
            internet_access: true,
            token_key_hex: String::new(),
            viewer_base: None,
            preview_epoch: 0,
            volumes: Vec::new(),
            snapshot_id: None,
        };
        self.lock()
            .sandboxes
            .insert(sandbox_id.to_owned(), (RuntimeState::Running, spec));
    }

    /// Forgets a sandbox (owned or pooled) without recording a call, as if it vanished behind the
    /// control plane's back. `false` when the fake held none by that id.
    pub fn vanish(&self, sandbox_id: &str) -> bool {
        let mut inner = self.lock();
        let owned = inner.sandboxes.remove(sandbox_id).is_some();
        inner.pooled.remove(sandbox_id).is_some() || owned
    }

    /// Sets an owned sandbox's state without recording a call (`Stopped`: its processes exited).
    pub fn set_state(&self, sandbox_id: &str, state: RuntimeState) -> bool {
        match self.lock().sandboxes.get_mut(sandbox_id) {
            Some((s, _)) => {
                *s = state;
                true
            }
            None => false,
        }
    }

    /// Ids of the pooled sandboxes not claimed yet.
    pub fn pooled_ids(&self) -> Vec<String> {
        self.lock().pooled.keys().cloned().collect()
    }

    /// Makes pause, resume, stop and start take `delay` (before they change anything), so that tests
    /// can race them.
    pub fn set_action_delay(&self, delay: Duration) {
        self.lock().action_delay = delay;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn agent(sandbox_id: &str) -> RuntimeSandbox {
        RuntimeSandbox {
            sandbox_id: sandbox_id.to_owned(),
            agent_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 7777)),
        }
    }

    /// The address the agent hook chose for `sandbox_id`, else the default.
    fn hooked_agent(&self, sandbox_id: &str) -> RuntimeSandbox {
        let mut agent = Self::agent(sandbox_id);
        if let Some(addr) = self.agent_addr(sandbox_id) {
            agent.agent_addr = addr;
        }
        agent
    }

    async fn transition(
        &self,
        call: FakeCall,
        sandbox_id: &str,
        from: &[RuntimeState],
        to: RuntimeState,
    ) -> Result<(), RuntimeError> {
        let delay = self.lock().action_delay;
        tokio::time::sleep(delay).await;
        let mut inner = self.lock();
        inner.calls.push(call);
        let (state, _) = inner
            .sandboxes
            .get_mut(sandbox_id)
            .ok_or_else(|| RuntimeError::NotFound(sandbox_id.to_owned()))?;
        if !from.contains(state) {
            return Err(RuntimeError::Failed(
                format!("fake: cannot go from {state:?} to {to:?}").into(),
            ));
        }
        *state = to;
        Ok(())
    }
}

/// An image builder for tests: each build prints the lines set by [`FakeImages::set_log`], waits
/// while builds are held ([`FakeImages::hold`], [`FakeImages::release`]), then makes its image or
/// fails with the reason set by [`FakeImages::fail_next`].
pub struct FakeImages {
    inner: Arc<Mutex<ImagesInner>>,
    gate: Arc<tokio::sync::Semaphore>,
}

#[derive(Default)]
struct ImagesInner {
    log: Vec<String>,
    held: bool,
    fail_next: Option<String>,
    /// Tags of the builds started, in order.
    started: Vec<String>,
    images: std::collections::BTreeSet<String>,
    removed: Vec<String>,
}

impl Default for FakeImages {
    fn default() -> Self {
        Self {
            inner: Default::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }
}

impl FakeImages {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ImagesInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What each build prints from now on (each string one log event).
    pub fn set_log(&self, log: Vec<String>) {
        self.lock().log = log;
    }

    /// Builds started from now on wait, after their log, until released.
    pub fn hold(&self) {
        self.lock().held = true;
    }

    /// Lets `n` held builds end.
    pub fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    /// The next build fails with `reason`.
    pub fn fail_next(&self, reason: &str) {
        self.lock().fail_next = Some(reason.to_owned());
    }

    /// Tags of the builds started, in order.
    pub fn started(&self) -> Vec<String> {
        self.lock().started.clone()
    }

    /// The images built and not removed.
    pub fn images(&self) -> Vec<String> {
        self.lock().images.iter().cloned().collect()
    }

    /// The images removed, in order.
    pub fn removed(&self) -> Vec<String> {
        self.lock().removed.clone()
    }
}

#[async_trait]
impl ImageBuilder for FakeImages {
    fn build(&self, build: ImageBuild) -> BoxStream<'static, BuildEvent> {
        let (log, held, fail) = {
            let mut inner = self.lock();
            inner.started.push(build.tag.clone());
            (inner.log.clone(), inner.held, inner.fail_next.take())
        };
        let (gate, inner, tag) = (self.gate.clone(), self.inner.clone(), build.tag);
        let end = futures::stream::once(async move {
            if held && let Ok(permit) = gate.acquire_owned().await {
                permit.forget();
            }
            match fail {
                Some(reason) => Some(BuildEvent::Failed(reason)),
                None => {
                    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
                    inner.images.insert(tag);
                    None
                }
            }
        })
        .filter_map(|event| async move { event });
        futures::stream::iter(log.into_iter().map(BuildEvent::Log))
            .chain(end)
            .boxed()
    }

    async fn exists(&self, image: &str) -> Result<bool, RuntimeError> {
        Ok(self.lock().images.contains(image))
    }

    async fn pull(&self, _image: &str) -> Result<(), String> {
        Ok(())
    }

    async fn remove(&self, image: &str) -> Result<(), RuntimeError> {
        let mut inner = self.lock();
        inner.removed.push(image.to_owned());
        if inner.images.remove(image) {
            Ok(())
        } else {
            Err(RuntimeError::NotFound(image.to_owned()))
        }
    }
}

#[async_trait]
impl SandboxRuntime for FakeRuntime {
    fn images(&self) -> Option<Arc<dyn ImageBuilder>> {
        self.images
            .clone()
            .map(|images| images as Arc<dyn ImageBuilder>)
    }

    async fn create(&self, spec: &SandboxSpec) -> Result<RuntimeSandbox, RuntimeError> {
        let hook = {
            let mut inner = self.lock();
            inner.calls.push(FakeCall::Create(spec.sandbox_id.clone()));
            match inner.fail_next_create.take() {
                Some(FakeFailure::InsufficientCapacity) => {
                    return Err(RuntimeError::InsufficientCapacity(
                        "fake host is full".into(),
                    ));
                }
                Some(FakeFailure::Failed) => {
                    return Err(RuntimeError::Failed("fake failure".into()));
                }
                None => {}
            }
            if let Some(snapshot) = &spec.snapshot_id
                && !inner.snapshots.contains_key(snapshot)
            {
                return Err(RuntimeError::Failed("fake: no such snapshot".into()));
            }
            inner.sandboxes.insert(
                spec.sandbox_id.clone(),
                (RuntimeState::Running, spec.clone()),
            );
            inner.agent_hook.clone()
        };
        if let Some(hook) = hook {
            let addr = hook(spec.clone()).await;
            self.lock()
                .agent_addrs
                .insert(spec.sandbox_id.clone(), addr);
        }
        Ok(self.hooked_agent(&spec.sandbox_id))
    }

    async fn create_pooled(&self, spec: &PooledSpec) -> Result<PooledSandbox, RuntimeError> {
        let mut inner = self.lock();
        inner
            .calls
            .push(FakeCall::CreatePooled(spec.sandbox_id.clone()));
        inner.pooled.insert(spec.sandbox_id.clone(), spec.clone());
        Ok(PooledSandbox {
            sandbox_id: spec.sandbox_id.clone(),
            agent_addr: Self::agent(&spec.sandbox_id).agent_addr,
            configure_secret: spec.configure_secret.clone(),
        })
    }

    async fn claim(
        &self,
        pooled: &PooledSandbox,
        spec: &SandboxSpec,
    ) -> Result<RuntimeSandbox, RuntimeError> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Claim(spec.sandbox_id.clone()));
        let waiting = inner
            .pooled
            .remove(&pooled.sandbox_id)
            .ok_or_else(|| RuntimeError::NotFound(pooled.sandbox_id.clone()))?;
        if waiting.configure_secret != pooled.configure_secret
            || spec.sandbox_id != pooled.sandbox_id
        {
            return Err(RuntimeError::Failed(
                "fake: wrong configure secret or id".into(),
            ));
        }
        inner.sandboxes.insert(
            spec.sandbox_id.clone(),
            (RuntimeState::Running, spec.clone()),
        );
        Ok(Self::agent(&spec.sandbox_id))
    }

    async fn pause(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let call = FakeCall::Pause(sandbox_id.to_owned());
        self.transition(
            call,
            sandbox_id,
            &[RuntimeState::Running],
            RuntimeState::Paused,
        )
        .await
    }

    async fn resume(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let call = FakeCall::Resume(sandbox_id.to_owned());
        self.transition(
            call,
            sandbox_id,
            &[RuntimeState::Paused],
            RuntimeState::Running,
        )
        .await
    }

    async fn stop(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let call = FakeCall::Stop(sandbox_id.to_owned());
        let from = [RuntimeState::Running, RuntimeState::Paused];
        self.transition(call, sandbox_id, &from, RuntimeState::Stopped)
            .await
    }

    async fn replace_credentials(
        &self,
        sandbox_id: &str,
        token_key_hex: &str,
        preview_epoch: i64,
    ) -> Result<(), RuntimeError> {
        let mut inner = self.lock();
        let (_, spec) = inner
            .sandboxes
            .get_mut(sandbox_id)
            .ok_or_else(|| RuntimeError::NotFound(sandbox_id.to_owned()))?;
        token_key_hex.clone_into(&mut spec.token_key_hex);
        spec.preview_epoch = preview_epoch;
        Ok(())
    }

    async fn start(&self, sandbox_id: &str) -> Result<RuntimeSandbox, RuntimeError> {
        let call = FakeCall::Start(sandbox_id.to_owned());
        self.transition(
            call,
            sandbox_id,
            &[RuntimeState::Stopped],
            RuntimeState::Running,
        )
        .await?;
        Ok(self.hooked_agent(sandbox_id))
    }

    async fn destroy(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Destroy(sandbox_id.to_owned()));
        inner.sandboxes.remove(sandbox_id);
        inner.pooled.remove(sandbox_id);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<RuntimeStatus>, RuntimeError> {
        let inner = self.lock();
        let owned = inner.sandboxes.iter().map(|(id, (state, _))| (id, *state));
        let pooled = inner.pooled.keys().map(|id| (id, RuntimeState::Running));
        Ok(owned
            .chain(pooled)
            .map(|(id, state)| RuntimeStatus {
                sandbox_id: id.clone(),
                state,
            })
            .collect())
    }

    async fn create_volume(&self, volume_id: &str, size_mb: u32) -> Result<(), RuntimeError> {
        self.lock().volumes.insert(volume_id.to_owned(), size_mb);
        Ok(())
    }

    async fn remove_volume(&self, volume_id: &str) -> Result<(), RuntimeError> {
        self.lock().volumes.remove(volume_id);
        Ok(())
    }

    async fn list_volumes(&self) -> Result<Vec<String>, RuntimeError> {
        Ok(self.volume_ids())
    }

    fn snapshots_supported(&self) -> bool {
        true
    }

    async fn snapshot(&self, sandbox_id: &str, snapshot_id: &str) -> Result<(), RuntimeError> {
        let mut inner = self.lock();
        if !inner.sandboxes.contains_key(sandbox_id) {
            return Err(RuntimeError::NotFound(sandbox_id.to_owned()));
        }
        inner
            .snapshots
            .insert(snapshot_id.to_owned(), sandbox_id.to_owned());
        Ok(())
    }

    async fn remove_snapshot(&self, snapshot_id: &str) -> Result<(), RuntimeError> {
        self.lock().snapshots.remove(snapshot_id);
        Ok(())
    }

    async fn list_snapshots(&self) -> Result<Vec<String>, RuntimeError> {
        Ok(self.lock().snapshots.keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Resources;

    fn spec(id: &str) -> SandboxSpec {
        SandboxSpec {
            sandbox_id: id.into(),
            template: "base".into(),
            image: "warren/template-base:latest".into(),
            isolation: crate::Isolation::Container,
            resources: Resources {
                vcpu: 1,
                memory_mb: 512,
                disk_mb: 1024,
            },
            env_vars: BTreeMap::new(),
            internet_access: true,
            token_key_hex: "00".repeat(32),
            viewer_base: None,
            preview_epoch: 0,
            volumes: Vec::new(),
            snapshot_id: None,
        }
    }

    #[tokio::test]
    async fn the_agent_hook_chooses_the_address() {
        let rt = FakeRuntime::new();
        let chosen = SocketAddr::from((Ipv4Addr::LOCALHOST, 4242));
        rt.set_agent_hook(Arc::new(move |spec: SandboxSpec| {
            assert_eq!(spec.sandbox_id, "a");
            Box::pin(async move { chosen })
        }));
        assert_eq!(rt.create(&spec("a")).await.unwrap().agent_addr, chosen);
        rt.stop("a").await.unwrap();
        assert_eq!(rt.start("a").await.unwrap().agent_addr, chosen);
        assert_eq!(rt.agent_addr("a"), Some(chosen));
    }

    #[tokio::test]
    async fn lifecycle_and_failures() {
        let rt = FakeRuntime::new();
        rt.create(&spec("a")).await.unwrap();
        rt.pause("a").await.unwrap();
        assert!(rt.pause("a").await.is_err(), "paused twice");
        rt.stop("a").await.unwrap();
        rt.start("a").await.unwrap();
        assert_eq!(rt.state_of("a"), Some(RuntimeState::Running));
        assert!(matches!(
            rt.resume("zz").await,
            Err(RuntimeError::NotFound(_))
        ));
        rt.fail_next_create(FakeFailure::InsufficientCapacity);
        assert!(matches!(
            rt.create(&spec("b")).await,
            Err(RuntimeError::InsufficientCapacity(_))
        ));
        rt.destroy("a").await.unwrap();
        rt.destroy("a").await.unwrap();
        assert!(rt.list().await.unwrap().is_empty());
        assert_eq!(rt.calls().len(), 9);
    }

    #[tokio::test]
    async fn pooled_sandboxes_are_listed_then_claimed_once() {
        let rt = FakeRuntime::new();
        let pooled = rt
            .create_pooled(&PooledSpec {
                sandbox_id: "p".into(),
                template: "base".into(),
                image: "warren/template-base:latest".into(),
                isolation: crate::Isolation::Container,
                resources: spec("p").resources,
                configure_secret: "s".into(),
            })
            .await
            .unwrap();
        assert_eq!(rt.list().await.unwrap().len(), 1);
        assert_eq!(rt.state_of("p"), None, "not owned before the claim");
        rt.claim(&pooled, &spec("p")).await.unwrap();
        assert_eq!(rt.state_of("p"), Some(RuntimeState::Running));
        assert!(matches!(
            rt.claim(&pooled, &spec("p")).await,
            Err(RuntimeError::NotFound(_))
        ));
        assert_eq!(rt.list().await.unwrap().len(), 1);
    }
}
