use std::time::Duration;

use serde_json::json;

use crate::helpers::{Options, TestAgent};

/// Children of `pid` that are zombies.
fn zombie_children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                return false;
            };
            let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            rest[0] == "Z" && rest[1] == pid.to_string()
        })
        .collect()
}

#[tokio::test]
async fn ready_check_gates_health_and_start_command_is_supervised() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let flag = dir.path().join("ready");
    let script = format!("sleep 0.3; : > {}; exit 1", flag.display());
    let mut agent = TestAgent::start_with(Options {
        env: vec![(
            "WARREN_AGENT_READY_CHECK",
            format!("file:{}", flag.display()),
        )],
        args: vec!["--".into(), "/bin/sh".into(), "-c".into(), script],
        no_wait: true,
        ..Options::default()
    })
    .await;
    let res = agent.http.get(agent.url("/health")).send().await.unwrap();
    let first = res.status().as_u16();
    let mut healthy = false;
    for _ in 0..300 {
        let res = agent.http.get(agent.url("/health")).send().await.unwrap();
        if res.status() == 200 {
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["status"], "healthy");
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(first, 503, "not healthy before the ready check passes");
    assert!(healthy, "healthy once the ready check passes");
    // The start command exited (status 1); the agent keeps serving.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        agent.exec("bash", "echo still-here").await["stdout"],
        "still-here\n"
    );
    let status = agent.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn orphans_are_reaped() {
    let agent = TestAgent::start().await;
    let (status, _) = agent
        .post_json(
            "/commands/run",
            json!({"command": "(sleep 0.2 &) ; (true &) ; true"}),
        )
        .await;
    assert_eq!(status, 200);
    // The orphans exit within 0.2 s; give the reaper ample time.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        zombie_children(agent.pid()),
        Vec::<u32>::new(),
        "zombies left"
    );
}

#[tokio::test]
async fn sigterm_stops_children_and_exits_cleanly() {
    let mut agent = TestAgent::start().await;
    let pidfile = agent.workspace.join("bg.pid");
    let (status, started) = agent
        .post_json(
            "/commands/background",
            json!({"command": format!("echo $$ > {}; exec sleep 300", pidfile.display())}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let mut pid = None;
    for _ in 0..100 {
        if let Ok(s) = std::fs::read_to_string(&pidfile)
            && let Ok(p) = s.trim().parse::<u32>()
        {
            pid = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = pid.expect("background command started");
    assert!(agent.terminate().success());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "child outlived the agent"
    );
}
