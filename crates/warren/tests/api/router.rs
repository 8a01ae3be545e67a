//! The router over real TCP: sandbox hosts reach a real `warren-agent` (and stand-in apps on sandbox
//! ports) through `warren serve`'s port, with routes from Postgres kept current by NOTIFY.

use futures::{SinkExt as _, StreamExt as _};
use http_body_util::BodyExt as _;
use hyper::client::conn::http1::SendRequest;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;

use api_types::agent::DESKTOP_VIEWER_PORT;

use crate::router_support::{
    assert_router_error, spawn_router_app, spawn_router_app_with, stand_in_app, stand_in_app_on,
    wait_route_listeners,
};

#[tokio::test]
async fn agent_hosts_need_the_token_and_reach_the_agent() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;

    let health = r.agent(&sb, Method::GET, "/health").send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().get("x-warren-router").is_none());
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "healthy");
    let alias = r.host(&format!("7777-{}", sb.id));
    let run = r
        .to_host(Method::POST, &alias, "/execute")
        .bearer_auth(&sb.token)
        .json(&json!({"language": "python", "code": "print(1)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200);
    assert_eq!(run.json::<Value>().await.unwrap()["stdout"], "1\n");

    let host = r.host(&sb.id);
    let anonymous = r
        .to_host(Method::GET, &host, "/health")
        .send()
        .await
        .unwrap();
    assert_router_error(anonymous, 401, "TOKEN_INVALID").await;
    let forged = r
        .to_host(Method::GET, &host, "/health")
        .bearer_auth(sandbox_token::TokenKey::generate().sign(&sb.id, i64::MAX / 2))
        .send()
        .await
        .unwrap();
    assert_router_error(forged, 401, "TOKEN_INVALID").await;
    let missing = r
        .to_host(Method::GET, &r.host("zzzzzzzzzzzz"), "/health")
        .bearer_auth(&sb.token)
        .send()
        .await
        .unwrap();
    assert_router_error(missing, 404, "SANDBOX_NOT_FOUND").await;

    // Any other host is still the control-plane API.
    let api = r.app.get("/v1/sandboxes").await;
    assert_eq!(api.status(), 200);
    let not_a_sandbox = r
        .to_host(Method::GET, &r.host("api"), "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(
        not_a_sandbox.json::<Value>().await.unwrap()["status"],
        "healthy"
    );
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    const SIZE: usize = 64 << 20;
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let chunk = vec![7u8; 1 << 20];
    let mut expected = Sha256::new();
    for _ in 0..SIZE / chunk.len() {
        expected.update(&chunk);
    }
    let stream = futures::stream::iter(
        (0..SIZE / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let part = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::wrap_stream(stream),
        SIZE as u64,
    )
    .file_name("big.bin");
    let form = reqwest::multipart::Form::new()
        .text("path", "big.bin")
        .part("file", part);
    let up = r
        .agent(&sb, Method::POST, "/files/upload")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200, "{:?}", up.text().await);

    let mut down = r
        .agent(&sb, Method::GET, "/files/download?path=big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 200);
    let mut got = Sha256::new();
    let mut len = 0;
    while let Some(bytes) = down.chunk().await.unwrap() {
        len += bytes.len();
        got.update(&bytes);
    }
    assert_eq!(len, SIZE);
    assert_eq!(got.finalize(), expected.finalize());
}

#[tokio::test]
async fn websockets_reach_the_agent() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let host = r.host(&sb.id);
    let refused = r.ws(&host, "/commands/stream", None).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(resp)) if resp.status() == 401),
        "{refused:?}"
    );
    let mut ws = r
        .ws(&host, "/commands/stream", Some(&sb.token))
        .await
        .expect("upgrade");
    let command = json!({"command": "head -c 300000 /dev/zero | tr '\\0' x"});
    ws.send(Message::Text(command.to_string().into()))
        .await
        .unwrap();
    let mut stdout = 0;
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(t) = msg else { continue };
        let frame: Value = serde_json::from_str(&t).unwrap();
        if frame["type"] == "stdout" {
            stdout += frame["data"].as_str().unwrap().len();
        }
        if frame["type"] == "complete" {
            assert_eq!(frame["success"], true, "{frame}");
            break;
        }
    }
    assert_eq!(stdout, 300_000);
}

