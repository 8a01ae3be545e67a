//! The files API as the sandbox user, from the user's side: its own files work, what the API makes
//! belongs to it, the watcher sees only what it may read, and names no filesystem takes are 4xx.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use serde_json::json;

use crate::files_escape::{get_code, read_routes, upload, urlencode};
use crate::helpers::{TestAgent, error_code, send};

#[tokio::test]
async fn bad_names_are_4xx_on_every_route() {
    let agent = TestAgent::start().await;
    let long = format!("{}/{}", agent.workspace.display(), "n".repeat(300));
    let deep = format!("{}/{}", agent.workspace.display(), "d/".repeat(2100));
    for path in [&long, &deep] {
        let results = read_routes(&agent, path).await;
        for (route, (status, code)) in &results {
            assert!(
                (*route == "watch" || (400..500).contains(status)) && code == "INVALID_PATH",
                "{route}: {status} {code}"
            );
        }
        let q = urlencode(path);
        let (status, body) = agent.get_json(&format!("/files/list?path={q}")).await;
        assert_eq!((status, error_code(&body)), (400, "INVALID_PATH"));
        let (status, body) = agent
            .post_json("/files/write", json!({"path": path, "content": "x"}))
            .await;
        assert_eq!((status, error_code(&body)), (400, "INVALID_PATH"));
        let (status, body) = agent.post_json("/files/mkdir", json!({"path": path})).await;
        assert_eq!((status, error_code(&body)), (400, "INVALID_PATH"));
        let (status, body) = upload(&agent, path, "f").await;
        assert_eq!((status, error_code(&body)), (400, "INVALID_PATH"));
        let (status, body) = send(agent.delete(&format!("/files/remove?path={q}"))).await;
        assert_eq!((status, error_code(&body)), (400, "INVALID_PATH"));
    }
    // A FIFO or a device is not read (it would block or never end).
    agent
        .user_code(&format!("mkfifo {}/fifo", agent.workspace.display()))
        .await;
    for path in [
        format!("{}/fifo", agent.workspace.display()),
        "/dev/zero".to_owned(),
    ] {
        for route in ["read", "download"] {
            let (status, code) = get_code(&agent, route, &path).await;
            assert_eq!(
                (status, code.as_str()),
                (400, "INVALID_PATH"),
                "{route} {path}"
            );
        }
    }
}

#[tokio::test]
async fn the_users_files_work_and_what_the_api_makes_is_the_users() {
    let agent = TestAgent::start().await;
    let ws = agent.workspace.display().to_string();
    agent.user_code(&format!("mkdir {ws}/d && echo mine > {ws}/d/u.txt && ln -s {ws}/d {ws}/link && ln -s /etc {ws}/etc")).await;
    let (status, body) = agent
        .get_json(&format!("/files/read?path={ws}/link/u.txt"))
        .await;
    assert_eq!((status, body["content"].clone()), (200, json!("mine\n")));
    let (status, _) = agent
        .post_json(
            "/files/write",
            json!({"path": "new/a/b.txt", "content": "x", "mode": "0640"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = agent
        .post_json("/files/mkdir", json!({"path": "made/deeper"}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = upload(&agent, &format!("{ws}/d"), "../../up.bin").await;
    assert_eq!(
        status, 200,
        "uploaded into the directory under the last component of its name"
    );
    for made in [
        "new",
        "new/a",
        "new/a/b.txt",
        "made",
        "made/deeper",
        "d/up.bin",
    ] {
        let meta = std::fs::metadata(agent.workspace.join(made)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1000, 1000), "{made}");
    }
    let b = std::fs::metadata(agent.workspace.join("new/a/b.txt")).unwrap();
    assert_eq!(b.mode() & 0o7777, 0o640);
    // Overwriting keeps the file's owner and refuses nothing the user may write.
    let (status, _) = agent
        .post_json(
            "/files/write",
            json!({"path": format!("{ws}/d/u.txt"), "content": "again"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        std::fs::read_to_string(agent.workspace.join("d/u.txt")).unwrap(),
        "again"
    );
    // Symlinks are listed as what they are, not as what they point to.
    let (status, list) = agent.get_json(&format!("/files/list?path={ws}")).await;
    assert_eq!(status, 200);
    let entry = |name: &str| {
        list["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(entry("d")["is_dir"], true);
    assert_eq!(
        (
            entry("link")["is_dir"].clone(),
            entry("etc")["is_dir"].clone()
        ),
        (json!(false), json!(false))
    );
    // Removing a link to a directory takes the link only; removing the workspace itself is refused.
    let (status, _) = send(agent.delete(&format!("/files/remove?path={ws}/link"))).await;
    assert_eq!(status, 200);
    assert!(agent.workspace.join("d/u.txt").exists());
    let (status, body) = send(agent.delete(&format!(
        "/files/remove?path={ws}/../{}",
        agent.workspace.file_name().unwrap().to_str().unwrap()
    )))
    .await;
    assert_eq!((status, error_code(&body)), (403, "PATH_NOT_ALLOWED"));
    assert!(agent.workspace.is_dir());
}

#[tokio::test]
async fn the_watcher_runs_as_the_user() {
    let agent = TestAgent::start().await;
    let ws = agent.workspace.display().to_string();
    let mut watch = agent.ws("/files/watch").await;
    // A tree with a directory only root may read cannot be watched, as with `inotifywait -r`.
    let locked = agent.workspace.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    watch
        .send_json(json!({"action": "watch", "path": ws}))
        .await;
    let frame = watch.next().await.unwrap();
    assert_eq!(
        (frame["type"].clone(), frame["code"].clone()),
        (json!("error"), json!("PERMISSION_DENIED"))
    );
    std::fs::remove_dir(&locked).unwrap();
    watch
        .send_json(json!({"action": "watch", "path": ws}))
        .await;
    let mut seen = false;
    for i in 0..50 {
        std::fs::write(agent.workspace.join(format!("f{i}")), "x").unwrap();
        if let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(200), watch.next()).await {
            assert_eq!(f["type"], "change", "{f}");
            seen = true;
            break;
        }
    }
    assert!(seen, "the user's own tree is watched");
}
