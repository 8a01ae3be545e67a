//! The state machine, timeouts and the reaper, token refresh, the live-sandbox cap, runtime failures.

use runtime::RuntimeState;
use runtime::fake::{FakeCall, FakeFailure};
use serde_json::json;
use test_support::{spawn_app, spawn_app_with};

use crate::helpers::{assert_error, redacted, status_json};

#[tokio::test]
async fn pause_resume_stop_start_follow_the_state_machine() {
    let app = spawn_app().await;
    let id = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = |a: &str| format!("/v1/sandboxes/{id}/{a}");

    let (status, body) = status_json(app.post_empty(&path("pause")).await).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("sandbox_paused", redacted(&body));
    assert_eq!(app.runtime.state_of(&id), Some(RuntimeState::Paused));

    let body = assert_error(
        app.post_empty(&path("pause")).await,
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Cannot pause a sandbox that is paused")
    );
    insta::assert_json_snapshot!("error_invalid_transition", redacted(&body));
    assert_error(
        app.post_empty(&path("start")).await,
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;

    let (status, body) = status_json(app.post_empty(&path("resume")).await).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("sandbox_resumed", redacted(&body));

    let (status, body) = status_json(app.post_empty(&path("stop")).await).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("sandbox_stopped", redacted(&body));
    assert_error(
        app.post_empty(&path("resume")).await,
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;
    assert_error(
        app.post_empty(&path("pause")).await,
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;

    let (status, body) = status_json(app.post_empty(&path("start")).await).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("sandbox_started", redacted(&body));
    let (_, info) = status_json(app.get(&format!("/v1/sandboxes/{id}")).await).await;
    assert_eq!(info["status"], "running");

    assert_eq!(
        app.runtime.calls(),
        vec![
            FakeCall::Create(id.clone()),
            FakeCall::Pause(id.clone()),
            FakeCall::Resume(id.clone()),
            FakeCall::Stop(id.clone()),
            FakeCall::Start(id.clone()),
        ],
        "refused transitions never reach the runtime"
    );
}

#[tokio::test]
async fn body_less_posts_tolerate_json_content_type_and_any_body() {
    let app = spawn_app().await;
    let id = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The SDK sends Content-Type: application/json with an empty body (post_empty does); also
    // tolerate a stray body.
    let r = app
        .request(reqwest::Method::POST, &format!("/v1/sandboxes/{id}/pause"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn timeout_sets_expiry_and_the_reaper_deletes_expired_sandboxes() {
    let app = spawn_app().await;
    let keep = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let doomed = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = app
        .put_json(
            &format!("/v1/sandboxes/{doomed}/timeout"),
            &json!({"timeout_seconds": 600}),
        )
        .await;
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200);
    assert_eq!(body["timeout_seconds"], 600);
    insta::assert_json_snapshot!("timeout_set", redacted(&body));
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let delta = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((590..=610).contains(&delta), "expires in {delta}s");

    for bad in [
        json!({"timeout_seconds": 0}),
        json!({"timeout_seconds": -5}),
        json!({"timeout_seconds": 99_999_999_999_i64}),
        json!({"timeout_seconds": "60"}),
        json!({}),
    ] {
        let r = app
            .put_json(&format!("/v1/sandboxes/{doomed}/timeout"), &bad)
            .await;
        assert_error(r, 400, "INVALID_REQUEST").await;
    }

    assert!(
        app.run_reaper_once().await.is_empty(),
        "nothing expired yet"
    );
    // Let time pass for one sandbox by moving its expiry into the past.
    sqlx::query("UPDATE sandboxes SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(&doomed)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.run_reaper_once().await, vec![doomed.clone()]);
    assert_eq!(app.runtime.state_of(&doomed), None);
    assert_error(
        app.get(&format!("/v1/sandboxes/{doomed}")).await,
        404,
        "SANDBOX_NOT_FOUND",
    )
    .await;
    let (status, _) = status_json(app.get(&format!("/v1/sandboxes/{keep}")).await).await;
    assert_eq!(status, 200);
    assert!(app.run_reaper_once().await.is_empty());
}

#[tokio::test]
async fn token_refresh_signs_a_new_expiry_with_the_same_key() {
    let app = spawn_app().await;
    let created = app.create_sandbox("base").await;
    let id = created["id"].as_str().unwrap();
    let r = app
        .post_empty(&format!("/v1/sandboxes/{id}/token/refresh"))
        .await;
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("token_refreshed", redacted(&body));
    let key =
        sandbox_token::TokenKey::from_hex(&app.runtime.spec_of(id).unwrap().token_key_hex).unwrap();
    let now = chrono::Utc::now().timestamp();
    key.verify(body["auth_token"].as_str().unwrap(), id, now)
        .expect("verifies with the same key");
}

#[tokio::test]
async fn live_sandbox_cap_is_403_with_limit_details_and_counts_paused_and_stopped() {
    let app = spawn_app_with(|s| s.limits.max_live_sandboxes = 2).await;
    let a = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_empty(&format!("/v1/sandboxes/{a}/pause")).await;
    app.post_empty(&format!("/v1/sandboxes/{b}/stop")).await;
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "base"}))
        .await;
    let body = assert_error(r, 403, "RESOURCE_LIMIT_ERROR").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("limit")
    );
    assert_eq!(
        body["error"]["details"],
        json!({"limit": 2, "current": 2, "available": 0})
    );
    insta::assert_json_snapshot!("error_sandbox_limit", redacted(&body));
    // Deleting one frees a place.
    app.delete(&format!("/v1/sandboxes/{a}")).await;
    app.create_sandbox("base").await;
}

#[tokio::test]
async fn per_org_cap_override_in_the_database() {
    let app = spawn_app().await;
    sqlx::query("UPDATE organizations SET max_live_sandboxes = 0 WHERE id = $1")
        .bind(app.org_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "base"}))
        .await;
    let body = assert_error(r, 403, "RESOURCE_LIMIT_ERROR").await;
    assert_eq!(body["error"]["details"]["limit"], 0);
}

