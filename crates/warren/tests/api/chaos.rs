//! The chaos suite: faults injected into the real stack (`warren serve`, Postgres, the Docker engine,
//! the agent), each followed by a census once the stack has settled. Printed as a table: fault,
//! operations in flight, leaked, stuck, lost, and the seconds it took to settle.
//!
//! What the words mean (docs/ARCHITECTURE.md, "Chaos"):
//! - **leaked**: a container of this database's instance on the engine with no row that owns it (a
//!   live sandbox row, or a warm-pool row: pooled containers have no sandbox row by design);
//! - **stuck**: a row in a transitional state (`creating`, `starting`, `pausing`, `resuming`,
//!   `stopping`, a pool row `starting`);
//! - **lost**: a sandbox the client held before the fault that is now neither `running`, `paused`
//!   nor `stopped` (or whose row and engine disagree).
//!
//! Expected final states: a killed server's creates end `running` or `error` (never `creating`) and
//! its half-done actions are finished; a killed agent (the container's PID 1) leaves its sandbox
//! `stopped` ("its processes exited"), and `start` brings it back; while dockerd is frozen the API
//! still answers and a create fails within `runtime.create_timeout_seconds` (503) instead of hanging;
//! a killed leader is replaced within `reconcile.leader_retry_seconds` and the drift it left is
//! repaired by the new one.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use runtime_docker::DockerRuntime;
use sqlx::PgPool;
use tokio::task::JoinSet;

use crate::docker::{agreement, clean_up, create, db_with_key, engine, engine_state, owners};
use crate::replicas::Replica;

/// Settings that make a settle quick to observe (the defaults are 30 s and 5 s).
pub const TIMING: [(&str, &str); 3] = [
    ("WARREN_RUNTIME__CREATE_TIMEOUT_SECONDS", "8"),
    ("WARREN_RECONCILE__INTERVAL_SECONDS", "1"),
    ("WARREN_RECONCILE__LEADER_RETRY_SECONDS", "1"),
];
/// Longest a settle may take here (a bound for a loaded 2-core machine, not a latency claim).
const SETTLE: Duration = Duration::from_secs(60);

pub struct Row {
    pub fault: &'static str,
    pub in_flight: usize,
    pub leaked: usize,
    pub stuck: usize,
    pub lost: usize,
    pub settled: Duration,
}

/// Counts leaked containers, stuck rows and lost sandboxes (of `kept`).
async fn census(pool: &PgPool, engine: &DockerRuntime, kept: &[String]) -> (usize, usize, usize) {
    let held = engine_state(engine).await;
    let rows = owners(pool).await;
    let owning: HashSet<&str> = rows
        .iter()
        .filter(|(_, s)| !matches!(s.as_str(), "deleted" | "error"))
        .map(|(id, _)| id.as_str())
        .collect();
    let leaked = held
        .keys()
        .filter(|id| !owning.contains(id.as_str()))
        .count();
    let transitional = [
        "creating",
        "starting",
        "pausing",
        "resuming",
        "stopping",
        "pool:starting",
    ];
    let stuck = rows
        .iter()
        .filter(|(_, s)| transitional.contains(&s.as_str()))
        .count();
    let lost = kept
        .iter()
        .filter(|id| {
            let status = rows.iter().find(|(r, _)| r == *id).map(|(_, s)| s.as_str());
            !matches!(status, Some("running" | "paused" | "stopped"))
        })
        .count();
    (leaked, stuck, lost)
}

