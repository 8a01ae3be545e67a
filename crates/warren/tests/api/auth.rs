//! CONTRACT.md §1.1: X-API-Key or Bearer, /health open, bad keys refused in the envelope.

use reqwest::Method;
use test_support::spawn_app;

use crate::helpers::{assert_error, redacted, status_json};

#[tokio::test]
async fn health_is_open() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/health")).send().await.unwrap();
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
}

#[tokio::test]
async fn key_accepted_in_either_header() {
    let app = spawn_app().await;
    let r = app
        .request(Method::GET, "/v1/templates")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(app.url("/v1/templates"))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn missing_malformed_wrong_and_revoked_keys_are_401() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/v1/sandboxes"))
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 401, "AUTHENTICATION_REQUIRED").await;
    insta::assert_json_snapshot!("error_missing_key", redacted(&body));

    let r = app
        .request_as("garbage", Method::GET, "/v1/sandboxes")
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 401, "INVALID_API_KEY").await;
    insta::assert_json_snapshot!("error_invalid_key", redacted(&body));

    // Right key id, wrong secret.
    let (prefix, _) = app.api_key.rsplit_once('_').unwrap();
    let forged = format!("{prefix}_{}", "0".repeat(64));
    let r = app
        .request_as(&forged, Method::GET, "/v1/sandboxes")
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "INVALID_API_KEY").await;

    let key_id = app.api_key.split('_').nth(1).unwrap();
    control_plane::admin::revoke_key(&app.pool, key_id)
        .await
        .unwrap();
    let r = app
        .request(Method::GET, "/v1/sandboxes")
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "INVALID_API_KEY").await;
}

#[tokio::test]
async fn last_used_at_is_kept() {
    let app = spawn_app().await;
    let before: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM api_keys")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(before.is_none());
    assert_eq!(app.get("/v1/sandboxes").await.status(), 200);
    let after: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM api_keys")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(after.is_some());
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_a_sane_one() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let body = assert_error(r, 404, "ROUTE_NOT_FOUND").await;
    assert_eq!(body["request_id"], "abc-123");
    let r = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "bad id\t")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.starts_with("req_"), "{id}");
}

#[tokio::test]
async fn a_cached_key_is_refused_once_its_revocation_is_heard() {
    let app = spawn_app().await;
    let cache = app.state.auth_cache.clone();
    cache.listening().await;
    for _ in 0..3 {
        assert_eq!(app.get("/v1/sandboxes").await.status(), 200);
    }
    let mut heard = cache.notifications();
    let key_id = app.api_key.split('_').nth(1).unwrap();
    control_plane::admin::revoke_key(&app.pool, key_id)
        .await
        .unwrap();
    let expected = format!("key:{key_id}");
    while *heard.recv().await.unwrap() != *expected {}
    let r = app
        .request(Method::GET, "/v1/sandboxes")
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "INVALID_API_KEY").await;
}
