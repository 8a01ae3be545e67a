//! The warm pool with the fake runtime: creates claim pooled sandboxes (same id, configured with the
//! owner's token key), the refill tops the pool up within capacity, requested sandboxes evict pooled
//! ones when capacity is short, a failed claim falls back to a cold create.

use runtime::fake::FakeCall;
use serde_json::json;
use test_support::{TestApp, spawn_app_with};

use crate::helpers::{assert_error, status_json};

async fn pool_app(size: u32, vcpu: Option<u32>) -> TestApp {
    spawn_app_with(|s| {
        s.pool.templates.insert("base".into(), size);
        s.capacity.vcpu = vcpu;
    })
    .await
}

async fn refill(app: &TestApp) -> Vec<String> {
    let mut ready = scheduler::pool::PoolRefill::new(app.state.scheduler.clone())
        .refill_once()
        .await
        .expect("refill");
    ready.sort();
    ready
}

#[tokio::test]
async fn creates_claim_pooled_sandboxes_and_the_refill_tops_the_pool_up() {
    let app = pool_app(2, None).await;
    let pooled = refill(&app).await;
    assert_eq!(pooled.len(), 2);
    assert_eq!(app.runtime.pooled_ids(), pooled);
    assert!(refill(&app).await.is_empty(), "the pool is full");

    let created = app.create_sandbox("base").await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(pooled.contains(&id), "{id} was served from the pool");
    assert_eq!(created["status"], "running");
    let calls = app.runtime.calls();
    assert!(calls.contains(&FakeCall::Claim(id.clone())));
    assert!(!calls.iter().any(|c| matches!(c, FakeCall::Create(_))));
    // The agent was configured with the owner's key: the returned token verifies with it.
    let key = sandbox_token::TokenKey::from_hex(&app.runtime.spec_of(&id).unwrap().token_key_hex)
        .unwrap();
    key.verify(
        created["auth_token"].as_str().unwrap(),
        &id,
        chrono::Utc::now().timestamp(),
    )
    .expect("token signed with the configured key");

    // One was taken: the refill starts one more.
    assert_eq!(refill(&app).await.len(), 1);
    assert_eq!(app.runtime.pooled_ids().len(), 2);

    // Requests that do not fit the pooled shape are created cold.
    let r = app
        .post_json(
            "/v1/sandboxes",
            &json!({"template_name": "base", "internet_access": false}),
        )
        .await;
    let (status, body) = status_json(r).await;
    assert_eq!(status, 201);
    let cold = body["id"].as_str().unwrap().to_owned();
    let python = app.create_sandbox("python").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let calls = app.runtime.calls();
    assert!(calls.contains(&FakeCall::Create(cold)));
    assert!(calls.contains(&FakeCall::Create(python)));
    assert_eq!(
        app.runtime.pooled_ids().len(),
        2,
        "the pool was not touched"
    );
}

#[tokio::test]
async fn pooled_sandboxes_hold_capacity_and_yield_it_to_requested_ones() {
    // base and python are 1 vCPU each; the pool wants 3 but only 2 fit.
    let app = pool_app(3, Some(2)).await;
    let pooled = refill(&app).await;
    assert_eq!(pooled.len(), 2);
    // A claim moves capacity from the pool to the sandbox.
    app.create_sandbox("base").await;
    // Another template does not fit beside the last pooled sandbox: it is evicted for it.
    let python = app.create_sandbox("python").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.runtime.pooled_ids().is_empty(), "evicted and destroyed");
    assert_eq!(app.runtime.calls().last(), Some(&FakeCall::Create(python)));
    assert!(refill(&app).await.is_empty(), "no capacity left to refill");
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "python"}))
        .await;
    assert_error(r, 503, "INSUFFICIENT_CAPACITY").await;
}

#[tokio::test]
async fn a_failed_claim_falls_back_to_a_cold_create_with_the_same_id() {
    let app = pool_app(1, None).await;
    let pooled = refill(&app).await;
    assert!(app.runtime.vanish(&pooled[0]), "the pooled container dies");
    let created = app.create_sandbox("base").await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id, pooled[0]);
    assert_eq!(created["status"], "running");
    let calls = app.runtime.calls();
    let tail = &calls[calls.len() - 3..];
    assert_eq!(
        tail,
        [
            FakeCall::Claim(id.clone()),
            FakeCall::Destroy(id.clone()),
            FakeCall::Create(id.clone())
        ]
    );
}
