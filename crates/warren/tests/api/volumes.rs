//! Volumes on the real engine, through `warren serve` and the agent in each sandbox: data written in
//! one sandbox is read in a second that mounts the volume at the same time and in a third after
//! both are gone; a read-only mount refuses writes; a write past the volume's size fails; another
//! organization sees 404 and cannot mount it; a delete while mounted is 409; the quota and bad
//! mount paths are clear errors (crashes: `volume_reconcile.rs`).
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use runtime::SandboxRuntime as _;
use serde_json::{Value, json};

use crate::docker::db_with_key;
use crate::volume_support::{Api, Sandbox, engine, finish, other_org, serve};

/// A `base` sandbox mounting `volumes`; its create answer.
async fn create_with(api: &Api, volumes: Value) -> (u16, Value) {
    api.post(
        "/v1/sandboxes",
        json!({"template_name": "base", "volumes": volumes}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_data_is_shared_read_only_where_asked_bounded_and_private_to_its_organization() {
    let (db, pool, key) = db_with_key().await;
    let other_key = other_org(&pool).await;
    let engine = engine().await;
    let server = serve(&db, &[]).await;
    let api = Api::new(&server.base, &key);
    let other = Api::new(&server.base, &other_key);

    let (status, volume) = api
        .post("/v1/volumes", json!({"name": "shared", "size_mb": 32}))
        .await;
    assert_eq!(status, 201, "{volume}");
    assert_eq!(
        (&volume["status"], &volume["size_mb"]),
        (&"ready".into(), &32.into())
    );
    let volume_id = volume["id"].as_str().unwrap().to_owned();

    // Two sandboxes mount it at once, the second read-only (by id).
    let (status, a) = create_with(&api, json!([{"name": "shared", "mount_path": "/data"}])).await;
    assert_eq!(status, 201, "{a}");
    let ro = json!([{"name": volume_id, "mount_path": "/mnt/ro", "read_only": true}]);
    let (status, b) = create_with(&api, ro).await;
    assert_eq!(status, 201, "{b}");
    let (mut a, b) = (Sandbox::of(&pool, &a).await, Sandbox::of(&pool, &b).await);

    let wrote = a
        .bash("echo hello > /data/hello.txt && id -u && stat -c %u /data")
        .await;
    assert_eq!(wrote["stdout"], "1000\n1000\n", "uid 1000 writes: {wrote}");
    let read = b.bash("cat /mnt/ro/hello.txt").await;
    assert_eq!(read["stdout"], "hello\n", "{read}");
    let refused = b.bash("echo no > /mnt/ro/other.txt").await;
    assert_ne!(refused["exit_code"], 0, "{refused}");
    assert!(
        refused["stderr"]
            .as_str()
            .unwrap()
            .contains("Read-only file system"),
        "{refused}"
    );
    // Past its size (32 MiB), writes fail; what fits stays readable.
    let filled = a
        .bash("dd if=/dev/zero of=/data/big bs=1M count=64 2>&1; echo exit=$?")
        .await;
    let out = filled["stdout"].as_str().unwrap();
    assert!(
        out.contains("Disk quota exceeded") && !out.contains("exit=0"),
        "{filled}"
    );
    a.bash("rm -f /data/big").await;
    // Stopped and started again, the sandbox mounts it again.
    for action in ["stop", "start"] {
        let path = format!("/v1/sandboxes/{}/{action}", a.id);
        let (status, body) = api.post(&path, json!({})).await;
        assert_eq!(status, 200, "{action}: {body}");
    }
    a.refresh(&pool).await;
    assert_eq!(a.bash("cat /data/hello.txt").await["stdout"], "hello\n");

    let (status, shown) = api.get("/v1/volumes/shared").await;
    assert_eq!(status, 200);
    let mut users: Vec<&str> = shown["mounted_by"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    users.sort_unstable();
    let mut expected = [a.id.as_str(), b.id.as_str()];
    expected.sort_unstable();
    assert_eq!(users, expected);

    // In use: 409, and the data stays.
    let (status, refused) = api.delete("/v1/volumes/shared").await;
    assert_eq!(
        (status, &refused["code"]),
        (409, &"VOLUME_IN_USE".into()),
        "{refused}"
    );
    assert_eq!(
        refused["error"]["details"]["sandbox_ids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Another organization: 404 by name and by id, on get, delete and mount; nothing revealed.
    for path in [
        "/v1/volumes/shared".to_owned(),
        format!("/v1/volumes/{volume_id}"),
    ] {
        let (status, body) = other.get(&path).await;
        assert_eq!(
            (status, &body["code"]),
            (404, &"VOLUME_NOT_FOUND".into()),
            "{body}"
        );
        let (status, body) = other.delete(&path).await;
        assert_eq!(
            (status, &body["code"]),
            (404, &"VOLUME_NOT_FOUND".into()),
            "{body}"
        );
    }
    let (status, body) = other.get("/v1/volumes").await;
    assert_eq!(
        (status, body["data"].as_array().unwrap().len()),
        (200, 0),
        "{body}"
    );
    for name in ["shared", volume_id.as_str()] {
        let mount = json!([{"name": name, "mount_path": "/data"}]);
        let (status, body) = create_with(&other, mount).await;
        assert_eq!(
            (status, &body["code"]),
            (404, &"VOLUME_NOT_FOUND".into()),
            "{body}"
        );
    }

    // The data survives both sandboxes.
    for s in [&a, &b] {
        assert_eq!(api.delete(&format!("/v1/sandboxes/{}", s.id)).await.0, 200);
    }
    let (status, c) = create_with(
        &api,
        json!([{"name": "shared", "mount_path": "/workspace/v"}]),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    let c = Sandbox::of(&pool, &c).await;
    assert_eq!(
        c.bash("cat /workspace/v/hello.txt").await["stdout"],
        "hello\n"
    );
    assert_eq!(api.delete(&format!("/v1/sandboxes/{}", c.id)).await.0, 200);

    // Unmounted, it can go, with its directory.
    let (status, deleted) = api.delete("/v1/volumes/shared").await;
    assert_eq!(
        (status, &deleted["id"]),
        (200, &volume_id.clone().into()),
        "{deleted}"
    );
    assert_eq!(api.get("/v1/volumes/shared").await.0, 404);
    assert!(!engine.list_volumes().await.unwrap().contains(&volume_id));
    finish(server, &pool, &engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_quota_names_and_mount_paths_are_clear_errors() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine().await;
    let quota = [
        ("WARREN_VOLUMES__ORG_QUOTA_MB", "100"),
        ("WARREN_VOLUMES__MAX_SIZE_MB", "80"),
        ("WARREN_CAPACITY__DISK_MB", "90"),
    ];
    let server = serve(&db, &quota).await;
    let api = Api::new(&server.base, &key);

    assert_eq!(
        api.post("/v1/volumes", json!({"name": "a", "size_mb": 80}))
            .await
            .0,
        201
    );
    let (status, body) = api
        .post("/v1/volumes", json!({"name": "b", "size_mb": 30}))
        .await;
    assert_eq!(
        (status, &body["code"]),
        (403, &"VOLUME_QUOTA_EXCEEDED".into()),
        "{body}"
    );
    let details = &body["error"]["details"];
    assert_eq!(
        (
            &details["quota_mb"],
            &details["used_mb"],
            &details["available_mb"]
        ),
        (&100.into(), &80.into(), &20.into())
    );
    let (status, body) = api
        .post("/v1/volumes", json!({"name": "a", "size_mb": 1}))
        .await;
    assert_eq!(
        (status, &body["code"]),
        (409, &"VOLUME_EXISTS".into()),
        "{body}"
    );
    for bad in [
        json!({"name": "b", "size_mb": 81}),
        json!({"name": "b", "size_mb": 0}),
        json!({"name": "B_b", "size_mb": 1}),
        json!({"name": "", "size_mb": 1}),
        json!({"size_mb": 1}),
    ] {
        let (status, body) = api.post("/v1/volumes", bad.clone()).await;
        assert_eq!(
            (status, &body["code"]),
            (400, &"INVALID_REQUEST".into()),
            "{bad}: {body}"
        );
    }
    let (status, list) = api.get("/v1/volumes").await;
    assert_eq!(
        (status, &list["used_mb"], &list["quota_mb"]),
        (200, &80.into(), &100.into())
    );

    // Bad mounts are refused before anything is made.
    for path in [
        "data",
        "/data/../etc",
        "/proc/x",
        "/sys",
        "/dev/shm",
        "/.warren/agent",
        "/tmp",
        "/",
    ] {
        let (status, body) = create_with(&api, json!([{"name": "a", "mount_path": path}])).await;
        assert_eq!(
            (status, &body["code"]),
            (400, &"INVALID_REQUEST".into()),
            "{path}: {body}"
        );
    }
    let twice = json!([{"name": "a", "mount_path": "/d"}, {"name": "a", "mount_path": "/d"}]);
    assert_eq!(create_with(&api, twice).await.0, 400);
    let (status, body) = create_with(&api, json!([{"name": "nope", "mount_path": "/d"}])).await;
    assert_eq!(
        (status, &body["code"]),
        (404, &"VOLUME_NOT_FOUND".into()),
        "{body}"
    );
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM sandboxes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(live, 0, "no refused create left a row");
    assert_eq!(api.delete("/v1/volumes/a").await.0, 200);
    finish(server, &pool, &engine).await;
}
