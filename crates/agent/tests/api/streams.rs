use serde_json::json;

use crate::helpers::TestAgent;

fn joined(frames: &[serde_json::Value], ty: &str) -> String {
    frames
        .iter()
        .filter(|f| f["type"] == ty)
        .map(|f| f["data"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn execute_stream_sends_output_result_then_complete() {
    let agent = TestAgent::start().await;
    let mut ws = agent.ws("/execute/stream").await;
    ws.send_json(json!({"type": "execute", "language": "python",
                        "code": "import sys\nfor i in range(3): print(i, flush=True)\nprint('e', file=sys.stderr)\nsys.exit(2)"}))
        .await;
    let frames = ws.until("complete").await;
    assert_eq!(joined(&frames, "stdout"), "0\n1\n2\n");
    assert_eq!(joined(&frames, "stderr"), "e\n");
    let result = frames.iter().find(|f| f["type"] == "result").unwrap();
    assert_eq!(result["exit_code"], 2);
    assert_eq!(frames.last().unwrap()["success"], false);
    assert_eq!(ws.next().await, None, "closed after complete");
}

#[tokio::test]
async fn large_output_is_split_into_bounded_frames() {
    let agent = TestAgent::start().await;
    let mut ws = agent.ws("/commands/stream").await;
    ws.send_json(json!({"command": "head -c 3000000 /dev/zero | tr '\\0' x"}))
        .await;
    let frames = ws.until("complete").await;
    assert_eq!(joined(&frames, "stdout").len(), 3_000_000);
    assert_eq!(frames.last().unwrap()["success"], true);
}

#[tokio::test]
async fn malformed_stream_requests_get_an_error_frame() {
    let agent = TestAgent::start().await;
    let mut ws = agent.ws("/execute/stream").await;
    ws.send_text("{not json").await;
    let frames = ws.until("complete").await;
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["code"], "INVALID_JSON");
    let mut ws = agent.ws("/execute/stream").await;
    ws.send_json(json!({"type": "execute", "language": "cobol", "code": "x"}))
        .await;
    let frames = ws.until("complete").await;
    assert_eq!(frames[0]["code"], "INVALID_REQUEST");
    // The agent is unharmed.
    assert_eq!(agent.exec("bash", "echo ok").await["stdout"], "ok\n");
}

#[tokio::test]
async fn terminal_is_a_real_pty_and_ends_with_exit() {
    let agent = TestAgent::start().await;
    let mut ws = agent.ws("/terminal").await;
    ws.send_json(json!({"type": "resize", "cols": 123, "rows": 45}))
        .await;
    ws.send_text("garbage").await;
    ws.send_json(json!({"type": "input", "data": "stty size; tty; echo mark-$((6*7))\n"}))
        .await;
    let mut output = String::new();
    let mut saw_error = false;
    while !output.contains("mark-42") {
        let f = ws.next().await.expect("terminal output");
        match f["type"].as_str().unwrap() {
            "output" => output.push_str(f["data"].as_str().unwrap()),
            "error" => saw_error = f["code"] == "INVALID_JSON",
            other => panic!("unexpected {other} frame"),
        }
    }
    assert!(saw_error, "malformed frame answered with an error frame");
    assert!(output.contains("45 123"), "{output}");
    assert!(output.contains("/dev/pts/"), "{output}");
    ws.send_json(json!({"type": "input", "data": "exit 7\n"}))
        .await;
    let frames = ws.until("exit").await;
    assert_eq!(frames.last().unwrap()["code"], 7);
}

#[tokio::test]
async fn files_watch_reports_changes() {
    let agent = TestAgent::start().await;
    let mut ws = agent.ws("/files/watch").await;
    ws.send_json(json!({"action": "watch", "path": "/definitely/missing"}))
        .await;
    let err = ws.next().await.unwrap();
    assert_eq!(
        (err["type"].clone(), err["code"].clone()),
        (json!("error"), json!("FILE_NOT_FOUND"))
    );
    ws.send_json(json!({"action": "watch", "path": agent.workspace.display().to_string()}))
        .await;
    // The watch is in place once a probe write is seen.
    let target = agent.workspace.join("new.txt");
    let mut created = false;
    for _ in 0..50 {
        std::fs::write(&target, "x").unwrap();
        let f = tokio::time::timeout(std::time::Duration::from_millis(200), ws.next()).await;
        if let Ok(Some(f)) = f {
            assert_eq!(f["type"], "change");
            assert_eq!(f["path"], target.display().to_string());
            created = true;
            break;
        }
    }
    assert!(created, "no change event");
    std::fs::remove_file(&target).unwrap();
    let mut deleted = false;
    while let Ok(Some(f)) = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await
    {
        if f["event"] == "deleted" {
            deleted = true;
            break;
        }
    }
    assert!(deleted);
}
