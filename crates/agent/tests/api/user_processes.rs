//! User processes cannot outlive their command or starve the agent: a foreground command's leftovers
//! are killed when it ends, one call kills every user process (a fork bomb included), and user
//! processes run in the user cgroups the agent is given, below its own limits.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Options, TestAgent, error_code};

/// A fork bomb whose processes stay (each waits for its children; bash retries a failed fork). The
/// tests bound it by a pids cgroup of their own: they run outside any sandbox.
fn fork_bomb() -> serde_json::Value {
    json!({"command": "bash", "args": ["-c", "b() { b & b & wait; }; b"], "timeout": 120})
}

/// Pids of the live (not zombie) processes whose session is `sid`.
fn session_members(sid: u32) -> Vec<u32> {
    let sid = sid.to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(close) = stat.rfind(')') else {
                return false;
            };
            let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
            fields[0] != "Z" && fields[3] == sid
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

async fn gone_within(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_finished_foreground_command_leaves_no_process_behind() {
    let agent = TestAgent::start().await;
    // A plain `&`, a job in its own process group (`set -m`), and one that escapes the shell's wait.
    for command in [
        "sleep 300 & echo $!",
        "set -m; sleep 300 & echo $!",
        "(sleep 300 & echo $!)",
    ] {
        let started = Instant::now();
        let (status, out) = agent
            .post_json("/commands/run", json!({"command": command}))
            .await;
        assert_eq!(status, 200, "{out}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{command} waited for its leftover"
        );
        let pid: u32 = out["stdout"].as_str().unwrap().trim().parse().unwrap();
        assert!(
            gone_within(pid, Duration::from_secs(2)).await,
            "{command}: {pid} survived"
        );
    }
    let (_, out) = agent
        .post_json(
            "/execute",
            json!({"language": "bash", "code": "sleep 300 & echo $!"}),
        )
        .await;
    let pid: u32 = out["stdout"].as_str().unwrap().trim().parse().unwrap();
    assert!(
        gone_within(pid, Duration::from_secs(2)).await,
        "/execute left {pid}"
    );
    // A background command is the way to keep processes: its `&` child lives on after it ended.
    let (_, bg) = agent
        .post_json(
            "/commands/background",
            json!({"command": "sleep 300 & echo $! > kept.pid"}),
        )
        .await;
    let pid_file = agent.workspace.join("kept.pid");
    let kept = wait_for_pid_file(&pid_file).await;
    assert!(
        !gone_within(kept, Duration::from_millis(500)).await,
        "the kept process was killed"
    );
    assert!(bg["process_id"].is_string());
    let (status, res) = agent.post_json("/processes/kill-all", json!({})).await;
    assert_eq!(status, 200, "{res}");
    assert!(
        gone_within(kept, Duration::from_secs(2)).await,
        "kill-all left {kept}"
    );
}

async fn wait_for_pid_file(path: &Path) -> u32 {
    for _ in 0..250 {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no pid in {}", path.display());
}

#[tokio::test]
async fn kill_all_ends_a_background_fork_bomb_and_restarts_the_kernel() {
    let Some(cgroup) = UserCgroup::new("kill-all", 200) else {
        eprintln!("skipped: no writable cgroup v1 pids hierarchy (run as root)");
        return;
    };
    let agent = cgroup.agent().await;
    agent.started_kernel().await;
    let (status, bg) = agent.post_json("/commands/background", fork_bomb()).await;
    assert_eq!(status, 200, "{bg}");
    let sid = bg["pid"].as_u64().unwrap() as u32;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(session_members(sid).len() > 10, "the bomb did not fork");
    let started = Instant::now();
    let (status, health) = agent.get_json("/health").await;
    assert_eq!(status, 200, "{health}");
    let (status, res) = agent.post_json("/processes/kill-all", json!({})).await;
    assert_eq!(status, 200, "{res}");
    assert!(res["killed"].as_u64().unwrap() > 10, "{res}");
    assert_eq!(res["kernel_restarted"], true, "{res}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(session_members(sid), Vec::<u32>::new());
    let (_, list) = agent.get_json("/execute/processes").await;
    let entry = &list["processes"][0];
    assert_eq!(
        (entry["process_id"].clone(), entry["status"].as_str()),
        (bg["process_id"].clone(), Some("killed"))
    );
    let out = agent.exec("python", "print(6 * 7)").await;
    assert_eq!(out["stdout"], "42\n", "{out}");
}

/// A pids cgroup made for the test (cgroup v1, as root), removed on drop.
struct UserCgroup {
    dir: PathBuf,
    mounts: tempfile::TempDir,
}

impl UserCgroup {
    fn new(tag: &str, pids_max: u32) -> Option<Self> {
        let name = format!("warren-agent-test-{tag}-{}", std::process::id());
        let dir = Path::new("/sys/fs/cgroup/pids").join(name);
        std::fs::create_dir(&dir).ok()?;
        std::fs::write(dir.join("pids.max"), pids_max.to_string()).unwrap();
        let mounts = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&dir, mounts.path().join("pids")).unwrap();
        Some(Self { dir, mounts })
    }

    /// An agent whose user processes join this cgroup.
    async fn agent(&self) -> TestAgent {
        TestAgent::start_with(Options {
            env: vec![(
                "WARREN_AGENT_USER_CGROUP",
                self.mounts.path().display().to_string(),
            )],
            ..Options::default()
        })
        .await
    }
}

impl Drop for UserCgroup {
    /// Kills what is still in the cgroup (a failed test's agent is killed, its children are not).
    fn drop(&mut self) {
        for _ in 0..100 {
            let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|p| p.parse().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[tokio::test]
async fn user_processes_run_in_the_user_cgroup_and_a_bomb_there_leaves_the_agent_answering() {
    let Some(cgroup) = UserCgroup::new("headroom", 64) else {
        eprintln!("skipped: no writable cgroup v1 pids hierarchy (run as root)");
        return;
    };
    let agent = cgroup.agent().await;
    let name = cgroup.dir.file_name().unwrap().to_str().unwrap().to_owned();
    let (_, out) = agent
        .post_json(
            "/commands/run",
            json!({"command": "cat /proc/self/cgroup; ulimit -n"}),
        )
        .await;
    let stdout = out["stdout"].as_str().unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(":pids:") && l.ends_with(&name)),
        "{stdout}"
    );
    let nofile: u64 = stdout.lines().last().unwrap().parse().unwrap();
    assert!(
        nofile <= 65_536,
        "user processes keep a lower open-file limit: {nofile}"
    );
    let (status, _) = agent.post_json("/commands/background", fork_bomb()).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let current: u32 = std::fs::read_to_string(cgroup.dir.join("pids.current"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(current >= 60, "the bomb fills the user cgroup: {current}");
    // The agent is outside it: it answers, and refuses new user processes with a clear code.
    for _ in 0..5 {
        let started = Instant::now();
        let (status, _) = agent.get_json("/health").await;
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    let (status, res) = agent
        .post_json("/commands/run", json!({"command": "true"}))
        .await;
    assert!(
        status == 200 || (status, error_code(&res)) == (503, "RESOURCE_EXHAUSTED"),
        "{status} {res}"
    );
    let (status, res) = agent.post_json("/processes/kill-all", json!({})).await;
    assert_eq!(status, 200, "{res}");
    let (status, out) = agent
        .post_json("/commands/run", json!({"command": "echo back"}))
        .await;
    assert_eq!(
        (status, out["stdout"].as_str()),
        (200, Some("back\n")),
        "{out}"
    );
}

/// User code starts with an empty bounding set: nothing it execs can gain a capability.
#[tokio::test]
async fn user_code_has_an_empty_bounding_set() {
    let agent = TestAgent::start().await;
    let out = agent
        .exec("bash", "grep -E '^Cap(Bnd|Eff|Prm):' /proc/self/status")
        .await;
    let text = out["stdout"].as_str().unwrap();
    assert_eq!(text.lines().count(), 3, "{out}");
    assert!(
        text.lines().all(|l| l.ends_with("0000000000000000")),
        "{text}"
    );
}
