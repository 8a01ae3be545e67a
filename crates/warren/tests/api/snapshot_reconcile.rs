//! Snapshots after a crash, on the real engine: a snapshot (or fork) that died between its row and
//! the runtime, a copy whose row is gone, and a `warren serve` SIGKILLed mid-fork leave nothing once
//! the reconciler has run.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use runtime::SandboxRuntime as _;
use serde_json::json;

use crate::docker::{agreement, db_with_key, engine_state, eventually, owners};
use crate::fs_snapshots::{instance, write_state};
use crate::volume_support::{Api, Sandbox, engine_as, finish, serve_as};

/// A snapshot copy on the engine as a crash may leave it: a btrfs subvolume in the instance's
/// snapshot directory.
fn leave_copy(instance: &str, id: &str) {
    let disk = test_support::docker::docker_settings()
        .sandbox_disk_dir
        .expect("the tests' sandbox disk");
    let dir = disk.join("snapshots").join(instance);
    std::fs::create_dir_all(&dir).unwrap();
    let made = std::process::Command::new("btrfs")
        .args(["subvolume", "create"])
        .arg(dir.join(id))
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
}

/// A snapshot that died between its row and the runtime (a row left `creating`, its copy made),
/// and a copy whose row is gone (a delete that died before the runtime): both removed at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_removes_orphan_and_abandoned_snapshots_at_start() {
    let instance = instance();
    let (db, pool, _key) = db_with_key().await;
    let engine = engine_as(&instance).await;
    let (orphan, abandoned) = (db::ids::new_snapshot_id(), db::ids::new_snapshot_id());
    for id in [&orphan, &abandoned] {
        leave_copy(&instance, id);
    }
    let listed = engine.list_snapshots().await.unwrap();
    assert!(
        listed.contains(&orphan) && listed.contains(&abandoned),
        "{listed:?}"
    );
    sqlx::query(
        "INSERT INTO snapshots (id, organization_id, sandbox_id, template_name, size_mb, status,
                                created_at)
         SELECT $1, id, 'abcdefghijkl', 'base', 8, 'creating', now() - interval '1 hour'
         FROM organizations",
    )
    .bind(&abandoned)
    .execute(&pool)
    .await
    .unwrap();
    let server = serve_as(
        &instance,
        &db,
        &[("WARREN_RECONCILE__INTERVAL_SECONDS", "1")],
    )
    .await;
    eventually("the reconciler removes both", || async {
        let held = engine.list_snapshots().await.unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM snapshots")
            .fetch_one(&pool)
            .await
            .unwrap();
        let left = held
            .iter()
            .filter(|s| **s == orphan || **s == abandoned)
            .count();
        (left == 0 && rows == 0)
            .then_some(())
            .ok_or_else(|| format!("{left} copies and {rows} rows left"))
    })
    .await;
    finish(server, &pool, &engine).await;
}

/// `warren serve` SIGKILLed while a fork's creates are on the engine: once restarted, the fork's
/// snapshot (row and copy) is gone, the half-made forks are failed and their containers removed,
/// and the parent works on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_fork_leaks_nothing_once_restarted() {
    let instance = instance();
    let (db, pool, key) = db_with_key().await;
    let engine = engine_as(&instance).await;
    let timing = [
        ("WARREN_RUNTIME__CREATE_TIMEOUT_SECONDS", "8"),
        ("WARREN_RECONCILE__INTERVAL_SECONDS", "1"),
    ];
    let mut first = serve_as(&instance, &db, &timing).await;
    let api = Api::new(&first.base, &key);
    let (status, made) = api
        .post("/v1/sandboxes", json!({"template_name": "base"}))
        .await;
    assert_eq!(status, 201, "{made}");
    let parent = Sandbox::of(&pool, &made).await;
    write_state(&parent, "parent").await;

    let path = format!("/v1/sandboxes/{}/fork", parent.id);
    let forking = tokio::spawn(async move { api.post(&path, json!({"count": 3})).await });
    // Kill once the fork's snapshot is taken and a fork's container is on the engine.
    eventually("a fork reaches the engine", || async {
        let held = engine_state(&engine).await;
        let creating = owners(&pool)
            .await
            .into_iter()
            .any(|(id, status)| status == "creating" && held.contains_key(&id));
        let copies = engine.list_snapshots().await.unwrap().len();
        (creating && copies == 1)
            .then_some(())
            .ok_or_else(|| format!("creating on the engine: {creating}, copies: {copies}"))
    })
    .await;
    first.child.kill().expect("SIGKILL warren serve");
    first.child.wait().unwrap();
    drop(forking.await);

    let second = serve_as(&instance, &db, &timing).await;
    eventually("the restarted server reconciles", || async {
        agreement(&pool, &engine).await?;
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM snapshots")
            .fetch_one(&pool)
            .await
            .unwrap();
        let copies = engine.list_snapshots().await.unwrap().len();
        (rows == 0 && copies == 0)
            .then_some(())
            .ok_or_else(|| format!("{rows} snapshot rows and {copies} copies left"))
    })
    .await;
    let api = Api::new(&second.base, &key);
    let (status, body) = api.get(&format!("/v1/sandboxes/{}", parent.id)).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &"running".into()),
        "{body}"
    );
    finish(second, &pool, &engine).await;
}