#[tokio::test]
async fn port_previews_forward_http_and_websockets() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let (port, _) = stand_in_app().await;
    let host = r.host(&format!("{port}-{}", sb.id));

    let echo = r
        .to_host(Method::GET, &host, "/echo")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "1")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic eDp5")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-app-header", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 200);
    let h = echo.headers();
    assert_eq!(h["x-app"], "1");
    for hop in ["x-hop", "keep-alive"] {
        assert!(h.get(hop).is_none(), "{hop} reached the client");
    }
    assert_ne!(
        h.get("connection").map(|v| v.to_str().unwrap()),
        Some("x-hop")
    );
    let seen = echo.json::<Value>().await.unwrap()["headers"].clone();
    for hop in ["x-secret", "keep-alive", "te", "proxy-authorization"] {
        assert!(seen.get(hop).is_none(), "{hop} reached the app: {seen}");
    }
    assert_eq!(seen["x-app-header"], "kept");
    assert_eq!(seen["host"], host);
    assert_eq!(seen["x-forwarded-host"], host);
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-for"], "203.0.113.9, 127.0.0.1");

    let mut ws = r.ws(&host, "/ws", None).await.expect("upgrade");
    ws.send(Message::Text("ping".into())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Text("ping".into())
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nothing = r
        .to_host(Method::GET, &r.host(&format!("{closed}-{}", sb.id)), "/")
        .send()
        .await
        .unwrap();
    assert_router_error(nothing, 502, "SANDBOX_UNREACHABLE").await;
}

#[tokio::test]
async fn http2_clients_are_served() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let (port, _) = stand_in_app().await;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", r.app.port))
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("h2c handshake");
    tokio::spawn(conn);
    for (label, path, token) in [
        (format!("{port}-{}", sb.id), "/echo", None),
        (sb.id.clone(), "/health", Some(&sb.token)),
    ] {
        let mut req = http::Request::get(format!("http://{}{path}", r.host(&label)));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = send
            .send_request(req.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{label}{path}");
        assert_eq!(resp.version(), http::Version::HTTP_2);
    }
}

#[tokio::test]
async fn private_previews_need_a_preview_link_not_the_agent_token() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({"private_previews": true})).await;
    let (port, _) = stand_in_app().await;
    let host = r.host(&format!("{port}-{}", sb.id));
    let anonymous = r.to_host(Method::GET, &host, "/echo").send().await.unwrap();
    assert_router_error(anonymous, 401, "TOKEN_INVALID").await;
    let agent_token = r
        .to_host(Method::GET, &host, "/echo")
        .bearer_auth(&sb.token)
        .send()
        .await
        .unwrap();
    assert_router_error(agent_token, 401, "TOKEN_INVALID").await;
    let agent_token_in_query = r
        .to_host(Method::GET, &host, &format!("/echo?token={}", sb.token))
        .send()
        .await
        .unwrap();
    assert_router_error(agent_token_in_query, 401, "TOKEN_INVALID").await;

    let link = r.preview_link(&sb, json!({"port": port})).await;
    let token = link["token"].as_str().unwrap();
    let bearer = r
        .to_host(Method::GET, &host, "/echo")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let query = r
        .to_host(Method::GET, &host, &format!("/echo?warren_preview={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200);
    let cookie = query.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with(&format!("warren_preview={token}; Path=/; Max-Age=")),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let with_cookie = r
        .to_host(Method::GET, &host, "/echo")
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    assert!(
        r.ws(&host, "/ws", None).await.is_err(),
        "WebSocket without a preview token"
    );
    assert!(
        r.ws(&host, "/ws", Some(&sb.token)).await.is_err(),
        "WebSocket with the agent token"
    );
    assert!(r.ws(&host, "/ws", Some(token)).await.is_ok());
}

/// Whoever reaches the desktop viewer sees the screen and drives it: its port needs a preview token
/// (bearer, `?warren_preview=`, or the cookie that sets) even where the other previews are public.
#[tokio::test]
async fn the_desktop_viewer_port_needs_a_preview_link_even_with_public_previews() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let (port, _) = stand_in_app().await;
    let other = r
        .to_host(Method::GET, &r.host(&format!("{port}-{}", sb.id)), "/echo")
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        200,
        "the sandbox's other previews are public"
    );

    let host = r.host(&format!("{DESKTOP_VIEWER_PORT}-{}", sb.id));
    let anonymous = r.to_host(Method::GET, &host, "/echo").send().await.unwrap();
    assert_router_error(anonymous, 401, "TOKEN_INVALID").await;
    let agent_token = r
        .to_host(Method::GET, &host, "/echo")
        .bearer_auth(&sb.token)
        .send()
        .await
        .unwrap();
    assert_router_error(agent_token, 401, "TOKEN_INVALID").await;
    let other_link = r.preview_link(&sb, json!({"port": port})).await;
    let other_token = other_link["token"].as_str().unwrap();
    let wrong_port = r
        .to_host(Method::GET, &host, "/echo")
        .bearer_auth(other_token)
        .send()
        .await
        .unwrap();
    assert_router_error(wrong_port, 403, "TOKEN_WRONG_PORT").await;
    let wrong_port_query = r
        .to_host(
            Method::GET,
            &host,
            &format!("/echo?warren_preview={other_token}"),
        )
        .send()
        .await
        .unwrap();
    assert_router_error(wrong_port_query, 403, "TOKEN_WRONG_PORT").await;
    assert!(
        r.ws(&host, "/ws", None).await.is_err(),
        "WebSocket without a preview token"
    );

    let link = r
        .preview_link(&sb, json!({"port": DESKTOP_VIEWER_PORT}))
        .await;
    assert_eq!(
        link["url"].as_str().unwrap(),
        format!(
            "http://{host}/?warren_preview={}",
            link["token"].as_str().unwrap()
        )
    );
    let token = link["token"].as_str().unwrap();
    // The viewer's port on the agent's address: a stand-in app where it is free; else (something
    // else holds it) an admitted request gets whatever answers there, or the router's 502, but no
    // refusal.
    let served = tokio::net::TcpListener::bind(("127.0.0.1", DESKTOP_VIEWER_PORT))
        .await
        .ok()
        .map(stand_in_app_on)
        .is_some();
    let admitted = |resp: reqwest::Response| async move {
        if served {
            assert_eq!(resp.status(), 200);
        } else {
            assert!(![401, 403].contains(&resp.status().as_u16()), "{resp:?}");
        }
    };
    let bearer = r
        .to_host(Method::GET, &host, "/echo")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    admitted(bearer).await;
    let query = r
        .to_host(Method::GET, &host, &format!("/echo?warren_preview={token}"))
        .send()
        .await
        .unwrap();
    if served {
        let cookie = query.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.starts_with(&format!("warren_preview={token}; Path=/; Max-Age=")),
            "{cookie}"
        );
        admitted(query).await;
        let with_cookie = r
            .to_host(Method::GET, &host, "/echo")
            .header("cookie", cookie.split(';').next().unwrap())
            .send()
            .await
            .unwrap();
        admitted(with_cookie).await;
        assert!(r.ws(&host, "/ws", Some(token)).await.is_ok());
    } else {
        admitted(query).await;
        let with_cookie = r
            .to_host(Method::GET, &host, "/echo")
            .header("cookie", format!("warren_preview={token}"))
            .send()
            .await
            .unwrap();
        admitted(with_cookie).await;
    }
}

