//! Volumes after a crash, on the real engine: a create that died between its row and the runtime,
//! and a delete that died between the database and the runtime, leave nothing once `warren serve`'s
//! reconciler has run.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use runtime::SandboxRuntime as _;

use crate::docker::{db_with_key, eventually};
use crate::volume_support::{engine, finish, serve};

/// A create that died between its row and the runtime (a row left `creating`), and a directory
/// whose row is gone (a delete that died before the runtime): the reconciler removes both at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_removes_orphan_and_abandoned_volumes_at_start() {
    let (db, pool, _key) = db_with_key().await;
    let engine = engine().await;
    let (orphan, abandoned) = (db::ids::new_volume_id(), db::ids::new_volume_id());
    for id in [&orphan, &abandoned] {
        engine.create_volume(id, 8).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO volumes (id, organization_id, name, size_mb, status, created_at)
         SELECT $1, id, 'half-made', 8, 'creating', now() - interval '1 hour' FROM organizations",
    )
    .bind(&abandoned)
    .execute(&pool)
    .await
    .unwrap();
    let server = serve(&db, &[("WARREN_RECONCILE__INTERVAL_SECONDS", "1")]).await;
    eventually("the reconciler removes both", || async {
        let held = engine.list_volumes().await.unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM volumes")
            .fetch_one(&pool)
            .await
            .unwrap();
        let left = held
            .iter()
            .filter(|v| **v == orphan || **v == abandoned)
            .count();
        (left == 0 && rows == 0)
            .then_some(())
            .ok_or_else(|| format!("{left} directories and {rows} rows left"))
    })
    .await;
    finish(server, &pool, &engine).await;
}
