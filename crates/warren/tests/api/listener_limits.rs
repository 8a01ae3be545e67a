//! The limits of `warren serve`'s one listener: a trickled request head is cut by the header
//! timeout, a trickled template upload by the minimum body rate (408), and a sandbox's cap on
//! requests and WebSockets through the router refuses the one over it (429 in the router's shape),
//! while the benchmark's 50 concurrent connections all pass under the default cap.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;
use test_support::spawn_app_with;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{assert_error, status_json};
use crate::router_support::{assert_router_error, spawn_router_app_with};

#[tokio::test]
async fn a_request_head_trickled_every_3s_is_cut_by_the_header_timeout() {
    let app = spawn_app_with(|s| s.server.header_read_timeout_seconds = 2).await;
    let mut tcp = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(3),
        Duration::from_secs(3),
    );
    let closed = loop {
        tokio::select! {
            read = tcp.read(&mut buf) => match read {
                Ok(0) | Err(_) => break started.elapsed(),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            _ = tick.tick() => {
                // Never reached when the timeout works; a closed peer may refuse the write.
                let _ = tcp.write_all(b"X-Trickle: 1\r\n").await;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never cut");
    };
    assert!(closed >= Duration::from_secs(2), "cut early: {closed:?}");
    assert!(closed < Duration::from_secs(3), "cut late: {closed:?}");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // The server still serves everyone else.
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn a_template_upload_trickled_below_the_minimum_rate_is_cut_with_408() {
    let uploads = tempfile::tempdir().unwrap();
    let app = spawn_app_with(|s| {
        s.server.body_min_bytes_per_second = 1000;
        s.server.body_rate_window_seconds = 1;
        s.templates.upload_dir = uploads.path().to_owned();
    })
    .await;
    let link = json!({"files_hash": "slow", "content_length": 10_000});
    let (status, offer) = status_json(
        app.post_json("/v1/templates/files/upload-link", &link)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{offer}");
    let url = offer["upload_url"].as_str().unwrap().to_owned();
    // 20 bytes every 200 ms: 100 bytes a second, a tenth of the minimum.
    let trickle = futures::stream::unfold(0, |sent| async move {
        if sent == 500 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok::<_, std::io::Error>(vec![b'x'; 20]), sent + 1))
    });
    let started = Instant::now();
    let r = app
        .client
        .put(&url)
        .body(reqwest::Body::wrap_stream(trickle))
        .send()
        .await
        .expect("an answer, not a hang");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.headers()["connection"], "close");
    assert_error(r, 408, "REQUEST_TIMEOUT").await;
    let (_, again) = status_json(
        app.post_json("/v1/templates/files/upload-link", &link)
            .await,
    )
    .await;
    assert_eq!(again["present"], false, "a cut upload is not kept: {again}");
}

#[tokio::test]
async fn fifty_concurrent_requests_to_one_sandbox_pass_under_the_default_cap() {
    let r = spawn_router_app_with(|_| {}).await;
    assert_eq!(r.app.settings.router.max_connections_per_sandbox, 256);
    let sb = r.sandbox(json!({})).await;
    // Each on its own connection, all in flight at once: a command that takes 300 ms.
    let sent = (0..50).map(|_| {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let req = client
            .post(r.app.url("/commands/run"))
            .header("host", r.host(&sb.id))
            .bearer_auth(&sb.token)
            .json(&json!({"command": "sleep 0.3"}));
        async move { req.send().await.map(|res| res.status().as_u16()) }
    });
    let statuses = join_all(sent).await;
    assert!(
        statuses.iter().all(|s| matches!(s, Ok(200))),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn the_request_over_a_sandboxs_cap_is_refused_429_and_others_are_not() {
    let r = spawn_router_app_with(|s| s.router.max_connections_per_sandbox = 3).await;
    let sb = r.sandbox(json!({})).await;
    let other = r.sandbox(json!({})).await;
    let host = r.host(&sb.id);
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(
            r.ws(&host, "/files/watch", Some(&sb.token))
                .await
                .expect("under the cap"),
        );
    }
    let refused = r.agent(&sb, Method::GET, "/health").send().await.unwrap();
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = assert_router_error(refused, 429, "TOO_MANY_CONNECTIONS").await;
    assert_eq!(body["details"]["limit"], 3);
    assert!(
        r.ws(&host, "/files/watch", Some(&sb.token)).await.is_err(),
        "a fourth WebSocket is refused too"
    );
    let elsewhere = r
        .agent(&other, Method::GET, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 200, "another sandbox has its own slots");
    drop(open.pop());
    let mut freed = false;
    for _ in 0..100 {
        if r.agent(&sb, Method::GET, "/health")
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(freed, "a closed WebSocket gives its slot back");
}
