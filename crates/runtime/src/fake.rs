//! An in-memory [`SandboxRuntime`] for tests: it records every call, keeps a state per sandbox, and can
//! be told to fail the next create.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::{
    PooledSandbox, PooledSpec, RuntimeError, RuntimeSandbox, RuntimeState, RuntimeStatus,
    SandboxRuntime, SandboxSpec,
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
}

/// The fake backend. Agents "listen" on `127.0.0.1:7777`.
#[derive(Default)]
pub struct FakeRuntime {
    inner: Mutex<Inner>,
}

impl FakeRuntime {
    pub fn new() -> Self {
        Self::default()
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

    /// Makes the next `create` fail this way.
    pub fn fail_next_create(&self, failure: FakeFailure) {
        self.lock().fail_next_create = Some(failure);
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

    fn transition(
        &self,
        call: FakeCall,
        sandbox_id: &str,
        from: &[RuntimeState],
        to: RuntimeState,
    ) -> Result<(), RuntimeError> {
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

#[async_trait]
impl SandboxRuntime for FakeRuntime {
    async fn create(&self, spec: &SandboxSpec) -> Result<RuntimeSandbox, RuntimeError> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Create(spec.sandbox_id.clone()));
        match inner.fail_next_create.take() {
            Some(FakeFailure::InsufficientCapacity) => {
                return Err(RuntimeError::InsufficientCapacity(
                    "fake host is full".into(),
                ));
            }
            Some(FakeFailure::Failed) => return Err(RuntimeError::Failed("fake failure".into())),
            None => {}
        }
        inner.sandboxes.insert(
            spec.sandbox_id.clone(),
            (RuntimeState::Running, spec.clone()),
        );
        Ok(Self::agent(&spec.sandbox_id))
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
    }

    async fn resume(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let call = FakeCall::Resume(sandbox_id.to_owned());
        self.transition(
            call,
            sandbox_id,
            &[RuntimeState::Paused],
            RuntimeState::Running,
        )
    }

    async fn stop(&self, sandbox_id: &str) -> Result<(), RuntimeError> {
        let call = FakeCall::Stop(sandbox_id.to_owned());
        let from = [RuntimeState::Running, RuntimeState::Paused];
        self.transition(call, sandbox_id, &from, RuntimeState::Stopped)
    }

    async fn start(&self, sandbox_id: &str) -> Result<RuntimeSandbox, RuntimeError> {
        let call = FakeCall::Start(sandbox_id.to_owned());
        self.transition(
            call,
            sandbox_id,
            &[RuntimeState::Stopped],
            RuntimeState::Running,
        )?;
        Ok(Self::agent(sandbox_id))
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
            resources: Resources {
                vcpu: 1,
                memory_mb: 512,
                disk_mb: 1024,
            },
            env_vars: BTreeMap::new(),
            internet_access: true,
            token_key_hex: "00".repeat(32),
        }
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
