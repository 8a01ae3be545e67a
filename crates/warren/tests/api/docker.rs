//! On the real Docker engine, through real `warren serve` processes: a SIGKILL in the middle of
//! creates and deletes leaves, after a restart, no leaked container and no sandbox stuck in
//! `creating`; and the warm pool serves a create from a container started before the request.
//!
//! These run in the `docker-engine` test group (one at a time, see `.config/nextest.toml`): a
//! running Warren's reconciler removes every Warren-labelled container it has no row for.

use std::collections::HashMap;
use std::time::Duration;

use runtime::{RuntimeState, SandboxRuntime};
use runtime_docker::DockerRuntime;
use serde_json::Value;
use sqlx::PgPool;
use test_support::docker::docker_settings;
use test_support::{TestDatabase, test_database};

use crate::replicas::{Replica, start_serve};

/// A database with an organization; its API key.
pub async fn db_with_key() -> (TestDatabase, PgPool, String) {
    let db = test_database().await;
    let pool = PgPool::connect(&db.url).await.unwrap();
    control_plane::admin::create_org(&pool, "acme", None, None)
        .await
        .unwrap();
    let (_, key) = control_plane::admin::create_key(&pool, "acme", None)
        .await
        .unwrap();
    (db, pool, key)
}

/// `warren serve` with the Docker runtime and `extra` settings.
pub async fn serve_docker(db: &TestDatabase, extra: &[(&str, &str)]) -> Replica {
    let docker = docker_settings();
    let agent = docker.agent_binary.display().to_string();
    let state_dir = docker.state_dir.display().to_string();
    let mut settings = vec![
        ("WARREN_RUNTIME__KIND", "docker"),
        ("WARREN_DOCKER__INSTANCE", docker.instance.as_str()),
        ("WARREN_DOCKER__AGENT_BINARY", agent.as_str()),
        ("WARREN_DOCKER__STATE_DIR", state_dir.as_str()),
        ("WARREN_CAPACITY__VCPU", "64"),
        ("WARREN_CAPACITY__MEMORY_MB", "65536"),
        ("WARREN_RECONCILE__LEADER_RETRY_SECONDS", "1"),
    ];
    settings.extend_from_slice(extra);
    start_serve(db, &settings).await
}

pub async fn engine() -> DockerRuntime {
    DockerRuntime::connect(&docker_settings())
        .await
        .expect("connect to the Docker engine")
}

/// What the engine holds, by sandbox id.
pub async fn engine_state(engine: &DockerRuntime) -> HashMap<String, RuntimeState> {
    engine
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.sandbox_id, s.state))
        .collect()
}

