use serde_json::json;

use crate::helpers::{TestAgent, error_code};

#[tokio::test]
async fn commands_run_in_both_forms_with_env_and_workdir() {
    let agent = TestAgent::start().await;
    let (status, out) = agent
        .post_json(
            "/commands/run",
            json!({"command": "bash", "args": ["-c", "echo $X; pwd"],
                                           "workdir": "/tmp", "env": {"X": "from-request"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(out["stdout"], "from-request\n/tmp\n");
    assert_eq!(out["exit_code"], 0);
    let (status, out) = agent
        .post_json(
            "/commands/run",
            json!({"command": "ls /nonexistent", "working_dir": "/"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(out["exit_code"], 0);
    assert_eq!(out["success"], false);
    let (status, body) = agent
        .post_json("/commands/run", json!({"timeout": 5}))
        .await;
    assert_eq!((status, error_code(&body)), (400, "MISSING_PARAMETER"));
    let (status, body) = agent
        .post_json(
            "/commands/run",
            json!({"command": "no-such-binary-x", "args": []}),
        )
        .await;
    assert_eq!((status, error_code(&body)), (400, "COMMAND_FAILED"));
    let (status, started) = agent
        .post_json("/commands/background", json!({"command": "sleep 1"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(started["status"], "running");
}

/// User code is the out-of-memory killer's first choice, and runs as the sandbox user (uid 1000 when
/// the agent is root, as in a sandbox).
#[tokio::test]
async fn user_code_is_oom_killed_first_and_unprivileged() {
    let agent = TestAgent::start().await;
    let (status, out) = agent
        .post_json(
            "/commands/run",
            json!({"command": "cat /proc/self/oom_score_adj; id -u; id -G"}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let stdout = out["stdout"].as_str().unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "1000", "{stdout}");
    if nix::unistd::geteuid().is_root() {
        assert_eq!(&lines[1..], ["1000", "1000"], "{stdout}");
    }
}

#[tokio::test]
async fn global_env_applies_to_later_runs() {
    let agent = TestAgent::start().await;
    let res = agent
        .http
        .patch(agent.url("/env"))
        .bearer_auth(&agent.token)
        .json(&json!({"env_vars": {"A": "1", "B": "2"}, "merge": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = agent
        .http
        .patch(agent.url("/env"))
        .bearer_auth(&agent.token)
        .json(&json!({"env_vars": {"B": "3"}, "merge": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, env) = agent.get_json("/env").await;
    assert_eq!(env["env_vars"], json!({"A": "1", "B": "3"}));
    assert_eq!(agent.exec("bash", "echo $A$B").await["stdout"], "13\n");
    assert_eq!(
        agent
            .exec("python", "import os; print(os.environ['B'])")
            .await["stdout"],
        "3\n"
    );
    let (status, out) = agent
        .post_json(
            "/execute",
            json!({"language": "bash", "code": "echo $B", "env": {"B": "req"}}),
        )
        .await;
    assert_eq!((status, out["stdout"].clone()), (200, json!("req\n")));
    let res = agent
        .http
        .put(agent.url("/env"))
        .bearer_auth(&agent.token)
        .json(&json!({"env_vars": {"C": "only"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, env) = agent.get_json("/env").await;
    assert_eq!(env["env_vars"], json!({"C": "only"}));
    let res = agent.delete("/env").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (_, env) = agent.get_json("/env").await;
    assert_eq!(env["env_vars"], json!({}));
    // The agent's own settings never reach user code.
    assert_eq!(
        agent
            .exec("bash", "env | grep -c WARREN_AGENT_ || true")
            .await["stdout"],
        "0\n"
    );
    let (status, body) = agent
        .http
        .put(agent.url("/env"))
        .bearer_auth(&agent.token)
        .body("[1,2")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map(|s| (s, ()))
        .unwrap();
    assert_eq!((status, body), (400, ()));
}
