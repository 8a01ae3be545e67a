//! The per-organization budget in one process: headers, 429 envelope, per-org override.

use reqwest::Method;
use test_support::spawn_app_with;

use crate::helpers::{assert_error, redacted};

fn header(r: &reqwest::Response, name: &str) -> i64 {
    r.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn headers_count_down_then_429_with_retry_after() {
    // 3 requests per hour: no refill worth mentioning during the test.
    let app = spawn_app_with(|s| {
        s.limits.rate_limit = 3;
        s.limits.rate_window_seconds = 3600;
    })
    .await;
    for remaining in [2, 1, 0] {
        let r = app.get("/v1/templates").await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-limit"), 3);
        assert_eq!(header(&r, "x-ratelimit-remaining"), remaining);
        assert!(header(&r, "x-ratelimit-reset") > chrono::Utc::now().timestamp());
    }
    let r = app.get("/v1/sandboxes").await;
    assert_eq!(header(&r, "x-ratelimit-remaining"), 0);
    let retry_after = header(&r, "retry-after");
    assert!((1..=1200).contains(&retry_after), "{retry_after}");
    let body = assert_error(r, 429, "RATE_LIMIT_EXCEEDED").await;
    assert_eq!(body["error"]["details"]["retry_after_seconds"], retry_after);
    assert_eq!(body["retry_after"], retry_after);
    insta::assert_json_snapshot!("error_rate_limited", redacted(&body));

    // Errors of authenticated requests carry the headers too; /health is never limited.
    assert_eq!(
        app.client
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Another organization has its own budget.
    let (_, other) = app.other_org("other").await;
    let r = app
        .request_as(&other, Method::GET, "/v1/sandboxes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn per_org_override_in_the_database_wins() {
    let app = spawn_app_with(|s| s.limits.rate_window_seconds = 3600).await;
    sqlx::query("UPDATE organizations SET rate_limit = 1 WHERE id = $1")
        .bind(app.org_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.get("/v1/sandboxes").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-limit"), 1);
    assert_error(app.get("/v1/sandboxes").await, 429, "RATE_LIMIT_EXCEEDED").await;
}

#[tokio::test]
async fn a_wrong_secret_does_not_spend_the_budget() {
    let app = spawn_app_with(|s| {
        s.limits.rate_limit = 1;
        s.limits.rate_window_seconds = 3600;
    })
    .await;
    let (prefix, _) = app.api_key.rsplit_once('_').unwrap();
    let forged = format!("{prefix}_{}", "0".repeat(64));
    for _ in 0..3 {
        let r = app
            .request_as(&forged, Method::GET, "/v1/sandboxes")
            .send()
            .await
            .unwrap();
        assert_error(r, 401, "INVALID_API_KEY").await;
    }
    assert_eq!(app.get("/v1/sandboxes").await.status(), 200);
}

#[tokio::test]
async fn leased_tokens_are_spent_in_process_and_the_headers_stay_exact() {
    let app = spawn_app_with(|s| {
        s.limits.rate_limit = 1000;
        s.limits.rate_window_seconds = 3600;
        s.limits.rate_lease_fraction = 0.01;
    })
    .await;
    app.state.auth_cache.listening().await;
    for remaining in (990..1000).rev() {
        let r = app.get("/v1/sandboxes").await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-remaining"), remaining);
    }
    // Several tokens were taken at once: the bucket in Postgres is ahead of the requests served.
    let (granted, tokens): (i32, f64) = sqlx::query_as(
        "SELECT last_granted, tokens FROM rate_limit_buckets WHERE organization_id = $1",
    )
    .bind(app.org_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(granted > 1, "lease of {granted}");
    assert!(tokens < 990.0, "{tokens} tokens left in the bucket");
}

#[tokio::test]
async fn a_changed_org_limit_applies_once_heard() {
    let app = spawn_app_with(|s| s.limits.rate_window_seconds = 3600).await;
    let cache = app.state.auth_cache.clone();
    cache.listening().await;
    assert_eq!(
        header(&app.get("/v1/sandboxes").await, "x-ratelimit-limit"),
        600
    );
    let mut heard = cache.notifications();
    sqlx::query("UPDATE organizations SET rate_limit = 5 WHERE id = $1")
        .bind(app.org_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let expected = format!("org:{}", app.org_id);
    while *heard.recv().await.unwrap() != *expected {}
    let r = app.get("/v1/sandboxes").await;
    assert_eq!(header(&r, "x-ratelimit-limit"), 5);
    assert_eq!(header(&r, "x-ratelimit-remaining"), 4);
}