#[tokio::test]
async fn runtime_failures_leave_an_error_sandbox_and_answer_in_the_envelope() {
    let app = spawn_app().await;
    app.runtime
        .fail_next_create(FakeFailure::InsufficientCapacity);
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "base"}))
        .await;
    let body = assert_error(r, 503, "INSUFFICIENT_CAPACITY").await;
    insta::assert_json_snapshot!("error_insufficient_capacity", redacted(&body));

    app.runtime.fail_next_create(FakeFailure::Failed);
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_name": "base"}))
        .await;
    let body = assert_error(r, 500, "INTERNAL_ERROR").await;
    assert!(
        !body["message"].as_str().unwrap().contains("fake"),
        "internals never returned"
    );

    let (_, list) = status_json(app.get("/v1/sandboxes?status=error").await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    // Error sandboxes do not count against the cap and can be deleted.
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_error(
        app.post_empty(&format!("/v1/sandboxes/{id}/pause")).await,
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;
    assert_eq!(
        app.delete(&format!("/v1/sandboxes/{id}")).await.status(),
        200
    );
}

#[tokio::test]
async fn without_a_runtime_create_is_503_and_stores_nothing() {
    let db = test_support::test_database().await;
    let mut settings = settings::Settings::default();
    settings.database.url = secrecy::SecretString::from(db.url.clone());
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    let app = control_plane::startup::Application::build(settings, None)
        .await
        .unwrap();
    let pool = app.state().pool.clone();
    let port = app.port();
    tokio::spawn(app.without_background_tasks().run_until_stopped());
    control_plane::admin::create_org(&pool, "o", None, None)
        .await
        .unwrap();
    let (_, key) = control_plane::admin::create_key(&pool, "o", None)
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/sandboxes"))
        .header("x-api-key", key)
        .body(r#"{"template_name":"base"}"#)
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 503, "RUNTIME_UNAVAILABLE").await;
    insta::assert_json_snapshot!("error_runtime_unavailable", redacted(&body));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM sandboxes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}
