//! The files API against an attacker: every route as the sandbox user (uid 1000, the agent being
//! root), nothing through `..`, symlinks made by user code, `/proc` (where `self` is the agent) or the
//! agent's private files; bad names and modes are 4xx.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Options, TestAgent, error_code, multipart, send};

/// `..` enough to climb from the test workspace to `/` (extra ones stay at `/`).
const UP: &str = "../../../../../../../..";

/// Status and error code (empty on success) of a JSON response, after checking it leaks no secret.
fn code_of(agent: &TestAgent, route: &str, status: u16, body: &Value) -> (u16, String) {
    assert!(
        !body.to_string().contains(&agent.key.to_hex()),
        "{route} leaked the key"
    );
    let code = if status < 300 { "" } else { error_code(body) };
    (status, code.to_owned())
}

/// What `/files/{route}?path=` answers.
pub async fn get_code(agent: &TestAgent, route: &'static str, path: &str) -> (u16, String) {
    let res = agent
        .get(&format!("/files/{route}?path={}", urlencode(path)))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}));
    code_of(agent, route, status, &body)
}

/// What read, download, exists and watch answer for `path`: (status, code) each; watch's status is 0.
pub async fn read_routes(agent: &TestAgent, path: &str) -> Vec<(&'static str, (u16, String))> {
    let mut results = Vec::new();
    for route in ["read", "download", "exists"] {
        results.push((route, get_code(agent, route, path).await));
    }
    let mut ws = agent.ws("/files/watch").await;
    ws.send_json(json!({"action": "watch", "path": path})).await;
    let frame = ws.next().await.expect("an error frame");
    assert_eq!(frame["type"], "error", "{frame}");
    results.push(("watch", (0, frame["code"].as_str().unwrap().to_owned())));
    results
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'-' | b'_' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn assert_refused(results: &[(&str, (u16, String))], path: &str, codes: &[&str]) {
    for (route, (status, code)) in results {
        assert!(
            codes.contains(&code.as_str()) && (*status == 403 || *route == "watch"),
            "{route} {path}: {status} {code}"
        );
    }
}

pub async fn upload(agent: &TestAgent, path: &str, name: &str) -> (u16, Value) {
    send(
        agent
            .post("/files/upload")
            .multipart(multipart(path, name, b"data".to_vec())),
    )
    .await
}

#[tokio::test]
async fn the_secrets_file_is_refused_by_name_dotdot_and_user_symlink() {
    for (mode, codes) in [
        // Root-only, as the Docker runtime makes it: the user's own permissions refuse it.
        (0o400, &["PERMISSION_DENIED", "PATH_NOT_ALLOWED"][..]),
        // Readable by mistake: the agent still refuses its own secrets file.
        (0o644, &["PATH_NOT_ALLOWED"][..]),
    ] {
        let agent = TestAgent::start_with(Options {
            secrets_mode: Some(mode),
            ..Options::default()
        })
        .await;
        let secrets = agent.secrets.clone().unwrap();
        let ws = agent.workspace.display().to_string();
        agent
            .user_code(&format!("ln -s {} {ws}/x", secrets.display()))
            .await;
        let private = secrets
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        for path in [
            secrets.display().to_string(),
            format!("{ws}/../{private}/secrets"),
            format!("{ws}/x"),
            "x".to_owned(),
        ] {
            let results = read_routes(&agent, &path).await;
            assert_refused(&results, &path, codes);
        }
        // Writing over it is refused as well, and leaves it as it was.
        let (status, body) = agent
            .post_json(
                "/files/write",
                json!({"path": format!("{ws}/x"), "content": "k"}),
            )
            .await;
        assert_eq!(status, 403, "{body}");
        assert!(
            std::fs::read_to_string(&secrets)
                .unwrap()
                .contains(&agent.key.to_hex())
        );
        let (status, body) =
            send(agent.delete(&format!("/files/remove?path={}", secrets.display()))).await;
        assert_eq!((status, error_code(&body)), (403, "PATH_NOT_ALLOWED"));
        // The user's symlink itself can go: remove takes the link, not what it points to.
        let (status, _) = send(agent.delete(&format!("/files/remove?path={ws}/x"))).await;
        assert_eq!(status, 200);
        assert!(secrets.exists());
    }
}

#[tokio::test]
async fn proc_is_refused_however_it_is_reached() {
    let agent = TestAgent::start().await;
    let ws = agent.workspace.display().to_string();
    // User code's /proc/self is its own process; the agent's would be the agent.
    agent.user_code(&format!("ln -s /proc/self {ws}/me && ln -s /proc/thread-self {ws}/thread && ln -s /proc/1 {ws}/one")).await;
    for path in [
        format!("{ws}/{UP}/proc/1/environ"),
        format!("{ws}/{UP}/proc/1/mem"),
        format!("{ws}/me/environ"),
        format!("{ws}/thread/environ"),
        format!("{ws}/one/environ"),
        format!("{ws}/{UP}/sys/kernel/hostname"),
    ] {
        let results = read_routes(&agent, &path).await;
        assert_refused(&results, &path, &["PATH_NOT_ALLOWED"]);
    }
    for dir in [
        format!("{ws}/{UP}/proc/1/fd"),
        format!("{ws}/me/fd"),
        format!("{ws}/{UP}/sys"),
    ] {
        let (status, body) = agent.get_json(&format!("/files/list?path={dir}")).await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "PATH_NOT_ALLOWED"),
            "{dir}"
        );
    }
    for path in [
        format!("{ws}/me/comm"),
        format!("{ws}/me/oom_score_adj"),
        format!("{ws}/{UP}/proc/sys/kernel/x"),
    ] {
        let (status, body) = agent
            .post_json("/files/write", json!({"path": path, "content": "1"}))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "PATH_NOT_ALLOWED"),
            "write {path}"
        );
        let (status, body) = upload(&agent, &path, "f").await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "PATH_NOT_ALLOWED"),
            "upload {path}"
        );
        let (status, body) = agent.post_json("/files/mkdir", json!({"path": path})).await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "PATH_NOT_ALLOWED"),
            "mkdir {path}"
        );
        let (status, body) = send(agent.delete(&format!("/files/remove?path={path}"))).await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "PATH_NOT_ALLOWED"),
            "remove {path}"
        );
    }
}

