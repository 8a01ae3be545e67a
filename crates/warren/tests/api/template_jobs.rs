//! Template builds as jobs in Postgres (`docs/templates.md`, "How a build runs"), without the
//! engine: the fake runtime's [`FakeImages`] builds, printing what the test asks and holding builds
//! until released. A stale attempt changes nothing, the log keeps its tail, a build whose replica is
//! gone is failed by the housekeeping, the queue is shared by replicas, and housekeeping (not
//! requests) forgets unused uploads.

use std::sync::Arc;
use std::time::Duration;

use db::template_build_logs::{self, Piece};
use db::template_builds::{self, Attempt, Finished};
use runtime::fake::{FakeImages, FakeRuntime};
use serde_json::{Value, json};
use settings::{RuntimeKind, Settings};
use test_support::{TestApp, spawn_app, spawn_app_on, spawn_app_with};

use crate::helpers::{assert_error, status_json};

/// An app whose runtime builds images with the returned fake.
async fn app_with_images(tweak: impl FnOnce(&mut Settings)) -> (TestApp, Arc<FakeImages>) {
    let images = Arc::new(FakeImages::new());
    let runtime = Arc::new(FakeRuntime::with_images(images.clone()));
    let app = spawn_app_on(runtime, |s| {
        s.runtime.kind = RuntimeKind::Docker;
        tweak(s);
    })
    .await;
    (app, images)
}

fn build_body(name: &str, update: bool) -> Value {
    json!({"name": name, "from_image": "warren/template-python:latest", "update": update,
           "steps": [{"type": "RUN", "args": ["true"]}]})
}

/// `POST /v1/templates/build` on the server at `address`; the status and body.
async fn post_build(app: &TestApp, address: &str, name: &str, update: bool) -> reqwest::Response {
    app.client
        .post(format!("{address}/v1/templates/build"))
        .header("x-api-key", &app.api_key)
        .json(&build_body(name, update))
        .send()
        .await
        .unwrap()
}

/// Starts a build through `address`; its id.
async fn build(app: &TestApp, address: &str, name: &str, update: bool) -> String {
    let (code, body) = status_json(post_build(app, address, name, update).await).await;
    assert_eq!(code, 201, "{body}");
    body["build_id"].as_str().unwrap().to_owned()
}

/// The build status, as any replica answers it.
async fn status(app: &TestApp, address: &str, id: &str) -> Value {
    let r = app
        .client
        .get(format!("{address}/v1/templates/build/{id}/status"))
        .header("x-api-key", &app.api_key)
        .send()
        .await
        .unwrap();
    let (code, body) = status_json(r).await;
    assert_eq!(code, 200, "{body}");
    body
}

