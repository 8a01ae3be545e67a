//! Filesystem snapshots on the real engine, through `warren serve` and the agent in each sandbox:
//! a file written in a sandbox is in a new sandbox made from its snapshot, byte for byte, while
//! the original changes on; the snapshot outlives its sandbox; another organization gets 404 for
//! it and cannot start from it; a stopped sandbox can be snapshotted, a deleted one not (409); the
//! delete removes the copy (forks: `forks.rs`, crashes: `snapshot_reconcile.rs`).
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use std::time::Instant;

use runtime::SandboxRuntime as _;
use serde_json::{Value, json};

use crate::docker::db_with_key;
use crate::volume_support::{Api, Sandbox, engine_as, finish, other_org, serve_as};

/// The Docker instance of the snapshot tests: `{WARREN_TEST_INSTANCE}-snapshots`, so that two
/// checkouts testing at once, and the volume tests, never reconcile away each other's sandboxes.
pub fn instance() -> String {
    format!(
        "{}-snapshots",
        test_support::docker::docker_settings().instance
    )
}

/// Writes 1 MiB of random bytes and a line into `sandbox`; the file's SHA-256.
pub async fn write_state(sandbox: &Sandbox, line: &str) -> String {
    let script = format!(
        "head -c 1048576 /dev/urandom > /workspace/data.bin && echo {line} > /home/user/note.txt \
         && sha256sum /workspace/data.bin | cut -d' ' -f1"
    );
    let out = sandbox.bash(&script).await;
    assert_eq!(out["exit_code"], 0, "{out}");
    out["stdout"].as_str().unwrap().trim().to_owned()
}

/// The SHA-256 of `/workspace/data.bin` and the line of `note.txt` in `sandbox`.
pub async fn read_state(sandbox: &Sandbox) -> (String, String) {
    let out = sandbox
        .bash("sha256sum /workspace/data.bin | cut -d' ' -f1; cat /home/user/note.txt")
        .await;
    assert_eq!(out["exit_code"], 0, "{out}");
    let text = out["stdout"].as_str().unwrap();
    let mut lines = text.lines().map(str::to_owned);
    (lines.next().unwrap(), lines.next().unwrap_or_default())
}

