use serde_json::json;

use crate::helpers::{TestAgent, error_code};

#[tokio::test]
async fn info_metrics_processes_sessions_cache() {
    let agent = TestAgent::start().await;
    for path in [
        "/info",
        "/ping",
        "/system",
        "/metrics",
        "/metrics/snapshot",
        "/processes",
        "/jupyter/sessions",
        "/cache/stats",
    ] {
        let (status, _) = agent.get_json(path).await;
        assert_eq!(status, 200, "{path}");
    }
    let (_, snap) = agent.get_json("/metrics/snapshot").await;
    assert!(snap["total_requests"].as_u64().unwrap() >= 4);
    assert!(snap["system"]["memory"]["total"].as_u64().unwrap() > 0);
    agent.started_kernel().await;
    agent.exec("python", "1").await;
    let (_, sessions) = agent.get_json("/jupyter/sessions").await;
    assert_eq!(sessions["sessions"][0]["execution_state"], "idle");
    let (_, procs) = agent.get_json("/processes").await;
    let agent_pid = agent.pid();
    assert!(
        procs["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == agent_pid)
    );
    let (_, stats) = agent.get_json("/cache/stats").await;
    assert!(stats["size"].as_u64().unwrap() > 0);
    let (status, cleared) = agent.post_json("/cache/clear", json!(null)).await;
    assert_eq!(status, 200);
    assert!(cleared["entries_removed"].as_u64().unwrap() > 0);
    let res = agent.get("/metrics/prometheus").send().await.unwrap();
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("warren_agent_requests_total")
    );
}

#[tokio::test]
async fn desktop_is_not_available() {
    let agent = TestAgent::start().await;
    let (status, body) = agent.get_json("/desktop/vnc/status").await;
    assert_eq!((status, error_code(&body)), (501, "DESKTOP_NOT_AVAILABLE"));
    assert!(body["details"]["missing_dependencies"].is_array());
    let (status, _) = agent
        .post_json("/desktop/mouse/click", json!({"x": 1, "y": 2}))
        .await;
    assert_eq!(status, 501);
}

#[tokio::test]
async fn async_execution_calls_back_with_a_signature() {
    use hmac::Mac;
    let agent = TestAgent::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (status, body) = agent
        .post_json(
            "/execute/async",
            json!({"language": "bash", "code": "echo async-out",
            "callback_url": url, "callback_headers": {"X-Custom": "c1"},
            "callback_signature_secret": "whsec"}),
        )
        .await;
    assert_eq!((status, body["status"].clone()), (200, json!("queued")));
    let (mut sock, _) = tokio::time::timeout(std::time::Duration::from_secs(20), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let raw = read_http_request(&mut sock).await;
    let (head, payload) = raw.split_at(raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4);
    let head = String::from_utf8_lossy(head).to_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(header("x-custom"), "c1");
    let ts = header("x-hopx-timestamp");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"whsec").unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(payload);
    assert_eq!(
        header("x-hopx-signature"),
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let body: serde_json::Value = serde_json::from_slice(payload).unwrap();
    assert_eq!(body["status"], "completed");
    assert_eq!(body["stdout"], "async-out\n");
    use tokio::io::AsyncWriteExt;
    sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
}

async fn read_http_request(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
        assert!(n > 0, "connection closed early");
    }
}
