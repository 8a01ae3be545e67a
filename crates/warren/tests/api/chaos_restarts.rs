//! The chaos suite's restarts: the Docker engine restarted, and Postgres restarted, under a running
//! `warren serve` (`chaos.rs` has the rest of the suite and the meaning of leaked, stuck and lost).
//!
//! Expected final states (docs/ARCHITECTURE.md, "Chaos"):
//! - **dockerd restarted**: the engine here runs without `live-restore` (`scripts/docker-engine.sh`
//!   writes no such setting), so stopping it stops every container. Every sandbox that was
//!   `running` or `paused` ends `stopped` (the reconciler records that its processes exited), its
//!   files kept; `start` brings it back. Warm-pool containers are replaced, holders are recreated.
//! - **Postgres restarted**: while it is down, API calls answer within
//!   `database.acquire_timeout_seconds` with a 5xx in the error envelope (never a hang); once it is
//!   back, every sandbox is as it was and creates and actions work again, on the same replica.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use std::process::Command;
use std::time::{Duration, Instant};

use embedded_postgres::postgres::Cluster;
use test_support::postgres::TestDatabase;

use crate::chaos::{TIMING, dockerd_pid, kill, print_and_check, row, signal, status, until_status};
use crate::docker::{clean_up, create, engine};
use crate::stack::{Sbx, Stack};

/// How long the engine may take to stop its containers and exit (its shutdown timeout is 15 s).
const ENGINE_STOP: Duration = Duration::from_secs(60);

/// Stops dockerd (SIGTERM, as a service manager would) and starts it again with the script CI uses.
fn restart_dockerd() {
    let pid = dockerd_pid().expect("a running dockerd with its pidfile");
    signal(pid, "TERM");
    let since = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(since.elapsed() < ENGINE_STOP, "dockerd did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/docker-engine.sh"
    );
    let out = Command::new(script).arg("--sandbox-disk").output().unwrap();
    assert!(out.status.success(), "restarting dockerd: {out:?}");
}

/// Code runs in `sb` through the router.
async fn runs(stack: &Stack, sb: &Sbx) -> Result<(), String> {
    let out = stack.run(sb, "bash", "echo $((6*7))").await?;
    out.contains("42").then_some(()).ok_or(out)
}

#[tokio::test]
async fn dockerd_restarted_leaves_sandboxes_stopped_and_startable() {
    let (db, pool, key) = crate::docker::db_with_key().await;
    let engine = engine().await;
    let stack = Stack::start_with(&db, &TIMING).await;
    let kept = [
        stack.create(&key, "base").await,
        stack.create(&key, "base").await,
    ];
    assert_eq!(stack.act(&kept[1], "pause").await.0, 200);
    let ids: Vec<String> = kept.iter().map(|sb| sb.id.clone()).collect();

    let fault = Instant::now();
    restart_dockerd();
    println!("dockerd restarted in {:.1}s", fault.elapsed().as_secs_f64());
    for id in &ids {
        until_status(&pool, id, "stopped", fault).await;
    }
    let what = ("dockerd restarted (no live-restore)", 0, fault);
    let table = vec![row(what, &pool, &engine, &ids).await];
    for sb in &kept {
        assert_eq!(stack.act(sb, "start").await.0, 200, "{}", sb.id);
        runs(&stack, sb).await.expect("code runs after the restart");
    }
    stack.create(&key, "base").await;
    print_and_check(&table);
    clean_up(&pool, &engine).await;
}