async fn created(api: &Api, body: Value) -> Value {
    let (status, made) = api.post("/v1/sandboxes", body).await;
    assert_eq!(status, 201, "{made}");
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_keeps_the_files_byte_for_byte_outlives_its_sandbox_and_is_private() {
    let instance = instance();
    let (db, pool, key) = db_with_key().await;
    let other_key = other_org(&pool).await;
    let engine = engine_as(&instance).await;
    let server = serve_as(&instance, &db, &[]).await;
    let api = Api::new(&server.base, &key);
    let other = Api::new(&server.base, &other_key);

    let a = Sandbox::of(
        &pool,
        &created(&api, json!({"template_name": "base"})).await,
    )
    .await;
    let sum = write_state(&a, "before").await;
    // 100 MB more, to time a snapshot of a sandbox that wrote that much.
    let big = a
        .bash("head -c 100000000 /dev/urandom > /workspace/big.bin && sync && echo ok")
        .await;
    assert_eq!(big["stdout"], "ok\n", "{big}");

    let began = Instant::now();
    let path = format!("/v1/sandboxes/{}/snapshots", a.id);
    let (status, snap) = api.post(&path, json!({"name": "first"})).await;
    eprintln!(
        "snapshot of a running sandbox that wrote 100 MB: {:.1} ms (POST round trip)",
        began.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(status, 201, "{snap}");
    assert_eq!(
        (&snap["object"], &snap["name"], &snap["memory"]),
        (&"snapshot".into(), &"first".into(), &false.into())
    );
    assert!(
        snap["memory_reason"].as_str().unwrap().contains("CRIU"),
        "{snap}"
    );
    assert_eq!(snap["sandbox_id"], a.id.as_str());
    let snap_id = snap["id"].as_str().unwrap().to_owned();
    // The original was thawed and changes on; the snapshot does not.
    let changed = write_state(&a, "after").await;
    assert_ne!(changed, sum);

    let b_made = created(&api, json!({"snapshot_id": snap_id})).await;
    assert_eq!(b_made["template_name"], "base", "{b_made}");
    let b = Sandbox::of(&pool, &b_made).await;
    assert_eq!(read_state(&b).await, (sum.clone(), "before".to_owned()));
    let size = b.bash("stat -c %s /workspace/big.bin").await;
    assert_eq!(size["stdout"], "100000000\n", "{size}");
    // B writes on its own copy; A's files stay A's.
    write_state(&b, "b").await;
    assert_eq!(read_state(&a).await, (changed, "after".to_owned()));

    let (status, list) = api.get("/v1/snapshots").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        (&list["count"], &list["data"][0]["id"]),
        (&1.into(), &snap_id.clone().into())
    );
    let (status, got) = api.get(&format!("/v1/snapshots/{snap_id}")).await;
    assert_eq!((status, &got["id"]), (200, &snap_id.clone().into()));

    // Another organization: 404 for the snapshot (as for one that never existed), its sandbox,
    // a create from it; nothing made.
    let not_found = |(status, body): (u16, Value), code: &str| {
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some(code)),
            "{body}"
        );
    };
    not_found(
        other.get(&format!("/v1/snapshots/{snap_id}")).await,
        "SNAPSHOT_NOT_FOUND",
    );
    not_found(
        other.delete(&format!("/v1/snapshots/{snap_id}")).await,
        "SNAPSHOT_NOT_FOUND",
    );
    not_found(
        other.get("/v1/snapshots/snap_abcdefghijkl").await,
        "SNAPSHOT_NOT_FOUND",
    );
    let from_foreign = json!({"snapshot_id": snap_id});
    not_found(
        other.post("/v1/sandboxes", from_foreign).await,
        "SNAPSHOT_NOT_FOUND",
    );
    not_found(other.post(&path, json!({})).await, "SANDBOX_NOT_FOUND");
    let (_, theirs) = other.get("/v1/sandboxes").await;
    assert_eq!(theirs["data"], json!([]), "{theirs}");
    let (_, theirs) = other.get("/v1/snapshots").await;
    assert_eq!(theirs["data"], json!([]), "{theirs}");
    // Ids that cannot be snapshot ids, and no template nor snapshot, are refused; bad names too.
    not_found(
        api.post("/v1/sandboxes", json!({"snapshot_id": "nope"}))
            .await,
        "SNAPSHOT_NOT_FOUND",
    );
    let (status, body) = api.post("/v1/sandboxes", json!({})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = api.post(&path, json!({"name": "a b"})).await;
    assert_eq!(status, 400, "{body}");
    // A template other than the snapshot's is refused.
    let (status, body) = api
        .post(
            "/v1/sandboxes",
            json!({"snapshot_id": snap_id, "template_name": "code-interpreter"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // The snapshot outlives its sandbox; a deleted sandbox cannot be snapshotted (409).
    let (status, body) = api.delete(&format!("/v1/sandboxes/{}", a.id)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.post(&path, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_STATE_TRANSITION", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("deleted"),
        "{body}"
    );
    let c = Sandbox::of(&pool, &created(&api, json!({"snapshot_id": snap_id})).await).await;
    assert_eq!(read_state(&c).await, (sum, "before".to_owned()));

    // A stopped sandbox keeps its disk and can be snapshotted.
    let (status, body) = api
        .post(&format!("/v1/sandboxes/{}/stop", b.id), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, of_stopped) = api
        .post(&format!("/v1/sandboxes/{}/snapshots", b.id), json!({}))
        .await;
    assert_eq!(status, 201, "{of_stopped}");

    // A delete removes the row and the copy; C keeps its files.
    for id in [snap_id.as_str(), of_stopped["id"].as_str().unwrap()] {
        let (status, body) = api.delete(&format!("/v1/snapshots/{id}")).await;
        assert_eq!((status, &body["deleted"]), (200, &true.into()), "{body}");
    }
    not_found(
        api.get(&format!("/v1/snapshots/{snap_id}")).await,
        "SNAPSHOT_NOT_FOUND",
    );
    assert!(engine.list_snapshots().await.unwrap().is_empty());
    assert_eq!(
        c.bash("cat /home/user/note.txt").await["stdout"],
        "before\n"
    );
    finish(server, &pool, &engine).await;
}
