//! The agent keeps headroom in a real sandbox (default profile): user processes live in the
//! sandbox's `user` cgroups, below the sandbox's limits, so during a fork bomb and a memory hog the
//! agent answers `/health` and commands within seconds; a fork bomb under `timeout` does not outlive
//! its command; `POST /processes/kill-all` ends a background one; the cgroups go with the sandbox.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use runtime::SandboxRuntime as _;
use sandbox_token::TokenKey;
use serde_json::{Value, json};

use crate::helpers::*;

/// A fork bomb whose processes stay (each waits for its children; bash retries a failed fork).
const FORK_BOMB: &str = "b() { b & b & wait; }; b";
/// The `instance` of [`runtime`]'s settings, as the cgroup directories name it.
const INSTANCE: &str = "runtime-docker-tests";

/// A JSON call to the sandbox's agent: status and body.
async fn call(addr: SocketAddr, id: &str, key: &TokenKey, path: &str, body: Value) -> (u16, Value) {
    let token = key.sign(id, chrono_now() + 3600);
    let res = http()
        .post(format!("http://{addr}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the agent answers");
    let status = res.status().as_u16();
    (status, res.json().await.expect("a JSON body"))
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The sandbox's cgroup parent in `hierarchy` on the host.
fn parent(hierarchy: &str, id: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(hierarchy)
        .join("warren")
        .join(INSTANCE)
        .join(id)
}

fn read_u64(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim().parse().unwrap()
}

fn user_pids(id: &str) -> u64 {
    read_u64(&parent("pids", id).join("user/pids.current"))
}

/// The agent's `/health` answers 200 within 2 s, five times in a row; the slowest, in ms.
async fn answers_quickly(addr: SocketAddr) -> u128 {
    let mut slowest = 0;
    for _ in 0..5 {
        let started = Instant::now();
        assert!(healthy(addr).await, "the agent does not answer");
        slowest = slowest.max(started.elapsed().as_millis());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(slowest < 2000, "/health took {slowest} ms");
    slowest
}

/// A command answers within 5 s: it runs, or it is refused because user processes are at their
/// limit (never a hang, never a 500).
async fn a_command_answers(addr: SocketAddr, id: &str, key: &TokenKey) {
    let started = Instant::now();
    let (status, body) = call(
        addr,
        id,
        key,
        "/commands/run",
        json!({"command": "echo ok"}),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the command took {:?}",
        started.elapsed()
    );
    assert!(
        (status == 200 && body["stdout"] == "ok\n")
            || (status == 503 && body["code"] == "RESOURCE_EXHAUSTED"),
        "{status} {body}"
    );
}

#[tokio::test]
async fn headroom_holds_under_a_fork_bomb_and_a_memory_hog_and_the_cgroups_go_on_destroy() {
    let rt = runtime().await;
    let (spec, key, _cleanup) = spec(PYTHON_IMAGE);
    let id = spec.sandbox_id.clone();
    let sbx = rt.create(&spec).await.unwrap();
    let addr = sbx.agent_addr;
    // The limits: the sandbox's on the parent, a margin less on `user` (default settings: 1024 pids,
    // 512 MiB; a margin of max(16, 10 %) and max(32 MiB, 10 %)).
    assert_eq!(read_u64(&parent("pids", &id).join("pids.max")), 1024);
    assert_eq!(read_u64(&parent("pids", &id).join("user/pids.max")), 922);
    let user_memory = read_u64(&parent("memory", &id).join("user/memory.limit_in_bytes"));
    // (Rounded down to whole pages by the kernel.)
    assert_eq!(user_memory, ((512 << 20) - (512 << 20) / 10) & !4095);
    assert_eq!(
        read_u64(&parent("cpu", &id).join("cpu.cfs_quota_us")),
        100_000
    );
    assert_eq!(read_u64(&parent("cpu", &id).join("user/cpu.shares")), 128);
    let cgroup = bash(
        addr,
        &id,
        &key,
        "grep -E ':(pids|memory|cpu):' /proc/self/cgroup",
    )
    .await;
    assert!(
        cgroup.lines().all(|l| l.ends_with(&format!("/{id}/user"))),
        "{cgroup}"
    );
    let listed = run(addr, &id, &key, "bash", "ls /.warren/cgroup/pids").await;
    assert!(
        !listed.success,
        "user code may not look into its cgroups: {listed:?}"
    );

    // A fork bomb under `timeout`, in the foreground: nothing of it outlives the command (the
    // Python kernel, started ahead, is the only user process before and after).
    let before = user_pids(&id);
    let (status, out) = call(
        addr,
        &id,
        &key,
        "/commands/run",
        json!({"command": format!("timeout 5 bash -c '{FORK_BOMB}'"), "timeout": 30}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let mut left = user_pids(&id);
    for _ in 0..50 {
        if left <= before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = user_pids(&id);
    }
    assert!(
        left <= before,
        "the bomb outlived its command: {left} user processes, {before} before"
    );

    // A fork bomb in the background: it fills `user`, the agent answers, kill-all ends it.
    let (status, bg) = call(
        addr,
        &id,
        &key,
        "/commands/background",
        json!({"command": "bash", "args": ["-c", FORK_BOMB], "timeout": 600}),
    )
    .await;
    assert_eq!(status, 200, "{bg}");
    let mut filled = 0;
    for _ in 0..100 {
        filled = user_pids(&id);
        if filled >= 900 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(filled >= 900, "the bomb reached {filled} processes");
    let slowest = answers_quickly(addr).await;
    a_command_answers(addr, &id, &key).await;
    let started = Instant::now();
    let (status, killed) = call(addr, &id, &key, "/processes/kill-all", json!({})).await;
    assert_eq!(status, 200, "{killed}");
    assert!(killed["killed"].as_u64().unwrap() >= 900, "{killed}");
    eprintln!(
        "fork bomb of {filled}: /health at most {slowest} ms; kill-all took {:?}",
        started.elapsed()
    );
    assert_eq!(bash(addr, &id, &key, "echo back").await, "back\n");
    assert!(
        user_pids(&id) <= before,
        "left after kill-all: {}",
        user_pids(&id)
    );

    // A memory hog: `user`'s limit stops it, not the sandbox's, and the agent answers meanwhile.
    let hog = "python3 -c 'b = []\nwhile True: b.append(bytearray(1 << 24))'";
    let (hog, health) = tokio::join!(run(addr, &id, &key, "bash", hog), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        answers_quickly(addr).await
    });
    assert!(!hog.success, "{hog:?}");
    let oom_kills = |dir: &Path| {
        let control = std::fs::read_to_string(dir.join("memory.oom_control")).unwrap();
        let line = control
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .unwrap();
        line.parse::<u64>().unwrap()
    };
    let memory = parent("memory", &id);
    assert!(oom_kills(&memory.join("user")) > 0, "{hog:?}");
    eprintln!("memory hog: /health at most {health} ms");
    a_command_answers(addr, &id, &key).await;

    rt.destroy(&id).await.unwrap();
    let hierarchies = std::fs::read_dir("/sys/fs/cgroup").unwrap();
    for h in hierarchies.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
        assert!(
            !parent(&h, &id).exists(),
            "{} is left",
            parent(&h, &id).display()
        );
    }
}

#[tokio::test]
async fn cgroups_a_crash_left_are_listed_and_go_with_the_reconcilers_destroy() {
    let rt = runtime().await;
    let (spec, _key, _cleanup) = spec(BASE_IMAGE);
    let id = spec.sandbox_id.clone();
    rt.create(&spec).await.unwrap();
    // As if Warren died between the container's removal and its cgroups'.
    let removed = std::process::Command::new("docker")
        .args([
            "rm",
            "-f",
            &format!("warren-{id}"),
            &format!("warren-{id}-net"),
        ])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{removed:?}");
    assert!(parent("pids", &id).join("user").exists());
    let listed = rt.list().await.unwrap();
    let state = listed.iter().find(|s| s.sandbox_id == id).map(|s| s.state);
    assert_eq!(state, Some(runtime::RuntimeState::Stopped));
    rt.destroy(&id).await.unwrap();
    assert!(!parent("pids", &id).exists() && !parent("memory", &id).exists());
    assert!(!rt.list().await.unwrap().iter().any(|s| s.sandbox_id == id));
}
