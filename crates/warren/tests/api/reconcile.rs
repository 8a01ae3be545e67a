//! The reconciler with the fake runtime, and leadership between two replicas on one database.

use std::sync::atomic::Ordering;
use std::time::Duration;

use runtime::RuntimeState;
use scheduler::pool::PoolRefill;
use scheduler::reconcile::Reconciler;
use test_support::{Replica, TestApp, spawn_app_with};

async fn reconcile(app: &TestApp) -> scheduler::reconcile::Report {
    Reconciler::new(app.state.scheduler.clone())
        .run_once()
        .await
        .expect("reconcile pass")
}

async fn new_sandbox(app: &TestApp) -> String {
    app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sql(app: &TestApp, query: &str, id: &str) {
    sqlx::query(query)
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn status(app: &TestApp, id: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, status_reason FROM sandboxes WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_reconciler_converges_every_kind_of_drift_and_then_does_nothing() {
    let app = spawn_app_with(|s| {
        s.pool.templates.insert("base".into(), 2);
        s.capacity.vcpu = Some(100);
    })
    .await;
    let healthy = new_sandbox(&app).await;
    // A container nobody owns (left by a crashed server).
    app.runtime.add_orphan("orphan000000");
    // A deleted sandbox whose container survived.
    let deleted = new_sandbox(&app).await;
    sql(
        &app,
        "UPDATE sandboxes SET status = 'deleted' WHERE id = $1",
        &deleted,
    )
    .await;
    // A running sandbox whose container vanished.
    let vanished = new_sandbox(&app).await;
    app.runtime.vanish(&vanished);
    // A running sandbox whose processes exited long ago, and one that exited just now (maybe a
    // start in flight: left alone).
    let exited = new_sandbox(&app).await;
    app.runtime.set_state(&exited, RuntimeState::Stopped);
    sql(
        &app,
        "UPDATE sandboxes SET status_changed_at = now() - interval '1 hour' WHERE id = $1",
        &exited,
    )
    .await;
    let just_exited = new_sandbox(&app).await;
    app.runtime.set_state(&just_exited, RuntimeState::Stopped);
    // A create abandoned long ago (its container exists), one still young, and an old one still in
    // flight in this process.
    let stuck = new_sandbox(&app).await;
    let young = new_sandbox(&app).await;
    let busy = new_sandbox(&app).await;
    for id in [&stuck, &busy] {
        sql(
            &app,
            "UPDATE sandboxes SET status = 'creating', created_at = now() - interval '1 hour' \
             WHERE id = $1",
            id,
        )
        .await;
    }
    sql(
        &app,
        "UPDATE sandboxes SET status = 'creating' WHERE id = $1",
        &young,
    )
    .await;
    let _in_flight = app.state.in_flight.begin(&busy);
    // Pool: a ready sandbox whose container vanished, a healthy one.
    let pooled = PoolRefill::new(app.state.scheduler.clone())
        .refill_once()
        .await
        .unwrap();
    app.runtime.vanish(&pooled[0]);

    let mut report = reconcile(&app).await;
    report.destroyed.sort();
    let mut destroyed = vec!["orphan000000".to_owned(), deleted.clone(), stuck.clone()];
    destroyed.sort();
    assert_eq!(report.destroyed, destroyed);
    let mut failed = report.failed.clone();
    failed.sort();
    let mut want_failed = vec![vanished.clone(), stuck.clone()];
    want_failed.sort();
    assert_eq!(failed, want_failed);
    assert_eq!(report.stopped, vec![exited.clone()]);
    assert_eq!(report.unpooled, vec![pooled[0].clone()]);

    assert_eq!(app.runtime.state_of("orphan000000"), None);
    assert_eq!(app.runtime.state_of(&deleted), None);
    assert_eq!(app.runtime.state_of(&stuck), None);
    let reason = |s: (String, Option<String>)| (s.0, s.1.unwrap_or_default());
    let (st, why) = reason(status(&app, &vanished).await);
    assert_eq!(st, "error");
    assert!(why.contains("vanished"), "{why}");
    let (st, why) = reason(status(&app, &exited).await);
    assert_eq!(st, "stopped");
    assert!(why.contains("exited"), "{why}");
    assert_eq!(status(&app, &stuck).await.0, "error");
    for (id, want) in [
        (&healthy, "running"),
        (&just_exited, "running"),
        (&young, "creating"),
        (&busy, "creating"),
    ] {
        assert_eq!(status(&app, id).await.0, want, "{id} left alone");
    }
    assert_eq!(app.runtime.pooled_ids(), vec![pooled[1].clone()]);

    assert!(
        reconcile(&app).await.is_empty(),
        "a second pass finds nothing"
    );
}

#[tokio::test]
async fn exactly_one_replica_leads_and_a_follower_takes_over() {
    let app = spawn_app_with(|s| {
        s.reconcile.leader_retry_seconds = 1;
        // Passes run only when leadership starts or a claim notifies.
        s.reconcile.interval_seconds = 3600;
        s.pool.templates.insert("base".into(), 1);
    })
    .await;
    let mut replicas = vec![app.replica(true).await, app.replica(true).await];
    let leaders = |r: &[Replica]| {
        r.iter()
            .filter(|r| r.state.leader.load(Ordering::SeqCst))
            .count()
    };
    wait_for("a leader", || async { leaders(&replicas) == 1 }).await;
    // Give the follower several tries at the lock.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(leaders(&replicas), 1, "one leader at a time");
    wait_for("the pool filled", || async {
        ready_pooled(&app.pool).await == 1
    })
    .await;

    let leader = replicas
        .iter()
        .position(|r| r.state.leader.load(Ordering::SeqCst))
        .unwrap();
    let stopped = replicas.remove(leader);
    stopped.serving.abort();
    let _ = stopped.serving.await;
    let follower = &replicas[0];
    wait_for("the follower to take over", || async {
        follower.state.leader.load(Ordering::SeqCst)
    })
    .await;

    // A claim wakes the new leader's refill (the periodic pass is an hour away).
    let r = app
        .client
        .post(format!("{}/v1/sandboxes", follower.address))
        .header("x-api-key", &app.api_key)
        .body(r#"{"template_name":"base"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    wait_for("the pool refilled", || async {
        app.runtime.pooled_ids().len() == 1 && ready_pooled(&app.pool).await == 1
    })
    .await;
}

async fn ready_pooled(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pool_sandboxes WHERE status = 'ready'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Polls `done` until it holds (an event we cannot subscribe to), with a generous cap.
async fn wait_for<F: std::future::Future<Output = bool>>(what: &str, done: impl Fn() -> F) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