#[tokio::test]
async fn paused_sandboxes_refuse_and_their_tunnels_close() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let (port, _) = stand_in_app().await;
    let preview = r.host(&format!("{port}-{}", sb.id));
    let mut ws = r.ws(&preview, "/ws", None).await.expect("upgrade");
    ws.send(Message::Text("before".into())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::Text("before".into())
    );

    let paused = r
        .app
        .post_empty(&format!("/v1/sandboxes/{}/pause", sb.id))
        .await;
    assert_eq!(paused.status(), 200);
    // The tunnel is cut by the change notification (the event this waits for; the timeout only
    // turns a hang into a failure).
    let cut = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(Ok(msg)) = ws.next().await {
            assert!(msg.is_close(), "a frame after the pause: {msg:?}");
        }
    });
    cut.await.expect("the tunnel stays open after the pause");
    let refused = r.agent(&sb, Method::GET, "/health").send().await.unwrap();
    let body = assert_router_error(refused, 409, "SANDBOX_NOT_RUNNING").await;
    assert_eq!(body["details"]["status"], "paused");

    let resumed = r
        .app
        .post_empty(&format!("/v1/sandboxes/{}/resume", sb.id))
        .await;
    assert_eq!(resumed.status(), 200);
    let mut status = 0;
    for _ in 0..200 {
        status = r
            .agent(&sb, Method::GET, "/health")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status, 200, "answers again after resume");
}

