use std::time::Duration;

use serde_json::json;

use crate::helpers::{Options, TestAgent, error_code};

#[tokio::test]
async fn python_kernel_keeps_state_and_failures_are_200() {
    let agent = TestAgent::start().await;
    let first = agent
        .exec("python", "import math\nx = 20\nprint('hi')")
        .await;
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(first["stdout"], "hi\n");
    let second = agent
        .exec("python3", "print(x * 2, math.pi > 3)\nx + 1")
        .await;
    assert_eq!(second["stdout"], "40 True\n");
    assert_eq!(second["result"], "21");
    let failed = agent.exec("py", "1/0").await;
    assert_eq!(failed["success"], false);
    assert_eq!(failed["exit_code"], 1);
    assert!(
        failed["stderr"]
            .as_str()
            .unwrap()
            .contains("ZeroDivisionError")
    );
    // Output written by subprocesses of the kernel is captured too.
    let shell = agent
        .exec("python", "import os\nos.system('echo from-child')")
        .await;
    assert_eq!(shell["stdout"], "from-child\n");
}

#[tokio::test]
async fn languages_and_aliases_run_as_the_sandbox_user() {
    let agent = TestAgent::start().await;
    for lang in ["bash", "sh", "shell"] {
        let out = agent.exec(lang, "echo $(id -u):$(pwd)").await;
        let expected = format!("1000:{}\n", agent.workspace.display());
        assert_eq!(out["stdout"], expected.as_str(), "{lang}");
    }
    let out = agent.exec("python", "import os; print(os.getuid())").await;
    assert_eq!(out["stdout"], "1000\n");
    let (_, health) = agent.get_json("/health").await;
    if health["features"]["languages"]
        .as_array()
        .unwrap()
        .contains(&json!("javascript"))
    {
        for lang in ["javascript", "js", "node", "nodejs"] {
            let out = agent.exec(lang, "console.log(6 * 7)").await;
            assert_eq!(out["stdout"], "42\n", "{lang}");
        }
    }
    let out = agent.exec("bash", "echo oops >&2; exit 3").await;
    assert_eq!(
        (out["success"].clone(), out["exit_code"].clone()),
        (json!(false), json!(3))
    );
    assert_eq!(out["stderr"], "oops\n");
}

#[tokio::test]
async fn bad_execute_requests_get_the_error_shape() {
    let agent = TestAgent::start().await;
    let (status, body) = agent
        .post_json("/execute", json!({"language": "cobol", "code": "x"}))
        .await;
    assert_eq!((status, error_code(&body)), (400, "INVALID_REQUEST"));
    let (status, body) = agent
        .post_json("/execute", json!({"language": "python"}))
        .await;
    assert_eq!((status, error_code(&body)), (400, "MISSING_PARAMETER"));
    let res = agent
        .post("/execute")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "INVALID_JSON");
    let (status, body) = agent
        .post_json(
            "/execute",
            json!({"language": "bash", "code": "true", "workdir": "/nonexistent"}),
        )
        .await;
    assert_eq!((status, error_code(&body)), (400, "DIRECTORY_NOT_FOUND"));
    let (status, body) = agent.get_json("/execute").await;
    assert_eq!((status, error_code(&body)), (405, "METHOD_NOT_ALLOWED"));
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let agent = TestAgent::start().await;
    let pidfile = agent.workspace.join("bg.pid");
    let code = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
    let (status, body) = agent
        .post_json(
            "/execute",
            json!({"language": "bash", "code": code, "timeout": 1}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], false);
    assert_eq!(body["exit_code"], 124);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut gone = false;
    for _ in 0..100 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "grandchild {pid} survived the timeout");
    // The kernel is interrupted on timeout and keeps working.
    let (_, body) = agent
        .post_json(
            "/execute",
            json!({"language": "python", "code": "import time\ntime.sleep(30)", "timeout": 1}),
        )
        .await;
    assert_eq!(body["exit_code"], 124);
    assert_eq!(
        agent.exec("python", "print('alive')").await["stdout"],
        "alive\n"
    );
}

#[tokio::test]
async fn output_is_capped_and_flagged() {
    let agent = TestAgent::start_with(Options {
        env: vec![("WARREN_AGENT_OUTPUT_LIMIT", "1000".into())],
        ..Options::default()
    })
    .await;
    let out = agent
        .exec("bash", "head -c 100000 /dev/zero | tr '\\0' a")
        .await;
    assert_eq!(out["stdout"].as_str().unwrap().len(), 1000);
    assert_eq!(out["truncated"], true);
    let out = agent.exec("python", "print('b' * 5000)").await;
    assert_eq!(out["stdout"].as_str().unwrap().len(), 1000);
    assert_eq!(out["truncated"], true);
}

#[tokio::test]
async fn background_processes_are_listed_and_killed() {
    let agent = TestAgent::start().await;
    let (status, started) = agent
        .post_json(
            "/execute/background",
            json!({"language": "bash", "code": "sleep 300", "name": "sleeper"}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["process_id"].as_str().unwrap().to_owned();
    let (_, list) = agent.get_json("/execute/processes").await;
    let entry = list["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["process_id"] == id.as_str())
        .cloned();
    assert_eq!(entry.unwrap()["status"], "running");
    let (status, killed) = agent
        .post_json(&format!("/execute/kill/{id}"), json!(null))
        .await;
    assert_eq!((status, killed["status"].clone()), (200, json!("killed")));
    let (status, body) = agent.post_json("/execute/kill/nope", json!(null)).await;
    assert_eq!((status, error_code(&body)), (404, "PROCESS_NOT_FOUND"));
    let res = agent
        .delete("/execute/kill")
        .json(&json!({"process_id": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let (_, done) = agent
        .post_json(
            "/execute/background",
            json!({"language": "python", "code": "print('bg')"}),
        )
        .await;
    let done_id = done["process_id"].as_str().unwrap().to_owned();
    let mut finished = None;
    for _ in 0..200 {
        let (_, list) = agent.get_json("/execute/processes").await;
        let p = list["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["process_id"] == done_id.as_str())
            .cloned()
            .unwrap();
        if p["status"] != "running" {
            finished = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let p = finished.expect("background run finished");
    assert_eq!(p["status"], "completed");
    assert_eq!(p["stdout"], "bg\n");
}