#[tokio::test]
async fn postgres_restarted_loses_nothing_and_answers_while_down() {
    // A private cluster: restarting the shared test server would break the tests running beside.
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), true)
        .await
        .expect("a private Postgres");
    let url = cluster.url();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    db::MIGRATOR.run(&pool).await.unwrap();
    control_plane::admin::create_org(&pool, "acme", None, None)
        .await
        .unwrap();
    let (_, key) = control_plane::admin::create_key(&pool, "acme", None)
        .await
        .unwrap();
    let db = TestDatabase {
        name: "warren".into(),
        url: url.clone(),
    };
    let engine = engine().await;
    let mut timing = TIMING.to_vec();
    timing.push(("WARREN_DATABASE__ACQUIRE_TIMEOUT_SECONDS", "3"));
    timing.push(("WARREN_LIMITS__AUTH_CACHE_MS", "0"));
    let stack = Stack::start_with(&db, &timing).await;
    let kept = [
        stack.create(&key, "base").await,
        stack.create(&key, "base").await,
    ];
    assert_eq!(stack.act(&kept[1], "pause").await.0, 200);
    let ids: Vec<String> = kept.iter().map(|sb| sb.id.clone()).collect();
    pool.close().await;

    let fault = Instant::now();
    drop(cluster);
    let asked = Instant::now();
    let listed = stack
        .client
        .get(format!("{}/v1/sandboxes", stack.base))
        .header("x-api-key", &key)
        .send()
        .await
        .expect("an answer, not a dropped connection");
    let (code, waited) = (listed.status().as_u16(), asked.elapsed());
    let body: serde_json::Value = listed.json().await.unwrap();
    println!("Postgres down: list answered {code} in {waited:?}: {body}");
    assert!((500..=503).contains(&code), "{code} {body}");
    assert!(
        body["error"]["code"].is_string(),
        "the error envelope: {body}"
    );
    assert!(waited < Duration::from_secs(3 + 2), "hung: {waited:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let _cluster = Cluster::start(dir.path(), true)
        .await
        .expect("Postgres again");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let what = ("Postgres restarted under warren serve", 1, fault);
    let table = vec![row(what, &pool, &engine, &ids).await];
    assert_eq!(status(&pool, &ids[0]).await, "running");
    assert_eq!(status(&pool, &ids[1]).await, "paused");
    crate::docker::eventually("the API works again", || async {
        let r = stack
            .client
            .get(format!("{}/v1/sandboxes", stack.base))
            .header("x-api-key", &key)
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 200 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(stack.act(&kept[1], "resume").await.0, 200);
    runs(&stack, &kept[1])
        .await
        .expect("code runs after the restart");
    stack.create(&key, "base").await;
    print_and_check(&table);
    clean_up(&pool, &engine).await;
}

/// Containers on the engine that are not Warren's own (sandboxes, holders): a build's step
/// containers are among them.
fn foreign_containers() -> usize {
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&out.stdout);
    names.lines().filter(|n| !n.starts_with("warren-")).count()
}

#[tokio::test]
async fn warren_serve_killed_mid_template_build_fails_the_build_once_its_lease_ends() {
    let (db, pool, key) = crate::docker::db_with_key().await;
    let engine = engine().await;
    let mut timing = TIMING.to_vec();
    timing.push(("WARREN_TEMPLATES__BUILD_LEASE_SECONDS", "3"));
    timing.push(("WARREN_TEMPLATES__HOUSEKEEPING_INTERVAL_SECONDS", "1"));
    let before = foreign_containers();
    let mut server = crate::docker::serve_docker(&db, &timing).await;
    let client = reqwest::Client::new();
    let kept = create(&client, &server.base, &key).await.expect("create");
    let ids = [kept["id"].as_str().unwrap().to_owned()];
    let body = serde_json::json!({"name": "slow", "from_image": "warren/template-base:latest",
        "steps": [{"type": "RUN", "args": ["echo started && sleep 120"]}]});
    let r = client
        .post(format!("{}/v1/templates/build", server.base))
        .header("x-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["build_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let log = format!("{}/v1/templates/build/{id}/logs?offset=0", server.base);
    crate::docker::eventually("the build runs its step", || async {
        let r = client.get(&log).header("x-api-key", &key).send().await;
        let page: serde_json::Value = r
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let logs = page["logs"].as_str().unwrap_or_default();
        logs.contains("started")
            .then_some(())
            .ok_or_else(|| logs.to_owned())
    })
    .await;

    let fault = Instant::now();
    kill(&mut server);
    server = crate::docker::serve_docker(&db, &timing).await;
    let status = format!("{}/v1/templates/build/{id}/status", server.base);
    let mut last = serde_json::Value::Null;
    while fault.elapsed() < Duration::from_secs(60) {
        let r = client
            .get(&status)
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        last = r.json().await.unwrap();
        if last["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "the build after the kill ({:.1}s): {last}",
        fault.elapsed().as_secs_f64()
    );
    assert_eq!(last["status"], "failed", "{last}");
    let reason = last["error_message"].as_str().unwrap_or_default();
    assert!(reason.contains("interrupted"), "{reason}");
    let builds_stuck: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM template_builds WHERE status IN ('pending', 'building')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // The engine ends the build the dead client asked for and removes its step container.
    let mut leaked = foreign_containers().saturating_sub(before);
    let since = Instant::now();
    while leaked > 0 && since.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        leaked = foreign_containers().saturating_sub(before);
    }
    let mut table = vec![
        row(
            ("warren serve SIGKILLed mid template build", 1, fault),
            &pool,
            &engine,
            &ids,
        )
        .await,
    ];
    table[0].stuck += builds_stuck as usize;
    table[0].leaked += leaked;
    let rebuilt = client
        .post(format!("{}/v1/templates/build", server.base))
        .header("x-api-key", &key)
        .json(&serde_json::json!({"name": "slow", "update": true,
            "from_image": "warren/template-base:latest",
            "steps": [{"type": "RUN", "args": ["true"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(rebuilt.status(), 201, "the template can be built again");
    print_and_check(&table);
    drop(server);
    clean_up(&pool, &engine).await;
}