/// Polls the status until it is `want` (at most 10 s).
async fn wait_status(app: &TestApp, id: &str, want: &str) -> Value {
    for _ in 0..500 {
        let s = status(app, &app.address, id).await;
        if s["status"] == want {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "build {id} never became {want}: {}",
        status(app, &app.address, id).await
    );
}

/// Waits until `n` builds reached the image builder (at most 10 s); held ones wait there in order.
async fn wait_started(images: &FakeImages, n: usize) -> Vec<String> {
    for _ in 0..500 {
        let started = images.started();
        if started.len() >= n {
            return started;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{n} builds never started: {:?}", images.started());
}

async fn logs(app: &TestApp, id: &str, offset: i64) -> Value {
    let path = format!("/v1/templates/build/{id}/logs?offset={offset}");
    let (code, body) = status_json(app.get(&path).await).await;
    assert_eq!(code, 200, "{body}");
    body
}

/// A template of the app's organization with an image, as a finished build leaves it.
async fn active_template(app: &TestApp, name: &str, image: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO templates (name, display_name, image, status, vcpu, memory_mb, disk_gb,
                                organization_id)
         VALUES ($1, $1, $2, 'active', 1, 256, 1, $3) RETURNING id",
    )
    .bind(name)
    .bind(image)
    .bind(app.org_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn template(app: &TestApp, id: i64) -> (String, String) {
    sqlx::query_as("SELECT status, image FROM templates WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Starts an attempt of `id` on `owner` and claims it, as the worker of `owner` does.
async fn start_and_claim(app: &TestApp, id: i64, owner: &str) -> Attempt {
    let mut tx = app.pool.begin().await.unwrap();
    let row = template_builds::start(&mut tx, id, owner, 60.0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let claimed = template_builds::claim(&app.pool, owner, 1, 60.0)
        .await
        .unwrap();
    let attempt = Attempt {
        template_id: id,
        attempt: row.attempt,
    };
    assert_eq!(claimed, [attempt]);
    attempt
}

/// An attempt's progress and log write, as the runner makes it; whether it was current.
async fn append(app: &TestApp, attempt: Attempt, text: &str) -> bool {
    let mut tx = app.pool.begin().await.unwrap();
    if !template_builds::progress(&mut tx, attempt, 50, Some("RUN x"), 60.0)
        .await
        .unwrap()
    {
        return false;
    }
    let piece = Piece {
        seq: 0,
        start_offset: 0,
        end_offset: text.chars().count() as i64,
        text: text.into(),
    };
    template_build_logs::append(&mut tx, attempt, &[piece], 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    true
}

#[tokio::test]
async fn a_stale_attempt_changes_nothing_once_a_rebuild_started() {
    let app = spawn_app().await;
    let id = active_template(&app, "rebuilt", "img:1").await;
    let first = start_and_claim(&app, id, "replica-a").await;
    assert!(append(&app, first, "first attempt\n").await);

    // A rebuild starts a new attempt (here on another replica): the old log goes.
    let second = start_and_claim(&app, id, "replica-b").await;
    assert_ne!(first.attempt, second.attempt);
    let slice = template_build_logs::read(&app.pool, app.org_id, id, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slice.read(0), (String::new(), 0));

    // The first attempt's log, progress, lease and image change nothing.
    assert!(!append(&app, first, "late text of the first attempt\n").await);
    let renewed = template_builds::renew(&app.pool, &[first, second], 60.0)
        .await
        .unwrap();
    assert_eq!(
        renewed,
        [second],
        "only the current attempt's lease is renewed"
    );
    let mut tx = app.pool.begin().await.unwrap();
    let finished = template_builds::finish(&mut tx, first, Some("img:stale"), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(finished, Finished::Stale);
    let row = template_builds::find(&app.pool, app.org_id, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.attempt,
            row.status.as_str(),
            row.progress,
            row.current_step
        ),
        (second.attempt, "building", 0, None)
    );
    assert_eq!(template(&app, id).await.1, "img:1");
    let (text, _) = template_build_logs::read(&app.pool, app.org_id, id, 0)
        .await
        .unwrap()
        .unwrap()
        .read(0);
    assert_eq!(text, "");

    // The current attempt writes and finishes; a second finish of it is stale too.
    assert!(append(&app, second, "second attempt\n").await);
    let mut tx = app.pool.begin().await.unwrap();
    let finished = template_builds::finish(&mut tx, second, Some("img:2"), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        finished,
        Finished::Recorded {
            replaced: Some("img:1".into())
        }
    );
    assert_eq!(
        template(&app, id).await,
        ("active".to_owned(), "img:2".to_owned())
    );
    let page = logs(&app, &id.to_string(), 0).await;
    assert_eq!(
        (&page["logs"], &page["offset"], &page["complete"]),
        (&json!("second attempt\n"), &json!(15), &json!(true))
    );
    let mut tx = app.pool.begin().await.unwrap();
    let again = template_builds::finish(&mut tx, second, None, Some("late"))
        .await
        .unwrap();
    assert_eq!(again, Finished::Stale);
}

#[tokio::test]
async fn a_stale_build_in_the_runner_installs_no_image() {
    // A lease so long that the worker's renewal never runs during the test: the stale build learns
    // it is stale only when it writes its end.
    let (app, images) = app_with_images(|s| s.templates.build_lease_seconds = 3600).await;
    images.hold();
    let id = build(&app, &app.address, "zombie", false).await;
    wait_started(&images, 1).await;
    // The leader declares it dead (its lease forced past), and a rebuild starts.
    sqlx::query("UPDATE template_builds SET lease_expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let done = app.state.builds.housekeep(&app.pool).await.unwrap();
    assert_eq!(done.failed_builds, [id.parse::<i64>().unwrap()]);
    assert_eq!(build(&app, &app.address, "zombie", true).await, id);
    let started = wait_started(&images, 2).await;
    // Both builds end now, the stale one first: only the second one's image is installed.
    images.release(2);
    let s = wait_status(&app, &id, "active").await;
    assert_eq!(s["progress"], 100);
    assert_eq!(images.started().len(), 2, "{started:?}");
    let (status, image) = template(&app, id.parse().unwrap()).await;
    assert_eq!(
        (status.as_str(), image.as_str()),
        ("active", started[1].as_str())
    );
    // The stale attempt made its image, found itself stale and removed it.
    for _ in 0..100 {
        if !images.images().contains(&started[0]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(images.images(), [started[1].clone()]);
    assert_eq!(images.removed(), [started[0].clone()]);
}

#[tokio::test]
async fn a_long_log_keeps_its_tail_with_a_marker_and_bounded_chunks() {
    let (app, images) = app_with_images(|s| {
        s.templates.log_chunk_bytes = 1024;
        s.templates.log_max_chunks = 4;
    })
    .await;
    let lines: Vec<String> = (0..2000)
        .map(|i| format!("line {i:05} of the build\n"))
        .collect();
    images.set_log(lines.clone());
    let id = build(&app, &app.address, "chatty", false).await;
    wait_status(&app, &id, "active").await;
    let tag = images.started()[0].clone();
    let whole = format!(
        "Building template chatty from warren/template-python:latest\n{}Built image {tag}\n",
        lines.concat()
    );
    let total = whole.chars().count() as i64;

    let page = logs(&app, &id, 0).await;
    let text = page["logs"].as_str().unwrap();
    assert_eq!(page["offset"], total, "offsets count the whole log");
    let (marker, kept) = text.split_once('\n').unwrap();
    assert!(
        marker.starts_with("[warren: ")
            && marker.contains("earlier characters of this build log were dropped"),
        "{marker}"
    );
    assert!(whole.ends_with(kept), "the kept text is the log's tail");
    assert!(
        kept.len() <= 4 * 1024 && kept.len() > 3 * 1024,
        "{}",
        kept.len()
    );
    let dropped = total - kept.chars().count() as i64;
    assert!(marker.contains(&format!(" {dropped} ")), "{marker}");
    // A reader inside the tail gets the rest without a marker; one at the end gets nothing.
    let page = logs(&app, &id, total - 16).await;
    assert_eq!(page["logs"], whole[whole.len() - 16..]);
    let page = logs(&app, &id, total).await;
    assert_eq!(
        (&page["logs"], &page["offset"]),
        (&json!(""), &json!(total))
    );
    let chunks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM template_build_logs WHERE template_id = $1::bigint",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(chunks <= 4, "{chunks} chunks kept");

    // A failing build quotes the reason and the last 20 lines.
    images.fail_next("The command returned a non-zero code: 3");
    build(&app, &app.address, "chatty", true).await;
    let s = wait_status(&app, &id, "failed").await;
    let error = s["error_message"].as_str().unwrap();
    assert!(
        error.starts_with("The command returned a non-zero code: 3\n"),
        "{error}"
    );
    assert!(
        error.contains("line 01981 of the build") && !error.contains("line 01980"),
        "{error}"
    );
    assert_eq!(error.lines().count(), 2 + 20, "{error}");
}

#[tokio::test]
async fn a_build_whose_replica_is_gone_is_failed_by_housekeeping() {
    let (app, images) = app_with_images(|s| s.templates.build_lease_seconds = 2).await;
    let id = build(&app, &app.address, "kept", false).await;
    wait_status(&app, &id, "active").await;
    let (_, first_image) = template(&app, id.parse().unwrap()).await;

    // A rebuild on a second replica, held mid-build.
    images.hold();
    let replica = app.replica(false).await;
    build(&app, &replica.address, "kept", true).await;
    wait_status(&app, &id, "building").await;
    let owner = replica.state.builds.replica().to_owned();
    // While the replica lives, its lease is renewed: past a whole lease, housekeeping leaves it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let done = app.state.builds.housekeep(&app.pool).await.unwrap();
    assert!(done.failed_builds.is_empty(), "{done:?}");
    assert_eq!(
        status(&app, &replica.address, &id).await["status"],
        "building"
    );

    // The replica stops; once its lease expires the leader's pass fails the build.
    replica.serving.abort();
    let mut failed = false;
    for _ in 0..100 {
        let done = app.state.builds.housekeep(&app.pool).await.unwrap();
        if !done.failed_builds.is_empty() {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed, "the build was never failed");
    let s = status(&app, &app.address, &id).await;
    assert_eq!(s["status"], "failed");
    let error = s["error_message"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "the build was interrupted: replica {owner} running it stopped renewing its lease"
        )) && error.contains("Building template kept from"),
        "{error}"
    );
    // The template serves its earlier image again, and sandboxes are created from it.
    assert_eq!(
        template(&app, id.parse().unwrap()).await,
        ("active".to_owned(), first_image)
    );
    let sandbox = app
        .post_json("/v1/sandboxes", &json!({"template_id": id}))
        .await;
    assert_eq!(sandbox.status(), 201);
}

#[tokio::test]
async fn the_queue_is_shared_by_replicas_on_one_database() {
    let (app, images) = app_with_images(|s| {
        s.templates.max_concurrent_builds = 1;
        s.templates.max_queued_builds = 1;
    })
    .await;
    images.hold();
    let b = app.replica(false).await;
    let a = app.address.clone();
    // A runs one build and queues one; B runs one of its own.
    let q1 = build(&app, &a, "q1", false).await;
    wait_started(&images, 1).await;
    let q2 = build(&app, &a, "q2", false).await;
    let q3 = build(&app, &b.address, "q3", false).await;
    let started = wait_started(&images, 2).await;
    assert!(
        started[1].starts_with(&format!("warren-template-{q3}:")),
        "{started:?}"
    );
    assert_eq!(status(&app, &a, &q3).await["status"], "building");
    assert_eq!(status(&app, &b.address, &q2).await["status"], "pending");
    // The shared queue is full: neither replica takes another.
    assert_error(
        post_build(&app, &b.address, "q4", false).await,
        503,
        "BUILD_QUEUE_FULL",
    )
    .await;
    assert_error(
        post_build(&app, &a, "q5", false).await,
        503,
        "BUILD_QUEUE_FULL",
    )
    .await;
    let unregistered = app.get("/v1/templates/q4").await;
    assert_eq!(unregistered.status(), 404);

    // q1 ends, A starts q2: the queue has room again, for either replica.
    images.release(1);
    wait_status(&app, &q1, "active").await;
    wait_started(&images, 3).await;
    let q6 = build(&app, &b.address, "q6", false).await;
    assert_eq!(status(&app, &a, &q6).await["status"], "pending");
    assert_error(
        post_build(&app, &a, "q7", false).await,
        503,
        "BUILD_QUEUE_FULL",
    )
    .await;

    images.release(3);
    for id in [&q2, &q3, &q6] {
        wait_status(&app, id, "active").await;
    }
    b.serving.abort();
}

#[tokio::test]
async fn concurrent_requests_to_two_replicas_never_overfill_the_queue() {
    let (app, images) = app_with_images(|s| {
        s.templates.max_concurrent_builds = 1;
        s.templates.max_queued_builds = 1;
    })
    .await;
    images.hold();
    let b = app.replica(false).await;
    let names: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    let requests = names.iter().enumerate().map(|(i, name)| {
        let address = if i % 2 == 0 { &app.address } else { &b.address };
        post_build(&app, address, name, false)
    });
    let codes: Vec<u16> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    // One slot on each replica and one place in the shared queue, whatever the order.
    let accepted = codes.iter().filter(|&&c| c == 201).count();
    let refused = codes.iter().filter(|&&c| c == 503).count();
    assert_eq!((accepted, refused), (3, 5), "{codes:?}");
    let unfinished: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM template_builds WHERE status IN ('pending', 'building')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(unfinished, 3);
    images.release(3);
    b.serving.abort();
}

#[tokio::test]
async fn housekeeping_not_requests_fails_expired_builds_and_forgets_unused_uploads() {
    let uploads = tempfile::tempdir().unwrap();
    let dir = uploads.path().to_owned();
    let app = spawn_app_with(|s| s.templates.upload_dir = dir).await;
    let id = active_template(&app, "stuck", "").await;
    sqlx::query("UPDATE templates SET status = 'building' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO template_builds (template_id, status, owner, lease_expires_at)
         VALUES ($1, 'building', 'gone', now() - interval '2 minutes')",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    // Reading the status does no housekeeping.
    let path = format!("/v1/templates/build/{id}/status");
    let (_, s) = status_json(app.get(&path).await).await;
    assert_eq!(s["status"], "building");

    let tar = b"not even a tar".to_vec();
    let link = |hash: &str| json!({"files_hash": hash, "content_length": tar.len()});
    let (_, offer) = status_json(
        app.post_json("/v1/templates/files/upload-link", &link("old"))
            .await,
    )
    .await;
    let url = offer["upload_url"].as_str().unwrap();
    let put = app.client.put(url).body(tar.clone()).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let file = uploads
        .path()
        .join(app.org_id.to_string())
        .join("old.tar.gz");
    assert!(file.exists());
    sqlx::query("UPDATE template_uploads SET last_used_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    // An upload link removes nothing; an upload past its time counts as gone (sent again).
    let (_, fresh) = status_json(
        app.post_json("/v1/templates/files/upload-link", &link("new"))
            .await,
    )
    .await;
    assert_eq!(fresh["present"], false);
    let (_, again) = status_json(
        app.post_json("/v1/templates/files/upload-link", &link("old"))
            .await,
    )
    .await;
    assert_eq!(
        again["present"], false,
        "an expired upload must be sent again"
    );
    assert!(file.exists(), "upload-link requests do no housekeeping");
    sqlx::query("UPDATE template_uploads SET last_used_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();

    let done = app.state.builds.housekeep(&app.pool).await.unwrap();
    assert_eq!(done.failed_builds, [id]);
    let mut expired = done.expired_uploads.clone();
    expired.sort();
    assert_eq!(
        expired,
        [
            (app.org_id, "new".to_owned()),
            (app.org_id, "old".to_owned())
        ]
    );
    assert!(!file.exists(), "an expired upload's file is removed");
    let (_, s) = status_json(app.get(&path).await).await;
    assert_eq!(s["status"], "failed");
    let error = s["error_message"].as_str().unwrap();
    assert!(
        error.contains("replica gone running it stopped renewing its lease"),
        "{error}"
    );
    assert_eq!(
        template(&app, id).await.0,
        "failed",
        "no image to go back to"
    );
}
