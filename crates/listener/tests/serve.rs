//! `listener::serve` over real TCP: the connection cap counts upgraded connections until they close,
//! and an idle connection is closed after the idle timeout.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// `GET /` answers `ok`, `GET /slow` too after 600 ms; `GET /upgrade` switches protocols and then
/// echoes bytes.
fn app() -> Router {
    async fn upgrade(mut req: Request) -> Response {
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on.await {
                let mut io = hyper_util::rt::TokioIo::new(upgraded);
                let mut buf = [0u8; 64];
                while let Ok(n @ 1..) = io.read(&mut buf).await {
                    let _ = io.write_all(&buf[..n]).await;
                }
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", "echo")
            .body(Body::empty())
            .unwrap()
    }
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "ok"
            }),
        )
        .route("/upgrade", get(upgrade))
}

async fn start(max_connections: usize, idle: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let limits = listener::Limits {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: idle,
        max_connections,
        refusal: listener::refusal(StatusCode::SERVICE_UNAVAILABLE, b"{\"code\":\"FULL\"}"),
    };
    let app = app();
    tokio::spawn(listener::serve(
        listener,
        limits,
        move |_| app.clone(),
        std::future::pending(),
    ));
    port
}

/// Sends `request` and reads until `until` appears or the connection closes.
async fn exchange(tcp: &mut TcpStream, request: &str, until: &str) -> String {
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains(until) {
        match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no answer: {}", String::from_utf8_lossy(&got)),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

const GET: &str = "GET / HTTP/1.1\r\nhost: x\r\n\r\n";

#[tokio::test]
async fn an_upgraded_connection_keeps_its_slot_until_it_closes() {
    let port = start(1, Duration::from_secs(60)).await;
    let mut upgraded = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = "GET /upgrade HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n";
    assert!(
        exchange(&mut upgraded, head, "\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 101")
    );
    assert_eq!(exchange(&mut upgraded, "ping", "ping").await, "ping");

    let mut second = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let refused = exchange(&mut second, GET, "FULL").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("connection: close"), "{refused}");
    assert!(refused.ends_with("{\"code\":\"FULL\"}"), "{refused}");

    drop(upgraded);
    let mut served = String::new();
    for _ in 0..100 {
        let mut third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        served = exchange(&mut third, GET, "ok").await;
        if served.starts_with("HTTP/1.1 200") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the slot never came back: {served}");
}

#[tokio::test]
async fn a_connection_idle_past_the_timeout_is_closed_and_a_busy_one_is_not() {
    let port = start(8, Duration::from_millis(300)).await;
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    for _ in 0..4 {
        // Each request within the timeout keeps the connection.
        assert!(
            exchange(&mut tcp, GET, "ok")
                .await
                .starts_with("HTTP/1.1 200")
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let slow = "GET /slow HTTP/1.1\r\nhost: x\r\n\r\n";
    assert!(
        exchange(&mut tcp, slow, "ok")
            .await
            .starts_with("HTTP/1.1 200"),
        "a request in flight longer than the idle timeout is not cut"
    );
    let idle = Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "closed, not {read:?}");
    let waited = idle.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}
