//! Malformed, mistyped, oversized and absurd input: a 4xx in the envelope, never a 5xx, and nothing
//! stored changes.

use reqwest::Method;
use serde_json::json;
use test_support::{TestApp, spawn_app};

use crate::helpers::{assert_error, redacted};

async fn sandbox_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sandboxes")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn post_raw(app: &TestApp, path: &str, body: Vec<u8>) -> reqwest::Response {
    app.request(Method::POST, path)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400() {
    let app = spawn_app().await;
    let body = assert_error(
        post_raw(&app, "/v1/sandboxes", b"{\"template_name\":".to_vec()).await,
        400,
        "INVALID_JSON",
    )
    .await;
    insta::assert_json_snapshot!("error_invalid_json", redacted(&body));
    assert_error(
        post_raw(&app, "/v1/sandboxes", vec![b'"', 0xff, 0xfe, b'"']).await,
        400,
        "INVALID_JSON",
    )
    .await;
    assert_error(
        post_raw(
            &app,
            "/v1/sandboxes",
            b"{\"template_name\": \"\xff\"}".to_vec(),
        )
        .await,
        400,
        "INVALID_JSON",
    )
    .await;
    for (bad, code) in [
        (json!({"template_name": 5}), "INVALID_REQUEST"),
        (json!({"template_id": 1}), "INVALID_REQUEST"),
        (
            json!({"template_name": "base", "timeout_seconds": "x"}),
            "INVALID_REQUEST",
        ),
        (
            json!({"template_name": "base", "timeout_seconds": 0}),
            "INVALID_REQUEST",
        ),
        (
            json!({"template_name": "base", "timeout_seconds": 1e300}),
            "INVALID_REQUEST",
        ),
        (
            json!({"template_name": "base", "timeout_seconds": 10_000_000_000_i64}),
            "INVALID_REQUEST",
        ),
        (
            json!({"template_name": "base", "env_vars": {"A": 1}}),
            "INVALID_REQUEST",
        ),
        (
            json!({"template_name": "base", "env_vars": {"A=B": "x"}}),
            "INVALID_REQUEST",
        ),
        (
            json!({"template_name": "base", "env_vars": ["A"]}),
            "INVALID_REQUEST",
        ),
        (
            json!({"template_name": "base", "internet_access": "yes"}),
            "INVALID_REQUEST",
        ),
        (
            json!({"template_name": "base", "region": "mars"}),
            "INVALID_REQUEST",
        ),
        (json!({}), "INVALID_REQUEST"),
        (json!([]), "INVALID_REQUEST"),
        (json!(null), "INVALID_REQUEST"),
    ] {
        let r = app.post_json("/v1/sandboxes", &bad).await;
        let body = assert_error(r, 400, code).await;
        assert!(!body["message"].as_str().unwrap().is_empty(), "{bad}");
    }
    let body = assert_error(
        post_raw(&app, "/v1/sandboxes", Vec::new()).await,
        400,
        "INVALID_REQUEST",
    )
    .await;
    insta::assert_json_snapshot!("error_invalid_request", redacted(&body));
    assert_eq!(sandbox_count(&app).await, 0);
    assert!(app.runtime.calls().is_empty());
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app().await;
    let big = json!({"template_name": "base", "env_vars": {"A": "x".repeat(2 * 1024 * 1024)}});
    let body = assert_error(
        app.post_json("/v1/sandboxes", &big).await,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    insta::assert_json_snapshot!("error_payload_too_large", redacted(&body));
    assert_eq!(sandbox_count(&app).await, 0);
}

#[tokio::test]
async fn absurd_ids_and_limits_are_4xx() {
    let app = spawn_app().await;
    for id in [
        "x",
        "7777-abc",
        "ABCDEFGHIJKL",
        &"a".repeat(5000),
        "%FF%FE",
        "..%2F..%2Fetc",
    ] {
        let r = app.get(&format!("/v1/sandboxes/{id}")).await;
        let status = r.status().as_u16();
        let code = match status {
            404 => "SANDBOX_NOT_FOUND",
            400 => "INVALID_REQUEST",
            s => panic!("{id}: {s}"),
        };
        assert_error(r, status, code).await;
        let r = app.post_empty(&format!("/v1/sandboxes/{id}/pause")).await;
        assert!(r.status().is_client_error(), "{id}: {}", r.status());
    }
    for q in [
        "limit=0",
        "limit=-1",
        "limit=100000",
        "limit=abc",
        "limit=1e9",
        "status=exploded",
        "status=deleted",
        "cursor=%%%",
        "cursor=bm9wZQ",
    ] {
        let r = app.get(&format!("/v1/sandboxes?{q}")).await;
        assert_error(r, 400, "INVALID_REQUEST").await;
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_envelope() {
    let app = spawn_app().await;
    let body = assert_error(app.get("/v1/nothing").await, 404, "ROUTE_NOT_FOUND").await;
    insta::assert_json_snapshot!("error_route_not_found", redacted(&body));
    let r = app
        .request(Method::PATCH, "/v1/sandboxes")
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 405, "METHOD_NOT_ALLOWED").await;
    insta::assert_json_snapshot!("error_method_not_allowed", redacted(&body));
}
