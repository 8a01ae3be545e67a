//! The complaint most raised against hosted sandboxes, state lost across pause and resume, on the real
//! engine through `warren serve`: one sandbox paused and resumed 50 times, a file's bytes and the
//! Python kernel's variables checked exactly after each cycle; and two concurrent actions on one
//! sandbox (pause racing delete, resume racing stop) ending in one state that Postgres and the engine
//! agree on; and actions a killed server left half done, finished after its restart.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use std::time::Instant;

use reqwest::Method;
use runtime::{RuntimeState, SandboxRuntime as _};
use sha2::{Digest as _, Sha256};

use crate::docker::{clean_up, db_with_key, engine, eventually};
use crate::stack::{Sbx, Stack};

const CYCLES: usize = 50;

async fn download(s: &Stack, sb: &Sbx, path: &str) -> Vec<u8> {
    let r = s
        .agent(sb, Method::GET, &format!("/files/download?path={path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

/// What the engine shows of `id` (`None`: it holds nothing).
async fn on_engine(id: &str) -> Option<RuntimeState> {
    engine()
        .await
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.sandbox_id == id)
        .map(|s| s.state)
}

#[tokio::test]
async fn fifty_pause_resume_cycles_keep_files_and_kernel_state_byte_for_byte() {
    let (db, pool, key) = db_with_key().await;
    let s = Stack::start(&db).await;
    let sb = s.create(&key, "python").await;
    // 1 MiB of random bytes, written by user code; the kernel keeps its first 4 KiB and a counter.
    let setup = "import os, hashlib\n\
                 data = os.urandom(1 << 20)\n\
                 open('/workspace/state.bin', 'wb').write(data)\n\
                 kept, counter = data[:4096], 0\n\
                 print(hashlib.sha256(data).hexdigest())";
    let digest = s.run(&sb, "python", setup).await.unwrap();
    let bytes = download(&s, &sb, "/workspace/state.bin").await;
    assert_eq!(format!("{:x}\n", Sha256::digest(&bytes)), digest);
    let kept = format!("{:x}", Sha256::digest(&bytes[..4096]));

    let started = Instant::now();
    for cycle in 1..=CYCLES {
        let (status, paused) = s.act(&sb, "pause").await;
        assert_eq!(
            (status, &paused["status"]),
            (200, &"paused".into()),
            "cycle {cycle}"
        );
        assert_eq!(s.record(&sb).await["status"], "paused");
        assert_eq!(on_engine(&sb.id).await, Some(RuntimeState::Paused));
        let (status, resumed) = s.act(&sb, "resume").await;
        assert_eq!(
            (status, &resumed["status"]),
            (200, &"running".into()),
            "cycle {cycle}"
        );
        assert!(
            download(&s, &sb, "/workspace/state.bin").await == bytes,
            "cycle {cycle}: the file changed"
        );
        let check =
            "import hashlib\ncounter += 1\nprint(counter, hashlib.sha256(kept).hexdigest())";
        let out = s.run(&sb, "python", check).await.unwrap();
        assert_eq!(
            out,
            format!("{cycle} {kept}\n"),
            "cycle {cycle}: the kernel forgot"
        );
    }
    let took = started.elapsed();
    println!(
        "{CYCLES} pause/resume cycles with checks in {took:?} ({:?} per cycle)",
        took / CYCLES as u32
    );
    drop(s);
    clean_up(&pool, &engine().await).await;
}

#[tokio::test]
async fn concurrent_actions_on_one_sandbox_end_in_one_state_postgres_and_the_engine_share() {
    let (db, pool, key) = db_with_key().await;
    let s = Stack::start(&db).await;

    // Pause racing delete: deleted, and nothing left on the engine.
    let sb = s.create(&key, "python").await;
    let delete = async {
        let r = s
            .client
            .delete(format!("{}/v1/sandboxes/{}", s.base, sb.id))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    };
    let ((paused, body), deleted) = tokio::join!(s.act(&sb, "pause"), delete);
    assert_eq!(deleted, 200);
    assert!(matches!(paused, 200 | 404 | 409), "{paused} {body}");
    let gone = s
        .client
        .get(format!("{}/v1/sandboxes/{}", s.base, sb.id))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(on_engine(&sb.id).await, None, "the engine still holds it");

    // Resume racing stop, from paused: one wins, and the engine shows what Postgres says.
    let sb = s.create(&key, "python").await;
    assert_eq!(s.act(&sb, "pause").await.0, 200);
    let ((resumed, _), (stopped, _)) = tokio::join!(s.act(&sb, "resume"), s.act(&sb, "stop"));
    let wins = [resumed, stopped].iter().filter(|c| **c == 200).count();
    assert_eq!(wins, 1, "resume {resumed}, stop {stopped}");
    let status = s.record(&sb).await["status"].clone();
    let shown = on_engine(&sb.id).await;
    match status.as_str() {
        Some("running") => assert_eq!(shown, Some(RuntimeState::Running)),
        Some("stopped") => assert_eq!(shown, Some(RuntimeState::Stopped)),
        other => panic!("ended in {other:?}"),
    }
    drop(s);
    clean_up(&pool, &engine().await).await;
}

/// Leaves `id`'s row in `status`, as a server killed between writing an action's intent and the
/// runtime call leaves it, long enough ago for the reconciler to take it over.
async fn left_in(pool: &sqlx::PgPool, id: &str, status: &str) {
    sqlx::query("UPDATE sandboxes SET status = $2 WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE sandboxes SET status_changed_at = now() - interval '1 hour' WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn actions_a_killed_server_left_half_done_are_finished_after_its_restart() {
    let (db, pool, key) = db_with_key().await;
    let s = Stack::start(&db).await;
    let (pausing, starting) = tokio::join!(s.create(&key, "python"), s.create(&key, "python"));
    assert_eq!(s.act(&starting, "stop").await.0, 200);
    drop(s); // SIGKILL: `Replica` kills the process
    left_in(&pool, &pausing.id, "pausing").await;
    left_in(&pool, &starting.id, "starting").await;

    let restarted = Instant::now();
    let s = Stack::start(&db).await;
    let stored = |id: String| {
        let pool = pool.clone();
        async move {
            let status: String = sqlx::query_scalar("SELECT status FROM sandboxes WHERE id = $1")
                .bind(&id)
                .fetch_one(&pool)
                .await
                .unwrap();
            status
        }
    };
    eventually("the half-done actions are finished", || async {
        let now = (
            stored(pausing.id.clone()).await,
            stored(starting.id.clone()).await,
        );
        (now == ("paused".to_owned(), "running".to_owned()))
            .then_some(())
            .ok_or_else(|| format!("{now:?}"))
    })
    .await;
    println!(
        "half-done pause and start finished {:?} after the restart",
        restarted.elapsed()
    );
    assert_eq!(on_engine(&pausing.id).await, Some(RuntimeState::Paused));
    assert_eq!(on_engine(&starting.id).await, Some(RuntimeState::Running));
    // The started sandbox is routed to the address of this start.
    assert_eq!(
        s.run(&starting, "bash", "echo back").await.unwrap(),
        "back\n"
    );
    drop(s);
    clean_up(&pool, &engine().await).await;
}