#[tokio::test]
async fn a_deleted_sandbox_stops_answering_on_every_replica() {
    // An hour of cache: only the notification can make the replicas forget.
    let r = spawn_router_app_with(|s| s.router.cache_ttl_seconds = 3600).await;
    let second = control_plane::startup::Application::build(
        r.app.settings.clone(),
        Some(r.app.runtime.clone()),
    )
    .await
    .expect("second replica")
    .without_background_tasks();
    let second_port = second.port();
    tokio::spawn(second.run_until_stopped());
    wait_route_listeners(&r.app.pool, 2).await;

    let sb = r.sandbox(json!({})).await;
    let hosts = [r.app.port, second_port].map(|p| {
        let url = format!("http://127.0.0.1:{p}/health");
        let host = format!("{}.sandbox.localhost:{p}", sb.id);
        r.app
            .client
            .get(url)
            .header("host", host)
            .bearer_auth(&sb.token)
    });
    for h in &hosts {
        let warm = h.try_clone().unwrap().send().await.unwrap();
        assert_eq!(warm.status(), 200, "cached as running");
    }
    let started = std::time::Instant::now();
    assert_eq!(
        r.app
            .delete(&format!("/v1/sandboxes/{}", sb.id))
            .await
            .status(),
        200
    );
    for h in &hosts {
        let mut refused = None;
        for _ in 0..500 {
            let resp = h.try_clone().unwrap().send().await.unwrap();
            if resp.status() != 200 {
                refused = Some(resp);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let resp = refused.expect("the replica kept answering for the deleted sandbox");
        assert_router_error(resp, 404, "SANDBOX_NOT_FOUND").await;
    }
    println!(
        "both replicas refused {:?} after the delete",
        started.elapsed()
    );
}

#[tokio::test]
async fn client_disconnects_reach_the_sandbox() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let (port, mut events) = stand_in_app().await;
    let host = r.host(&format!("{port}-{}", sb.id));

    // An upload that stops halfway: the app sees its body break.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", r.app.port))
        .await
        .unwrap();
    let head = format!("POST /sink HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1000000\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&[b'x'; 4096]).await.unwrap();
    drop(tcp);
    assert_eq!(events.recv().await, Some("upload broken"));

    // An endless download the client stops reading: the app's body is dropped.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", r.app.port))
        .await
        .unwrap();
    let head = format!("GET /endless HTTP/1.1\r\nHost: {host}\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut first = [0u8; 1024];
    let n = tcp.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    drop(tcp);
    assert_eq!(events.recv().await, Some("download dropped"));
}

#[tokio::test]
async fn a_keep_alive_client_keeps_its_upstream_connection() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let (port, _) = stand_in_app().await;
    let host = r.host(&format!("{port}-{}", sb.id));
    let connection = || async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", r.app.port))
            .await
            .unwrap();
        let io = hyper_util::rt::TokioIo::new(tcp);
        let (send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        send
    };
    // Where the app saw a request come from.
    let peer = async |send: &mut SendRequest<String>, path: &str| {
        let req = http::Request::get(path)
            .header("host", &host)
            .body(String::new())
            .unwrap();
        send.ready().await.unwrap();
        let response = send.send_request(req).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let echo: Value = serde_json::from_slice(&body).unwrap();
        echo["peer"].as_str().unwrap().to_owned()
    };

    let mut one = connection().await;
    let first = peer(&mut one, "/echo").await;
    assert_eq!(peer(&mut one, "/echo").await, first);
    // The app closes the connection after this answer: the next request opens a new one.
    assert_eq!(peer(&mut one, "/close").await, first);
    let second = peer(&mut one, "/echo").await;
    assert_ne!(second, first);
    assert_eq!(peer(&mut one, "/echo").await, second);
    let mut other = connection().await;
    assert_ne!(peer(&mut other, "/echo").await, second);
}

#[tokio::test]
async fn router_mode_keeps_one_role() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let replica = |mode| {
        let mut settings = r.app.settings.clone();
        settings.router.mode = mode;
        let runtime = r.app.runtime.clone();
        async move {
            let app = control_plane::startup::Application::build(settings, Some(runtime))
                .await
                .expect("replica")
                .without_background_tasks();
            let port = app.port();
            tokio::spawn(app.run_until_stopped());
            port
        }
    };
    let router_only = replica(settings::RouterMode::Router).await;
    let api_only = replica(settings::RouterMode::Api).await;
    let get = |port: u16, host: String, path: &str| {
        r.app
            .client
            .get(format!("http://127.0.0.1:{port}{path}"))
            .header("host", host)
            .header("x-api-key", &r.app.api_key)
            .bearer_auth(&sb.token)
            .send()
    };
    let sandbox_host = |port: u16| format!("{}.sandbox.localhost:{port}", sb.id);

    let routed = get(router_only, sandbox_host(router_only), "/health")
        .await
        .unwrap();
    assert_eq!(routed.json::<Value>().await.unwrap()["status"], "healthy");
    let no_api = get(
        router_only,
        format!("127.0.0.1:{router_only}"),
        "/v1/sandboxes",
    )
    .await
    .unwrap();
    assert_eq!(no_api.status(), 404);
    let lb_health = get(router_only, format!("127.0.0.1:{router_only}"), "/health")
        .await
        .unwrap();
    assert_eq!(lb_health.status(), 200);

    let not_routed = get(api_only, sandbox_host(api_only), "/files/list")
        .await
        .unwrap();
    assert_eq!(not_routed.status(), 404);
    assert!(not_routed.headers().get("x-warren-router").is_none());
    let api = get(api_only, format!("127.0.0.1:{api_only}"), "/v1/sandboxes")
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
}
