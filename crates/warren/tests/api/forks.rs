//! Forks on the real engine: `POST /v1/sandboxes/{id}/fork` makes N sandboxes that each see the
//! parent's files and then diverge on their own; one fork's failure (the live-sandbox cap) is its
//! own entry, the others are made; counts over the cap are refused naming the limit;
//! the fork's own snapshot is gone afterwards; another organization gets 404; the snapshot quota
//! counts (forks take a snapshot too).
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use std::collections::HashSet;

use runtime::SandboxRuntime as _;
use serde_json::{Value, json};

use crate::docker::db_with_key;
use crate::fs_snapshots::{instance, read_state, write_state};
use crate::volume_support::{Api, Sandbox, engine_as, finish, other_org, serve_as};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_makes_independent_copies_refuses_counts_over_the_cap_and_counts_in_the_quota() {
    let instance = instance();
    let (db, pool, key) = db_with_key().await;
    let other_key = other_org(&pool).await;
    let engine = engine_as(&instance).await;
    let limits = [
        ("WARREN_SNAPSHOTS__MAX_FORK_COUNT", "3"),
        ("WARREN_SNAPSHOTS__ORG_MAX_COUNT", "2"),
        ("WARREN_LIMITS__MAX_LIVE_SANDBOXES", "5"),
    ];
    let server = serve_as(&instance, &db, &limits).await;
    let api = Api::new(&server.base, &key);
    let other = Api::new(&server.base, &other_key);

    let (status, made) = api
        .post("/v1/sandboxes", json!({"template_name": "base"}))
        .await;
    assert_eq!(status, 201, "{made}");
    let parent = Sandbox::of(&pool, &made).await;
    let sum = write_state(&parent, "parent").await;
    let path = format!("/v1/sandboxes/{}/fork", parent.id);

    for count in [4, 0] {
        let (status, body) = api.post(&path, json!({"count": count})).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "FORK_LIMIT_EXCEEDED", "{body}");
        assert_eq!(body["error"]["details"]["limit"], 3, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("snapshots.max_fork_count")
        );
    }
    let (status, body) = other.post(&path, json!({"count": 1})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("SANDBOX_NOT_FOUND"))
    );

    let (status, forks) = api.post(&path, json!({"count": 3})).await;
    assert_eq!(status, 200, "{forks}");
    let forks = forks.as_array().expect("one entry per fork").clone();
    assert_eq!(forks.len(), 3);
    let mut sandboxes = Vec::new();
    for f in &forks {
        assert_eq!(f["status"], "running", "{f}");
        sandboxes.push(Sandbox::of(&pool, f).await);
    }
    let ids: HashSet<&str> = sandboxes.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "each fork has its own id");
    assert!(!ids.contains(parent.id.as_str()));
    let tokens: HashSet<&str> = sandboxes.iter().map(|s| s.token.as_str()).collect();
    assert_eq!(tokens.len(), 3, "each fork has its own token");

    // Each sees the parent's files, then writes its own; none sees another's.
    for fork in &sandboxes {
        assert_eq!(read_state(fork).await, (sum.clone(), "parent".to_owned()));
        let wrote = fork
            .bash(&format!("echo {} > /home/user/note.txt", fork.id))
            .await;
        assert_eq!(wrote["exit_code"], 0, "{wrote}");
    }
    for fork in &sandboxes {
        assert_eq!(read_state(fork).await, (sum.clone(), fork.id.clone()));
        // The parent's token opens no fork.
        let status = reqwest::Client::new()
            .post(format!("http://{}/execute", fork.agent))
            .bearer_auth(&parent.token)
            .json(&json!({"code": "true", "language": "bash"}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    assert_eq!(
        read_state(&parent).await,
        (sum.clone(), "parent".to_owned())
    );

    // One failure fails only its own fork: with the parent and three forks live, a cap of five
    // leaves room for one more; the other two answer their own 403 in their entry.
    let (status, more) = api.post(&path, json!({"count": 3})).await;
    assert_eq!(status, 200, "{more}");
    let codes: Vec<&str> = more
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["error"]["code"].as_str().unwrap_or("created"))
        .collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["RESOURCE_LIMIT_ERROR", "RESOURCE_LIMIT_ERROR", "created"],
        "{more}"
    );
    let extra = more
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"].is_string())
        .unwrap();
    let extra = Sandbox::of(&pool, extra).await;
    assert_eq!(read_state(&extra).await.0, sum);

    // The fork's snapshot is gone, row and copy.
    let (_, list) = api.get("/v1/snapshots").await;
    assert_eq!(list["count"], 0, "{list}");
    assert!(engine.list_snapshots().await.unwrap().is_empty());

    // The quota (2 here) holds snapshots and the fork's own: full, both are refused with figures.
    let snap_path = format!("/v1/sandboxes/{}/snapshots", parent.id);
    for _ in 0..2 {
        let (status, body) = api.post(&snap_path, json!({})).await;
        assert_eq!(status, 201, "{body}");
    }
    let quota_refused = |(status, body): (u16, Value)| {
        assert_eq!(status, 403, "{body}");
        let e = &body["error"];
        assert_eq!(e["code"], "SNAPSHOT_QUOTA_EXCEEDED", "{body}");
        assert_eq!(
            (&e["details"]["limit"], &e["details"]["quota"]),
            (&"count".into(), &2.into())
        );
        assert_eq!(e["details"]["used"], 2, "{body}");
    };
    quota_refused(api.post(&snap_path, json!({})).await);
    quota_refused(api.post(&path, json!({"count": 1})).await);
    let (_, list) = api.get("/v1/snapshots").await;
    for s in list["data"].as_array().unwrap() {
        let (status, body) = api
            .delete(&format!("/v1/snapshots/{}", s["id"].as_str().unwrap()))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    finish(server, &pool, &engine).await;
}
