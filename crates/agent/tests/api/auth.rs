use serde_json::json;

use crate::helpers::{Options, SANDBOX_ID, TestAgent, error_code, send};

#[tokio::test]
async fn health_is_open_and_everything_else_needs_a_valid_token() {
    let agent = TestAgent::start().await;
    let (status, body) = send(agent.http.get(agent.url("/health"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
    assert!(
        body["features"]["languages"]
            .as_array()
            .unwrap()
            .contains(&json!("bash"))
    );

    let (status, body) = send(agent.http.get(agent.url("/info"))).await;
    assert_eq!((status, error_code(&body)), (401, "TOKEN_INVALID"));

    let expired = agent.key.sign(SANDBOX_ID, 1);
    let (status, body) = send(agent.http.get(agent.url("/info")).bearer_auth(expired)).await;
    assert_eq!((status, error_code(&body)), (401, "TOKEN_EXPIRED"));

    let other = agent
        .key
        .sign("another-sandbox", chrono::Utc::now().timestamp() + 60);
    let (status, body) = send(agent.http.get(agent.url("/info")).bearer_auth(other)).await;
    assert_eq!((status, error_code(&body)), (401, "TOKEN_INVALID"));

    // Token checks guard WebSocket upgrades too.
    let res = agent.http.get(agent.url("/terminal")).send().await.unwrap();
    assert_eq!(res.status(), 401);

    let (status, body) = agent.get_json("/info").await;
    assert_eq!(status, 200);
    assert_eq!(body["vm_id"], SANDBOX_ID);
}

#[tokio::test]
async fn warm_pool_agent_is_configured_exactly_once() {
    let agent = TestAgent::start_with(Options {
        configure_secret: Some("pool-secret".into()),
        ..Options::default()
    })
    .await;
    let (status, _) = agent.get_json("/info").await;
    assert_eq!(status, 401);
    let body = json!({"sandbox_id": SANDBOX_ID, "token_key": agent.key.to_hex(),
                      "env_vars": {"FROM_POOL": "yes"},
                      "viewer_base": "http://6080-sbx.sandbox.localhost:8080", "preview_epoch": 1});
    let configure = |secret: &str| {
        agent
            .http
            .post(agent.url("/_warren/configure"))
            .bearer_auth(secret)
            .json(&body)
    };
    let (status, res) = send(configure("wrong")).await;
    assert_eq!((status, error_code(&res)), (401, "TOKEN_INVALID"));
    let (status, _) = send(configure("pool-secret")).await;
    assert_eq!(status, 200);
    let (status, res) = send(configure("pool-secret")).await;
    assert_eq!((status, error_code(&res)), (409, "ALREADY_CONFIGURED"));

    let out = agent
        .exec(
            "bash",
            "echo $FROM_POOL; env | grep -c WARREN_AGENT_ || true",
        )
        .await;
    assert_eq!(out["stdout"], "yes\n0\n");

    // A warm-pool agent starts its Python kernel before the claim; the owner's environment still
    // reaches the code it runs there.
    agent.started_kernel().await;
    let out = agent
        .exec("python", "import os; print(os.environ['FROM_POOL'])")
        .await;
    assert_eq!(out["stdout"], "yes\n");
}