/// Waits until Postgres and the engine agree and nothing is stuck, then takes the census; the
/// settle time counts from `since` (the fault).
pub async fn row(
    (fault, in_flight, since): (&'static str, usize, Instant),
    pool: &PgPool,
    engine: &DockerRuntime,
    kept: &[String],
) -> Row {
    while since.elapsed() < SETTLE {
        let (_, stuck, _) = census(pool, engine, kept).await;
        if stuck == 0 && agreement(pool, engine).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled = since.elapsed();
    let (leaked, stuck, lost) = census(pool, engine, kept).await;
    Row {
        fault,
        in_flight,
        leaked,
        stuck,
        lost,
        settled,
    }
}

/// Waits (up to [`SETTLE`] from `since`) until `id`'s row is `wanted`.
pub async fn until_status(pool: &PgPool, id: &str, wanted: &str, since: Instant) {
    while status(pool, id).await != wanted && since.elapsed() < SETTLE {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status(pool, id).await, wanted, "{id}");
}

pub async fn status(pool: &PgPool, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM sandboxes WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn act(client: &reqwest::Client, base: &str, key: &str, id: &str, action: &str) -> u16 {
    let url = format!("{base}/v1/sandboxes/{id}/{action}");
    let r = client.post(url).header("x-api-key", key).send().await;
    r.map_or(0, |r| r.status().as_u16())
}

pub fn kill(replica: &mut Replica) {
    replica.child.kill().expect("SIGKILL warren serve");
    replica.child.wait().unwrap();
}

/// Sends `signal` to dockerd; continues it again when dropped (so a failing test never leaves the
/// engine frozen).
struct Frozen(i32);

impl Frozen {
    fn dockerd() -> Self {
        let pid = dockerd_pid().expect("a running dockerd with its pidfile");
        signal(pid, "STOP");
        Self(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

/// The pid of the running dockerd, from its pidfile.
pub fn dockerd_pid() -> Option<i32> {
    let pid = std::fs::read_to_string("/var/run/docker.pid").ok()?;
    let pid: i32 = pid.trim().parse().ok()?;
    std::path::Path::new(&format!("/proc/{pid}"))
        .exists()
        .then_some(pid)
}

/// SIGKILLs the container of sandbox `id` from the host (its PID 1 is the agent).
fn docker_kill(id: &str) {
    let out = Command::new("docker")
        .args(["kill", "--signal", "KILL", &format!("warren-{id}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

pub fn signal(pid: i32, name: &str) {
    let out = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test]
async fn chaos_faults_leave_nothing_leaked_stuck_or_lost() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine().await;
    let client = reqwest::Client::new();
    let mut table = Vec::new();
    let mut server = crate::docker::serve_docker(&db, &TIMING).await;
    let mut kept = Vec::new();
    for _ in 0..4 {
        let made = create(&client, &server.base, &key).await.expect("create");
        kept.push(made["id"].as_str().unwrap().to_owned());
    }
    let doomed = kept.pop().unwrap();
    assert_eq!(
        act(&client, &server.base, &key, &kept[2], "pause").await,
        200
    );

    // 1. warren serve SIGKILLed with three creates, two pauses, a resume and a delete in flight.
    let mut flying = JoinSet::new();
    for _ in 0..3 {
        let (c, base, key) = (client.clone(), server.base.clone(), key.clone());
        flying.spawn(async move { drop(create(&c, &base, &key).await) });
    }
    for (id, action) in [
        (&kept[0], "pause"),
        (&kept[1], "pause"),
        (&kept[2], "resume"),
    ] {
        let (c, base, key, id) = (client.clone(), server.base.clone(), key.clone(), id.clone());
        flying.spawn(async move {
            act(&c, &base, &key, &id, action).await;
        });
    }
    let (c, base, k, id) = (
        client.clone(),
        server.base.clone(),
        key.clone(),
        doomed.clone(),
    );
    flying.spawn(async move {
        drop(
            c.delete(format!("{base}/v1/sandboxes/{id}"))
                .header("x-api-key", k)
                .send()
                .await,
        );
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fault = Instant::now();
    kill(&mut server);
    while flying.join_next().await.is_some() {}
    server = crate::docker::serve_docker(&db, &TIMING).await;
    let what = (
        "warren serve SIGKILLed mid create/pause/resume/delete",
        7,
        fault,
    );
    table.push(row(what, &pool, &engine, &kept).await);
    // The delete either landed or is refused cleanly; asked again, it always lands.
    let again = client
        .delete(format!("{}/v1/sandboxes/{doomed}", server.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!(
        matches!(again, 200 | 204 | 404),
        "delete after the kill: {again}"
    );
    assert!(
        !engine_state(&engine).await.contains_key(&doomed),
        "the deleted sandbox's container is gone"
    );

    // 2. The agent of a running sandbox killed (the container's PID 1, from the host): recorded
    //    `stopped` once its container exited, then started again.
    for id in &kept {
        if status(&pool, id).await == "paused" {
            assert_eq!(act(&client, &server.base, &key, id, "resume").await, 200);
        }
    }
    let victim = kept[2].clone();
    let fault = Instant::now();
    docker_kill(&victim);
    until_status(&pool, &victim, "stopped", fault).await;
    let what = ("the agent in a sandbox killed", 0, fault);
    table.push(row(what, &pool, &engine, &kept).await);
    assert_eq!(
        act(&client, &server.base, &key, &victim, "start").await,
        200
    );

    // 3. dockerd frozen (SIGSTOP) for 5 s while a create and a listing are asked, then continued.
    let frozen = Frozen::dockerd();
    let fault = Instant::now();
    let timed = |r: reqwest::RequestBuilder| async move {
        let status = r.send().await.map_or(0, |r| r.status().as_u16());
        (status, fault.elapsed())
    };
    let create_req = client
        .post(format!("{}/v1/sandboxes", server.base))
        .header("x-api-key", &key)
        .body(r#"{"template_name":"base"}"#);
    let list_req = client
        .get(format!("{}/v1/sandboxes", server.base))
        .header("x-api-key", &key);
    let (created, listed, ()) = tokio::join!(
        timed(create_req),
        timed(list_req),
        tokio::time::sleep(Duration::from_secs(5)),
    );
    drop(frozen);
    println!("dockerd frozen: create {created:?}, list {listed:?}");
    assert_eq!(listed.0, 200, "the API answers without the engine");
    assert!(listed.1 < Duration::from_secs(2), "{listed:?}");
    assert!(matches!(created.0, 201 | 503), "{created:?}");
    assert!(
        created.1 < Duration::from_secs(8 + 2),
        "the create hung: {created:?}"
    );
    let what = ("dockerd frozen 5 s (SIGSTOP) during a create", 1, fault);
    table.push(row(what, &pool, &engine, &kept).await);

    // 4. The leader killed while a second replica runs; the drift that follows (a sandbox's
    //    container killed) is repaired by the new leader.
    let second = crate::docker::serve_docker(&db, &TIMING).await;
    let fault = Instant::now();
    kill(&mut server);
    let drift = kept[0].clone();
    docker_kill(&drift);
    until_status(&pool, &drift, "stopped", fault).await;
    let what = ("the leader killed while a second replica runs", 0, fault);
    table.push(row(what, &pool, &engine, &kept).await);

    print_and_check(&table);
    drop(second);
    clean_up(&pool, &engine).await;
}

/// Prints the table of `rows` and fails on any leaked, stuck or lost sandbox.
pub fn print_and_check(rows: &[Row]) {
    println!(
        "{:<54} {:>9} {:>6} {:>5} {:>4} {:>9}",
        "fault", "in flight", "leaked", "stuck", "lost", "settled"
    );
    for r in rows {
        println!(
            "{:<54} {:>9} {:>6} {:>5} {:>4} {:>8.1}s",
            r.fault,
            r.in_flight,
            r.leaked,
            r.stuck,
            r.lost,
            r.settled.as_secs_f64()
        );
    }
    for r in rows {
        assert_eq!((r.leaked, r.stuck, r.lost), (0, 0, 0), "{}", r.fault);
    }
}
