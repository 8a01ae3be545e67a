//! Warm-pool sandboxes: started without an owner, configured at claim, and still configured after a
//! stop and start.

use std::collections::BTreeMap;

use runtime::{Isolation, PooledSandbox, PooledSpec, SandboxRuntime as _, SandboxSpec};
use runtime_docker::DockerRuntime;
use sandbox_token::TokenKey;

use crate::helpers::*;

/// A started warm-pool sandbox of the base template.
async fn pooled() -> (DockerRuntime, PooledSandbox, Cleanup) {
    let rt = runtime().await;
    let id = sandbox_id();
    let spec = PooledSpec {
        sandbox_id: id.clone(),
        template: "base".into(),
        image: BASE_IMAGE.into(),
        isolation: Isolation::Container,
        resources: resources(),
        configure_secret: uuid::Uuid::new_v4().simple().to_string(),
    };
    let cleanup = Cleanup(id);
    let pooled = rt.create_pooled(&spec).await.unwrap();
    (rt, pooled, cleanup)
}

fn owner(sandbox_id: &str, key: &TokenKey, internet_access: bool) -> SandboxSpec {
    SandboxSpec {
        sandbox_id: sandbox_id.into(),
        template: "base".into(),
        image: BASE_IMAGE.into(),
        isolation: Isolation::Container,
        resources: resources(),
        env_vars: BTreeMap::from([("OWNER".to_owned(), "me".to_owned())]),
        internet_access,
        token_key_hex: key.to_hex(),
        viewer_base: None,
        preview_epoch: 0,
        volumes: Vec::new(),
        snapshot_id: None,
    }
}

#[tokio::test]
async fn pooled_sandboxes_serve_their_owner_once_claimed() {
    let (rt, pooled, _cleanup) = pooled().await;
    let id = pooled.sandbox_id.clone();
    let health: serde_json::Value = http()
        .get(format!("http://{}/health", pooled.agent_addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["configured"], false, "{health}");

    let key = TokenKey::generate();
    let sbx = rt.claim(&pooled, &owner(&id, &key, true)).await.unwrap();
    assert_eq!(sbx.agent_addr, pooled.agent_addr);
    assert_eq!(bash(sbx.agent_addr, &id, &key, "echo $OWNER").await, "me\n");

    // A restarted agent is configured again from the claim.
    rt.stop(&id).await.unwrap();
    let started = rt.start(&id).await.unwrap();
    assert_eq!(
        bash(started.agent_addr, &id, &key, "echo $OWNER").await,
        "me\n"
    );
    rt.destroy(&id).await.unwrap();
    assert!(!container_exists(&id));
}

#[tokio::test]
async fn a_claim_without_internet_access_moves_the_sandbox_off_the_egress_network() {
    let (rt, pooled, _cleanup) = pooled().await;
    let id = pooled.sandbox_id.clone();
    let key = TokenKey::generate();
    let sbx = rt.claim(&pooled, &owner(&id, &key, false)).await.unwrap();
    assert_ne!(sbx.agent_addr, pooled.agent_addr);
    let probe = "curl -s -o /dev/null -m 3 -w '%{http_code}' http://deb.debian.org/debian/ || true";
    assert_ne!(bash(sbx.agent_addr, &id, &key, probe).await, "200");
    rt.destroy(&id).await.unwrap();
}
