//! The listener's limits on the real agent: a trickled request head is cut by the header timeout, a
//! trickled upload by the minimum body rate, and WebSockets over the cap are refused before upgrading.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::helpers::{Options, TestAgent, error_code};

fn with_env(env: &[(&'static str, &str)]) -> Options {
    Options {
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        ..Options::default()
    }
}

#[tokio::test]
async fn a_request_head_trickled_one_line_at_a_time_is_cut_by_the_header_timeout() {
    let agent = TestAgent::start_with(with_env(&[("WARREN_AGENT_HEADER_READ_TIMEOUT", "2")])).await;
    let mut tcp = TcpStream::connect(("127.0.0.1", agent.port)).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let mut line = 0;
    let closed = loop {
        tokio::select! {
            read = tcp.read(&mut buf) => match read {
                Ok(0) | Err(_) => break started.elapsed(),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                line += 1;
                // A peer that already closed may refuse the write; the read then sees the end.
                let _ = tcp.write_all(format!("X-Line-{line}: 1\r\n").as_bytes()).await;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never cut");
    };
    assert!(closed >= Duration::from_secs(2), "cut early: {closed:?}");
    assert!(closed < Duration::from_secs(4), "cut late: {closed:?}");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_upload_slower_than_the_minimum_rate_is_cut_with_408() {
    let agent = TestAgent::start_with(with_env(&[
        ("WARREN_AGENT_BODY_MIN_RATE", "1000"),
        ("WARREN_AGENT_BODY_RATE_WINDOW", "1"),
    ]))
    .await;
    // 20 bytes every 200 ms: 100 bytes a second, a tenth of the minimum.
    let trickle = futures::stream::unfold(0, |sent| async move {
        if sent == 100 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok::<_, std::io::Error>(vec![b'x'; 20]), sent + 1))
    });
    let head = "--b\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\nslow.bin\r\n--b\r\n\
                Content-Disposition: form-data; name=\"file\"; filename=\"slow.bin\"\r\n\r\n";
    let body = futures::StreamExt::chain(
        futures::stream::iter([Ok(head.as_bytes().to_vec())]),
        trickle,
    );
    let started = Instant::now();
    let res = agent
        .post("/files/upload")
        .header("content-type", "multipart/form-data; boundary=b")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("an answer, not a hang");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(res.status(), 408);
    assert_eq!(res.headers()["connection"], "close");
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "REQUEST_TIMEOUT");
    assert!(!agent.workspace.join("slow.bin").exists());
}

async fn open_ws(agent: &TestAgent) -> Result<impl Sized, u16> {
    let mut req = format!("ws://127.0.0.1:{}/files/watch", agent.port)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", agent.token).parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

async fn active_streams(agent: &TestAgent, want: u64) {
    for _ in 0..200 {
        let (_, health) = agent.get_json("/health").await;
        if health["active_streams"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("active_streams never reached {want}");
}

#[tokio::test]
async fn websockets_over_the_cap_are_refused_with_429_until_one_closes() {
    let agent = TestAgent::start_with(with_env(&[("WARREN_AGENT_MAX_STREAMS", "2")])).await;
    let first = open_ws(&agent).await.expect("first");
    active_streams(&agent, 1).await;
    let _second = open_ws(&agent).await.expect("second");
    active_streams(&agent, 2).await;
    assert_eq!(open_ws(&agent).await.err(), Some(429));
    let res = agent
        .get("/files/watch")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "TOO_MANY_STREAMS");
    assert_eq!(body["details"]["limit"], 2);
    drop(first);
    active_streams(&agent, 1).await;
    open_ws(&agent).await.expect("a slot came back");
}
