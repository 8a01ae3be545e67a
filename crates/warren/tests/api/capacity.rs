//! Admission control: creates and starts beyond `[capacity]` are 503 `INSUFFICIENT_CAPACITY`, decided
//! in Postgres so replicas sharing the database agree.

use futures::future::join_all;
use serde_json::{Value, json};
use test_support::spawn_app_with;

use crate::helpers::{assert_error, redacted};

async fn live_rows(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sandboxes WHERE status <> 'deleted'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn creates_and_starts_beyond_capacity_are_refused_and_stopped_sandboxes_hold_nothing() {
    // `base` is 1 vCPU and 512 MiB.
    let app = spawn_app_with(|s| {
        s.capacity.vcpu = Some(2);
        s.capacity.memory_mb = Some(64 * 1024);
    })
    .await;
    let a = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_sandbox("base").await;
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "base"}))
        .await;
    let body = assert_error(r, 503, "INSUFFICIENT_CAPACITY").await;
    assert_eq!(
        body["error"]["details"],
        json!({"resource": "vcpu", "requested": 1, "in_use": 2, "limit": 2})
    );
    insta::assert_json_snapshot!("error_capacity_exceeded", redacted(&body));
    assert_eq!(
        live_rows(&app.pool).await,
        2,
        "a refused create stores nothing"
    );

    // A stopped sandbox frees its share; starting it again needs the share back.
    app.post_empty(&format!("/v1/sandboxes/{a}/stop")).await;
    let c = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.post_empty(&format!("/v1/sandboxes/{a}/start")).await;
    assert_error(r, 503, "INSUFFICIENT_CAPACITY").await;
    let (_, info) = crate::helpers::status_json(app.get(&format!("/v1/sandboxes/{a}")).await).await;
    assert_eq!(
        info["status"], "stopped",
        "a refused start leaves it stopped"
    );
    app.delete(&format!("/v1/sandboxes/{c}")).await;
    let r = app.post_empty(&format!("/v1/sandboxes/{a}/start")).await;
    assert_eq!(r.status(), 200);

    // Memory is checked the same way: `code-interpreter` needs 2048 MiB.
    let app = spawn_app_with(|s| s.capacity.memory_mb = Some(2047)).await;
    let r = app
        .post_json(
            "/v1/sandboxes",
            &json!({"template_name": "code-interpreter"}),
        )
        .await;
    let body = assert_error(r, 503, "INSUFFICIENT_CAPACITY").await;
    assert_eq!(body["error"]["details"]["resource"], "memory_mb");
    assert!(
        body["message"].as_str().unwrap().contains("2047"),
        "the message says what is free: {body}"
    );
}

#[tokio::test]
async fn two_replicas_never_admit_more_than_the_capacity_together() {
    const CAPACITY: usize = 3;
    let app = spawn_app_with(|s| s.capacity.vcpu = Some(CAPACITY as u32)).await;
    let other = app.replica(false).await;

    let creates = (0..4 * CAPACITY).map(|i| {
        let base = if i % 2 == 0 {
            &app.address
        } else {
            &other.address
        };
        let req = app
            .client
            .post(format!("{base}/v1/sandboxes"))
            .header("x-api-key", &app.api_key)
            .body(json!({"template_name": "base"}).to_string());
        async move {
            let r = req.send().await.expect("POST");
            let status = r.status().as_u16();
            let body: Value = r.json().await.expect("JSON");
            (status, body)
        }
    });
    let answers = join_all(creates).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == 503 && b["code"] == "INSUFFICIENT_CAPACITY")
        .count();
    assert_eq!((created, refused), (CAPACITY, 3 * CAPACITY), "{answers:?}");
    assert_eq!(live_rows(&app.pool).await, CAPACITY as i64);
}

/// POSTs a create of `template` with `key`; the status and body.
async fn create_as(app: &test_support::TestApp, key: &str, template: &str) -> (u16, Value) {
    let r = app
        .request_as(key, reqwest::Method::POST, "/v1/sandboxes")
        .body(json!({ "template_name": template }).to_string())
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON"))
}

#[tokio::test]
async fn an_organization_over_its_share_is_refused_while_another_still_creates() {
    // Each organization may hold half of 4 vCPU; `base` is 1 vCPU.
    let app = spawn_app_with(|s| {
        s.capacity.vcpu = Some(4);
        s.capacity.org_share_percent = 50;
    })
    .await;
    let (_, other_key) = app.other_org("other-org").await;
    let first = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_sandbox("base").await;
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "base"}))
        .await;
    let body = assert_error(r, 403, "RESOURCE_LIMIT_ERROR").await;
    assert_eq!(
        body["error"]["details"],
        json!({"resource": "vcpu", "requested": 1, "in_use": 2, "limit": 2})
    );
    assert!(
        body["message"].as_str().unwrap().contains("limit"),
        "the SDK's ResourceLimitError needs the word: {body}"
    );
    // The machine still has room, and the other organization its share.
    let (status, body) = create_as(&app, &other_key, "base").await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = create_as(&app, &other_key, "base").await;
    assert_eq!(status, 201);
    // With room on the machine again, an organization at its share is still refused.
    app.post_empty(&format!("/v1/sandboxes/{first}/stop")).await;
    let (status, body) = create_as(&app, &other_key, "base").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RESOURCE_LIMIT_ERROR"))
    );
    // A start is held to the share like a create.
    app.create_sandbox("base").await;
    let r = app
        .post_empty(&format!("/v1/sandboxes/{first}/start"))
        .await;
    assert_error(r, 403, "RESOURCE_LIMIT_ERROR").await;
    assert_eq!(live_rows(&app.pool).await, 5);
}

#[tokio::test]
async fn disk_admission_refuses_what_does_not_fit_and_stopped_sandboxes_keep_theirs() {
    // `base` has a 5 GiB disk: two fit in 12 GiB, a third does not.
    let app = spawn_app_with(|s| s.capacity.disk_mb = Some(12 * 1024)).await;
    let a = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_sandbox("base").await;
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "base"}))
        .await;
    let body = assert_error(r, 503, "INSUFFICIENT_CAPACITY").await;
    assert_eq!(
        body["error"]["details"],
        json!({"resource": "disk_mb", "requested": 5120, "in_use": 10240, "limit": 12288})
    );
    assert!(
        body["message"].as_str().unwrap().contains("MiB of disk"),
        "{body}"
    );
    // A stopped sandbox keeps its disk, so it still counts; and starting it again needs none more.
    app.post_empty(&format!("/v1/sandboxes/{a}/stop")).await;
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "base"}))
        .await;
    assert_error(r, 503, "INSUFFICIENT_CAPACITY").await;
    let r = app.post_empty(&format!("/v1/sandboxes/{a}/start")).await;
    assert_eq!(r.status(), 200);
    // A deleted one frees it.
    app.delete(&format!("/v1/sandboxes/{a}")).await;
    app.create_sandbox("base").await;
}