/// Every row of this database that may own a container: `(id, status)`, pool rows as `pool:…`.
pub async fn owners(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT id, status FROM sandboxes
         UNION ALL SELECT id, 'pool:' || status FROM pool_sandboxes",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// `Ok` when Postgres and the engine agree for this database's sandboxes, else what is wrong.
pub async fn agreement(pool: &PgPool, engine: &DockerRuntime) -> Result<(), String> {
    let held = engine_state(engine).await;
    for (id, status) in owners(pool).await {
        let has = held.contains_key(&id);
        let fine = match status.as_str() {
            "running" | "paused" | "pool:ready" => has,
            "deleted" | "error" => !has,
            "stopped" => true,
            _ => false, // creating, pool:starting
        };
        if !fine {
            return Err(format!("{id} is {status}; container present: {has}"));
        }
    }
    Ok(())
}

pub async fn create(client: &reqwest::Client, base: &str, key: &str) -> Option<Value> {
    let r = client
        .post(format!("{base}/v1/sandboxes"))
        .header("x-api-key", key)
        .body(r#"{"template_name":"base"}"#)
        .send()
        .await
        .ok()?;
    (r.status() == 201).then_some(r.json().await.ok()?)
}

/// Polls `check` until it passes, with a generous cap; panics with its last complaint.
pub async fn eventually<F: Future<Output = Result<(), String>>>(what: &str, check: impl Fn() -> F) {
    let mut last = String::new();
    for _ in 0..600 {
        match check().await {
            Ok(()) => return,
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what}: {last}");
}

/// A ready warm-pool sandbox's id, if there is one.
pub async fn ready_pooled(pool: &PgPool) -> Option<String> {
    sqlx::query_scalar("SELECT id FROM pool_sandboxes WHERE status = 'ready'")
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Waits until the warm pool has a ready sandbox; its id.
pub async fn pool_filled(pool: &PgPool) -> String {
    eventually("the pool fills", || async {
        ready_pooled(pool)
            .await
            .map(drop)
            .ok_or_else(|| "empty".to_owned())
    })
    .await;
    ready_pooled(pool).await.unwrap()
}

/// Removes whatever the engine still holds for this database's rows.
pub async fn clean_up(pool: &PgPool, engine: &DockerRuntime) {
    for (id, _) in owners(pool).await {
        engine.destroy(&id).await.unwrap();
    }
}

#[tokio::test]
async fn sigkill_mid_creates_and_deletes_then_restart_leaves_no_leak_and_nothing_creating() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine().await;
    let timing = [
        ("WARREN_RUNTIME__CREATE_TIMEOUT_SECONDS", "15"),
        ("WARREN_RECONCILE__INTERVAL_SECONDS", "2"),
    ];
    let mut first = serve_docker(&db, &timing).await;
    let client = reqwest::Client::new();
    let mut done = Vec::new();
    for _ in 0..2 {
        done.push(create(&client, &first.base, &key).await.expect("create"));
    }
    // In flight at once: four creates and two deletes.
    let mut flying = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (c, base, key) = (client.clone(), first.base.clone(), key.clone());
        flying.spawn(async move { drop(create(&c, &base, &key).await) });
    }
    for sandbox in &done {
        let url = format!(
            "{}/v1/sandboxes/{}",
            first.base,
            sandbox["id"].as_str().unwrap()
        );
        let req = client.delete(url).header("x-api-key", &key);
        flying.spawn(async move { drop(req.send().await) });
    }
    // Kill once the engine holds a container of a sandbox still `creating`.
    eventually("a create reaches the engine", || async {
        let held = engine_state(&engine).await;
        let creating = owners(&pool)
            .await
            .into_iter()
            .any(|(id, status)| status == "creating" && held.contains_key(&id));
        creating.then_some(()).ok_or_else(|| "not yet".to_owned())
    })
    .await;
    first.child.kill().expect("SIGKILL warren serve");
    first.child.wait().unwrap();
    while flying.join_next().await.is_some() {}
    assert!(
        agreement(&pool, &engine).await.is_err(),
        "the kill left something to reconcile"
    );

    let second = serve_docker(&db, &timing).await;
    eventually("the restarted server reconciles", || {
        agreement(&pool, &engine)
    })
    .await;
    // The survivors work and can be deleted; nothing of this database is left on the engine.
    let (_, running): (Vec<_>, Vec<_>) = owners(&pool)
        .await
        .into_iter()
        .partition(|(_, status)| status != "running");
    for (id, _) in running {
        let r = client
            .delete(format!("{}/v1/sandboxes/{id}", second.base))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let held = engine_state(&engine).await;
    let leaked: Vec<_> = owners(&pool)
        .await
        .into_iter()
        .filter(|(id, _)| held.contains_key(id))
        .collect();
    assert!(leaked.is_empty(), "leaked: {leaked:?}");
    drop(second);
    clean_up(&pool, &engine).await;
}

#[tokio::test]
async fn the_warm_pool_serves_a_create_from_a_container_started_before_it() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine().await;
    let server = serve_docker(&db, &[("WARREN_POOL__TEMPLATES", "{base=1}")]).await;
    let pooled = pool_filled(&pool).await;
    assert_eq!(
        engine_state(&engine).await.get(&pooled),
        Some(&RuntimeState::Running),
        "the pooled container runs before any request"
    );

    let client = reqwest::Client::new();
    let created = create(&client, &server.base, &key).await.expect("create");
    assert_eq!(created["id"], pooled.as_str(), "served from the pool");
    // The claimed sandbox's agent serves its owner.
    let agent: String = sqlx::query_scalar("SELECT agent_addr FROM sandboxes WHERE id = $1")
        .bind(&pooled)
        .fetch_one(&pool)
        .await
        .unwrap();
    let out: Value = client
        .post(format!("http://{agent}/execute"))
        .bearer_auth(created["auth_token"].as_str().unwrap())
        .json(&serde_json::json!({"code": "echo pooled", "language": "bash"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(out["stdout"], "pooled\n", "{out}");
    // The claim woke the refill.
    eventually("the pool refills", || async {
        match ready_pooled(&pool).await {
            Some(id) if id != pooled => Ok(()),
            other => Err(format!("ready: {other:?}")),
        }
    })
    .await;
    drop(server);
    clean_up(&pool, &engine).await;
}

/// `GET /info` on the agent of sandbox `id` (its address from the database) with `token`.
async fn agent_status(pool: &PgPool, id: &str, token: &str) -> u16 {
    let agent: String = sqlx::query_scalar("SELECT agent_addr FROM sandboxes WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    let r = reqwest::Client::new().get(format!("http://{agent}/info"));
    r.bearer_auth(token).send().await.unwrap().status().as_u16()
}

/// Rotates the token key of `id` with grace 0: the new token.
async fn revoke(client: &reqwest::Client, base: &str, key: &str, id: &str) -> String {
    let r = client
        .post(format!("{base}/v1/sandboxes/{id}/token/revoke"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["auth_token"].as_str().unwrap().to_owned()
}

async fn act(client: &reqwest::Client, base: &str, key: &str, id: &str, action: &str) {
    let r = client
        .post(format!("{base}/v1/sandboxes/{id}/{action}"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{action}");
}

/// A running container's agent takes the new key by the key push, and keeps it across a restart; a
/// stopped one reads it at its next start: from its secrets file (cold create) or from its replayed
/// claim (warm pool).
#[tokio::test]
async fn rotated_keys_reach_running_and_stopped_containers() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine().await;
    let server = serve_docker(&db, &[("WARREN_POOL__TEMPLATES", "{base=1}")]).await;
    let pooled = pool_filled(&pool).await;
    let client = reqwest::Client::new();
    let claimed = create(&client, &server.base, &key).await.expect("create");
    assert_eq!(claimed["id"], pooled.as_str());
    let cold = create(&client, &server.base, &key).await.expect("create");
    for sb in [&claimed, &cold] {
        let id = sb["id"].as_str().unwrap();
        let first = sb["auth_token"].as_str().unwrap();
        let pushed = revoke(&client, &server.base, &key, id).await;
        assert_eq!(agent_status(&pool, id, first).await, 401, "{id}: revoked");
        assert_eq!(agent_status(&pool, id, &pushed).await, 200, "{id}: pushed");
        // A restart reads the pushed key, never the revoked one again.
        act(&client, &server.base, &key, id, "stop").await;
        act(&client, &server.base, &key, id, "start").await;
        assert_eq!(
            agent_status(&pool, id, &pushed).await,
            200,
            "{id}: pushed, restarted"
        );
        assert_eq!(
            agent_status(&pool, id, first).await,
            401,
            "{id}: revoked, restarted"
        );

        act(&client, &server.base, &key, id, "stop").await;
        let stored = revoke(&client, &server.base, &key, id).await;
        act(&client, &server.base, &key, id, "start").await;
        assert_eq!(
            agent_status(&pool, id, &stored).await,
            200,
            "{id}: key at start"
        );
        assert_eq!(
            agent_status(&pool, id, &pushed).await,
            401,
            "{id}: older key"
        );
    }
    drop(server);
    clean_up(&pool, &engine).await;
}