#[tokio::test]
async fn the_agents_binary_directory_is_private_and_watch_events_from_it_are_dropped() {
    let agent = TestAgent::start_with(Options {
        own_binary_dir: true,
        ..Options::default()
    })
    .await;
    let ws = agent.workspace.display().to_string();
    let bin = agent.bin_dir.display().to_string();
    agent.user_code(&format!("ln -s {bin} {ws}/bin")).await;
    for dir in [bin.clone(), format!("{ws}/bin"), format!("{ws}/{UP}{bin}")] {
        let (status, body) = agent.get_json(&format!("/files/list?path={dir}")).await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "PATH_NOT_ALLOWED"),
            "{dir}"
        );
        let results = read_routes(&agent, &format!("{dir}/warren-agent")).await;
        assert_refused(&results, &dir, &["PATH_NOT_ALLOWED"]);
    }
    // Watching the workspace follows the link as the user may, but reports nothing from inside it.
    let mut watch = agent.ws("/files/watch").await;
    watch
        .send_json(json!({"action": "watch", "path": ws}))
        .await;
    let mut seen = Vec::new();
    for i in 0..40 {
        std::fs::write(agent.bin_dir.join(format!("agent-{i}")), "x").unwrap();
        std::fs::write(agent.workspace.join(format!("user-{i}")), "x").unwrap();
        if let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(200), watch.next()).await {
            seen.push(f["path"].as_str().unwrap().to_owned());
            if seen.len() > 3 {
                break;
            }
        }
    }
    assert!(seen.iter().any(|p| p.contains("/user-")), "{seen:?}");
    assert!(seen.iter().all(|p| !p.contains("/agent-")), "{seen:?}");
}

#[tokio::test]
async fn the_api_writes_only_where_the_user_may_and_never_setuid() {
    let agent = TestAgent::start().await;
    let passwd = std::fs::read("/etc/passwd").unwrap();
    for path in [
        "/etc/passwd",
        "/etc/sudoers.d/x",
        "/usr/local/bin/x",
        "/etc/cron.d/x",
    ] {
        let (status, body) = agent
            .post_json(
                "/files/write",
                json!({"path": path, "content": "root::0:0::/:/bin/sh\n"}),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "PERMISSION_DENIED"),
            "write {path}"
        );
        let (status, body) = upload(&agent, path, "x").await;
        assert_eq!(
            (status, error_code(&body)),
            (403, "PERMISSION_DENIED"),
            "upload {path}"
        );
    }
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd);
    assert!(!std::path::Path::new("/usr/local/bin/x").exists());
    let (status, body) = agent
        .post_json("/files/mkdir", json!({"path": "/opt/warren-escape"}))
        .await;
    assert_eq!((status, error_code(&body)), (403, "PERMISSION_DENIED"));
    assert!(!std::path::Path::new("/opt/warren-escape").exists());
    // A root file in the workspace: the user may not read it, change it or remove its directory.
    let locked = agent.workspace.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("root.txt"), "root's").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = locked.join("root.txt").display().to_string();
    let mut results = read_routes(&agent, &file).await;
    // exists answers what `test -e` answers user code that cannot search the directory.
    let exists = results.remove(2);
    assert_eq!(exists, ("exists", (200, String::new())));
    assert_refused(&results, &file, &["PERMISSION_DENIED"]);
    let (status, body) = agent
        .get_json(&format!("/files/list?path={}", locked.display()))
        .await;
    assert_eq!((status, error_code(&body)), (403, "PERMISSION_DENIED"));
    let (status, body) =
        send(agent.delete(&format!("/files/remove?path={}", locked.display()))).await;
    assert_eq!((status, error_code(&body)), (403, "PERMISSION_DENIED"));
    assert!(locked.join("root.txt").exists());
    for mode in ["4777", "2755", "1777", "7777"] {
        let (status, body) = agent
            .post_json(
                "/files/write",
                json!({"path": "s", "content": "x", "mode": mode}),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "INVALID_REQUEST"),
            "mode {mode}"
        );
    }
    assert!(!agent.workspace.join("s").exists());
}

/// `/proc/<agent>/environ` (readable to user code under gVisor, which makes no ptrace check there)
/// holds no variable once the agent has started: its initial environment block is blanked.
#[tokio::test]
async fn the_agents_initial_environment_is_blanked() {
    let agent = TestAgent::start().await;
    let environ = std::fs::read(format!("/proc/{}/environ", agent.pid())).unwrap();
    assert!(
        !environ.is_empty(),
        "the block is still there, as NUL bytes"
    );
    assert!(
        environ.iter().all(|b| *b == 0),
        "{}",
        String::from_utf8_lossy(&environ)
    );
    // The agent still has its configuration: user code gets the base environment.
    let out = agent.exec("bash", "echo \"$PATH\"").await;
    assert!(
        out["stdout"].as_str().unwrap().contains("/usr/bin"),
        "{out}"
    );
}
