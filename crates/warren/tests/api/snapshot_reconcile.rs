//! Snapshots after a crash, on the real engine: a snapshot (or fork) that died between its row and
//! the runtime, and a copy whose row is gone, leave nothing once `warren serve`'s reconciler has run.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use runtime::SandboxRuntime as _;

use crate::docker::{db_with_key, eventually};
use crate::fs_snapshots::instance;
use crate::volume_support::{engine_as, finish, serve_as};

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
