//! `GET /metrics`: Prometheus text with the request counters and latency histograms by matched
//! route, sandboxes by state read at the scrape, rate-limit rejections and reconciler passes; open
//! like `/health`, and showing no sandbox id, key or organization.

use scheduler::reconcile::Reconciler;
use test_support::{spawn_app, spawn_app_with};

/// The value of the sample `name{labels}` (exactly as written), if the exposition has it.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(app: &test_support::TestApp) -> String {
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn requests_sandboxes_and_reconciler_passes_are_counted_without_naming_anyone() {
    let app = spawn_app().await;
    let created = app.create_sandbox("base").await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.post_empty(&format!("/v1/sandboxes/{id}/pause"))
            .await
            .status(),
        200
    );
    assert_eq!(app.get("/v1/sandboxes/zzzzzzzzzzzz").await.status(), 404);
    let report = Reconciler::new(app.state.scheduler.clone())
        .run_once()
        .await
        .unwrap();
    app.state
        .scheduler
        .metrics
        .reconciled(Some(&report.counts()));

    let text = scrape(&app).await;
    let created = r#"warren_http_requests_total{method="POST",route="/v1/sandboxes",status="201"}"#;
    assert_eq!(sample(&text, created), Some(1.0), "{text}");
    let missing =
        r#"warren_http_requests_total{method="GET",route="/v1/sandboxes/{id}",status="404"}"#;
    assert_eq!(sample(&text, missing), Some(1.0), "{text}");
    let timed = r#"warren_http_request_duration_seconds_count{method="POST",route="/v1/sandboxes/{id}/pause"}"#;
    assert_eq!(sample(&text, timed), Some(1.0), "{text}");
    let bucket = r#"warren_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/v1/sandboxes"}"#;
    assert_eq!(sample(&text, bucket), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, r#"warren_sandboxes{state="paused"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"warren_reconcile_passes_total{kind="ok"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));
    for secret in [id.as_str(), app.api_key.as_str(), "test-org"] {
        assert!(!text.contains(secret), "{secret} appears in /metrics");
    }
}

#[tokio::test]
async fn rate_limit_rejections_are_counted() {
    let app = spawn_app_with(|s| {
        s.limits.rate_limit = 2;
        s.limits.auth_cache_ms = 0;
    })
    .await;
    let statuses: Vec<u16> = futures::future::join_all(
        (0..4).map(|_| async { app.get("/v1/sandboxes").await.status().as_u16() }),
    )
    .await;
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 2, "{statuses:?}");
    let text = scrape(&app).await;
    assert_eq!(
        sample(&text, "warren_rate_limit_rejections_total"),
        Some(refused as f64),
        "{text}"
    );
}

#[tokio::test]
async fn warm_pool_claims_and_template_builds_are_counted() {
    let app = spawn_app_with(|s| {
        s.pool.templates.insert("base".into(), 1);
    })
    .await;
    // Nothing refills the pool here: a create of a pooled template finds none ready.
    app.create_sandbox("base").await;
    let template: i64 = sqlx::query_scalar(
        "INSERT INTO templates (name, display_name, description, category, image, status, vcpu,
                                memory_mb, disk_gb, is_public, organization_id, isolation)
         VALUES ('m', 'm', 'd', 'custom', '', 'failed', 1, 512, 1, false, NULL, 'container')
         RETURNING id",
    )
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO template_builds (template_id, status) VALUES ($1, 'failed')")
        .bind(template)
        .execute(&app.state.pool)
        .await
        .unwrap();
    let text = scrape(&app).await;
    let miss = r#"warren_pool_claims_total{kind="miss"}"#;
    assert_eq!(sample(&text, miss), Some(1.0), "{text}");
    let failed = r#"warren_template_builds{state="failed"}"#;
    assert_eq!(sample(&text, failed), Some(1.0), "{text}");
}
