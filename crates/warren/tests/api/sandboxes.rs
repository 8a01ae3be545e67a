//! Create, get, list (pagination, filters) and delete.

use serde_json::{Value, json};
use test_support::spawn_app;

use crate::helpers::{assert_error, redacted, status_json};

#[tokio::test]
async fn create_answers_running_with_a_token_the_key_verifies() {
    let app = spawn_app().await;
    let body = app.create_sandbox("code-interpreter").await;
    insta::assert_json_snapshot!("created_sandbox", redacted(&body));
    let id = body["id"].as_str().unwrap();
    assert_eq!(body["status"], "running");
    assert_eq!(body["template_id"], "1");
    assert_eq!(
        body["public_host"],
        format!("http://{id}.sandbox.localhost:{}", app.port)
    );
    // The token verifies with the key handed to the runtime, for at least 24 h.
    let spec = app.runtime.spec_of(id).expect("runtime holds it");
    let key = sandbox_token::TokenKey::from_hex(&spec.token_key_hex).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = key
        .verify(body["auth_token"].as_str().unwrap(), id, now)
        .expect("token verifies");
    assert!(claims.expires_at >= now + 24 * 3600 - 5);
    let expires = body["token_expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");
    assert_eq!(spec.image, "warren/template-code-interpreter:latest");
    assert_eq!(spec.resources.memory_mb, 2048);
    // The agent learns the public URL of its desktop viewer port, and the preview epoch.
    assert_eq!(
        spec.viewer_base.as_deref(),
        Some(format!("http://6080-{id}.sandbox.localhost:{}", app.port).as_str())
    );
    assert_eq!(spec.preview_epoch, 0);
}

#[tokio::test]
async fn create_passes_env_vars_and_options() {
    let app = spawn_app().await;
    let r = app
        .post_json(
            "/v1/sandboxes",
            &json!({"template_id": "2", "timeout_seconds": 120, "internet_access": false,
                    "env_vars": {"FOO": "bar"}, "region": "local", "unknown_field": [1, 2]}),
        )
        .await;
    let (status, body) = status_json(r).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["template_name"], "python");
    assert_eq!(body["timeout_seconds"], 120);
    assert_eq!(body["internet_access"], false);
    let spec = app.runtime.spec_of(body["id"].as_str().unwrap()).unwrap();
    assert_eq!(spec.env_vars.get("FOO").map(String::as_str), Some("bar"));
    assert!(!spec.internet_access);
}

#[tokio::test]
async fn get_returns_the_sandbox_object() {
    let app = spawn_app().await;
    let id = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = status_json(app.get(&format!("/v1/sandboxes/{id}")).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], id);
    assert!(body["organization_id"].is_i64());
    insta::assert_json_snapshot!("sandbox", redacted(&body));
}

#[tokio::test]
async fn unknown_template_is_404_and_stores_nothing() {
    let app = spawn_app().await;
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "nope"}))
        .await;
    let body = assert_error(r, 404, "TEMPLATE_NOT_FOUND").await;
    insta::assert_json_snapshot!("error_template_not_found", redacted(&body));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sandboxes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    assert!(app.runtime.calls().is_empty());
}

#[tokio::test]
async fn list_paginates_with_cursor_and_filters() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            app.create_sandbox("base").await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.post_empty(&format!("/v1/sandboxes/{}/pause", ids[0]))
        .await;

    let (status, page1) = status_json(app.get("/v1/sandboxes?limit=2").await).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("sandbox_list", redacted(&page1));
    let mut seen: Vec<String> = Vec::new();
    let mut page = page1;
    loop {
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        if !page["has_more"].as_bool().unwrap() {
            assert!(page["next_cursor"].is_null());
            break;
        }
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        page = status_json(
            app.get(&format!("/v1/sandboxes?limit=2&cursor={cursor}"))
                .await,
        )
        .await
        .1;
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, each once");

    let (_, paused) = status_json(app.get("/v1/sandboxes?status=paused&limit=100").await).await;
    let paused: Vec<&Value> = paused["data"].as_array().unwrap().iter().collect();
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0]["id"], ids[0]);
    let (_, other) = status_json(app.get("/v1/sandboxes?region=elsewhere").await).await;
    assert!(other["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn delete_answers_json_and_hides_the_sandbox() {
    let app = spawn_app().await;
    let id = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = status_json(app.delete(&format!("/v1/sandboxes/{id}")).await).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("sandbox_deleted", redacted(&body));
    assert_eq!(app.runtime.state_of(&id), None, "runtime destroyed it");
    let body = assert_error(
        app.get(&format!("/v1/sandboxes/{id}")).await,
        404,
        "SANDBOX_NOT_FOUND",
    )
    .await;
    insta::assert_json_snapshot!("error_sandbox_not_found", redacted(&body));
    assert_error(
        app.delete(&format!("/v1/sandboxes/{id}")).await,
        404,
        "SANDBOX_NOT_FOUND",
    )
    .await;
    let (_, list) = status_json(app.get("/v1/sandboxes").await).await;
    assert!(list["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn another_organization_sees_404_never_403() {
    let app = spawn_app().await;
    let id = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, other) = app.other_org("other").await;
    let paths = [
        ("GET", format!("/v1/sandboxes/{id}")),
        ("DELETE", format!("/v1/sandboxes/{id}")),
        ("POST", format!("/v1/sandboxes/{id}/pause")),
        ("POST", format!("/v1/sandboxes/{id}/stop")),
        ("POST", format!("/v1/sandboxes/{id}/token/refresh")),
        ("PUT", format!("/v1/sandboxes/{id}/timeout")),
    ];
    for (method, path) in paths {
        let r = app
            .request_as(&other, method.parse().unwrap(), &path)
            .body(r#"{"timeout_seconds": 60}"#)
            .send()
            .await
            .unwrap();
        assert_error(r, 404, "SANDBOX_NOT_FOUND").await;
    }
    let r = app
        .request_as(&other, reqwest::Method::GET, "/v1/sandboxes")
        .send()
        .await
        .unwrap();
    let (_, list) = status_json(r).await;
    assert!(list["data"].as_array().unwrap().is_empty());
    // Untouched for its owner.
    let (_, body) = status_json(app.get(&format!("/v1/sandboxes/{id}")).await).await;
    assert_eq!(body["status"], "running");
}
