//! The escape suite's router rows (the sandbox attacks are in runtime-docker's `escape.rs`): Host
//! header tricks, DNS rebinding and a leaked preview link, against the real router in front of
//! real agents. Each request below must not reach an agent; the agent-only route
//! `/files/list?path=/` tells an agent's answer (a JSON `files` list) from anything else.

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::router_support::{assert_router_error, spawn_router_app, stand_in_app};

const AGENT_ONLY: &str = "/files/list?path=/";

/// Whether a response body is the agent's listing.
fn is_agent_listing(body: &str) -> bool {
    serde_json::from_str::<Value>(body).is_ok_and(|v| v["files"].is_array())
}

#[tokio::test]
async fn escape_router_host_header_tricks_do_not_reach_an_agent() {
    let r = spawn_router_app().await;
    let a = r.sandbox(json!({})).await;
    let b = r.sandbox(json!({})).await;
    // The positive control: A's token on A's host lists A's files.
    let own = r.agent(&a, Method::GET, AGENT_ONLY).send().await.unwrap();
    assert!(is_agent_listing(&own.text().await.unwrap()));

    // The agent port as a "preview" still needs the token (previews are public by default).
    let alias = r.host(&format!("7777-{}", a.id));
    let anonymous = r
        .to_host(Method::GET, &alias, AGENT_ONLY)
        .send()
        .await
        .unwrap();
    assert_router_error(anonymous, 401, "TOKEN_INVALID").await;
    // Another sandbox's host with A's valid token.
    let other = r
        .to_host(Method::GET, &r.host(&b.id), AGENT_ONLY)
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_router_error(other, 401, "TOKEN_INVALID").await;
    // Hosts that are not sandbox hosts are the control-plane API, token or not: `localhost`, IP
    // literals, a rebound attacker domain, a sandbox host as a prefix of another domain.
    let port = r.app.port;
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("attacker.example:{port}"),
        format!("{}.sandbox.localhost.attacker.example:{port}", a.id),
        format!("{}.sandbox.localhost:{port}.attacker.example", a.id),
        format!("x.{}.sandbox.localhost:{port}", a.id),
    ] {
        let resp = r
            .to_host(Method::GET, &host, AGENT_ONLY)
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert!(!is_agent_listing(&body), "{host}: {status} {body}");
        assert!(status.is_client_error(), "{host}: {status} {body}");
    }

    // Raw HTTP/1.1: an absolute-form URI naming A under a Host naming B (A's token), with no
    // Host at all, and two Host headers; none reaches an agent.
    let (ha, hb) = (r.host(&a.id), r.host(&b.id));
    let bearer = format!("Authorization: Bearer {}\r\n", a.token);
    for raw in [
        format!("GET http://{ha}{AGENT_ONLY} HTTP/1.1\r\nHost: {hb}\r\n{bearer}\r\n"),
        format!("GET http://{ha}{AGENT_ONLY} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n"),
        format!("GET {AGENT_ONLY} HTTP/1.1\r\nHost: localhost:{port}\r\nHost: {ha}\r\n\r\n"),
        format!("GET {AGENT_ONLY} HTTP/1.0\r\n{bearer}\r\n"),
    ] {
        let answer = raw_request(port, &raw).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(!head.starts_with("HTTP/1.1 200"), "{raw:?} -> {answer}");
        assert!(!body.contains("\"files\""), "{raw:?} -> {answer}");
    }
}

/// Two Host headers are a 400 (RFC 9112 §3.2), whichever sandbox each names: on main the router
/// takes the first and serves it.
#[tokio::test]
async fn escape_router_two_host_headers_are_refused() {
    let r = spawn_router_app().await;
    let (a, b) = (r.sandbox(json!({})).await, r.sandbox(json!({})).await);
    let (ha, hb) = (r.host(&a.id), r.host(&b.id));
    let bearer = format!("Authorization: Bearer {}\r\n", a.token);
    for raw in [
        format!("GET {AGENT_ONLY} HTTP/1.1\r\nHost: {ha}\r\nHost: {hb}\r\n{bearer}\r\n"),
        format!("GET {AGENT_ONLY} HTTP/1.1\r\nHost: {hb}\r\nHost: {ha}\r\n{bearer}\r\n"),
    ] {
        let answer = raw_request(r.app.port, &raw).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{raw:?} -> {answer}");
    }
}

/// A leaked preview link opens that sandbox's ports only, never its agent; and the router passes
/// the credential to no app behind a port.
#[tokio::test]
async fn escape_router_a_leaked_preview_link_does_not_open_the_agent() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({"private_previews": true})).await;
    let (port, _) = stand_in_app().await;
    let preview = r.host(&format!("{port}-{}", sb.id));
    let link = r.preview_link(&sb, json!({})).await;
    let credential = link["token"].as_str().unwrap().to_owned();
    let via_link = r
        .to_host(
            Method::GET,
            &preview,
            &format!("/echo?warren_preview={credential}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(via_link.status(), 200);
    let seen: Value = via_link.json().await.unwrap();
    let seen = seen.to_string();
    assert!(!seen.contains(&credential), "the app saw it: {seen}");
    let agent = r.host(&sb.id);
    for request in [
        r.to_host(Method::GET, &agent, AGENT_ONLY)
            .bearer_auth(&credential),
        r.to_host(
            Method::GET,
            &agent,
            &format!("{AGENT_ONLY}&token={credential}"),
        ),
        r.to_host(Method::GET, &agent, AGENT_ONLY)
            .header("cookie", format!("warren_token={credential}")),
        r.to_host(
            Method::GET,
            &agent,
            &format!("{AGENT_ONLY}&warren_preview={credential}"),
        ),
        r.to_host(Method::GET, &agent, AGENT_ONLY)
            .header("cookie", format!("warren_preview={credential}")),
    ] {
        let resp = request.send().await.unwrap();
        assert_router_error(resp, 401, "TOKEN_INVALID").await;
    }
}

/// Writes `raw` to the app's port and reads the answer (the connection is closed after one).
async fn raw_request(port: u16, raw: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(raw.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut buf)).await;
    let n = read.map_or(0, |r| r.unwrap_or(0));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
