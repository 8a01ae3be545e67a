//! The desktop's VNC server and browser viewer in a real desktop sandbox: `/desktop/vnc/*` on the
//! agent, noVNC's files and the RFB-over-WebSocket bridge on port 6080.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use runtime::SandboxRuntime as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::helpers::*;

const DESKTOP_IMAGE: &str = "warren/template-desktop:latest";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vnc_starts_with_a_password_and_the_viewer_bridges_rfb() {
    let rt = runtime().await;
    let (mut spec, key, _cleanup) = spec(DESKTOP_IMAGE);
    spec.resources.memory_mb = 1024;
    let sandbox = rt.create(&spec).await.expect("create the sandbox");
    let agent = sandbox.agent_addr;
    let token = key.sign(&spec.sandbox_id, now_unix() + 600);
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = http()
            .request(method, format!("http://{agent}{path}"))
            .bearer_auth(&token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            let resp = req.send().await.expect("reach the agent");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (code, status) = call(reqwest::Method::GET, "/desktop/vnc/status", None).await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["running"], false, "{status}");
    assert_eq!(
        (status["display"].clone(), status["port"].clone()),
        (json!(1), json!(5900))
    );

    for bad in [
        json!({"display": 1, "password": "123456789"}),
        json!({"display": 1, "password": ""}),
        json!({"display": 2}),
    ] {
        let (code, err) = call(
            reqwest::Method::POST,
            "/desktop/vnc/start",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (code, err["code"].clone()),
            (400, json!("INVALID_REQUEST")),
            "{bad}: {err}"
        );
    }

    // The TypeScript SDK's start: a GET, the password generated.
    let (code, started) = call(reqwest::Method::GET, "/desktop/vnc/start", None).await;
    assert_eq!(code, 200, "{started}");
    assert_eq!(started["running"], true, "{started}");
    let generated = started["password"].as_str().expect("a password").to_owned();
    assert_eq!(generated.len(), 8, "{started}");
    // The Python SDK's start with its own password restarts the server with it.
    let body = json!({"display": 1, "password": "s3cret!"});
    let (code, started) = call(reqwest::Method::POST, "/desktop/vnc/start", Some(body)).await;
    assert_eq!(
        (code, started["password"].clone()),
        (200, json!("s3cret!")),
        "{started}"
    );
    let (_, info) = call(reqwest::Method::GET, "/desktop/vnc/info", None).await;
    assert_eq!(
        (info["running"].clone(), info["password"].clone()),
        (json!(true), json!("s3cret!"))
    );

    // The viewer: noVNC's page, nothing outside its directory.
    let viewer = format!("http://{}:6080", agent.ip());
    let page = http()
        .get(format!("{viewer}/vnc.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("noVNC"));
    let redirect = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{viewer}/?autoconnect=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.headers()["location"], "/vnc.html?autoconnect=1");
    for outside in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/app/../../../etc/shadow",
    ] {
        let resp = http()
            .get(format!("{viewer}{outside}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{outside}");
    }

    // The bridge: RFB's greeting, then VNC authentication (the password is always required).
    let mut req = format!("ws://{}:6080/websockify", agent.ip())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "binary".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    assert_eq!(resp.headers()["sec-websocket-protocol"], "binary");
    let greeting = next_binary(&mut ws).await;
    assert_eq!(greeting, b"RFB 003.008\n");
    ws.send(Message::Binary(b"RFB 003.008\n".to_vec().into()))
        .await
        .unwrap();
    let security = next_binary(&mut ws).await;
    assert_eq!(security, [1, 2], "one security type: VNC authentication");
    drop(ws);

    let (code, stopped) = call(reqwest::Method::POST, "/desktop/vnc/stop", Some(json!({}))).await;
    assert_eq!(
        (code, stopped["running"].clone()),
        (200, json!(false)),
        "{stopped}"
    );
    let (_, status) = call(reqwest::Method::GET, "/desktop/vnc/status", None).await;
    assert_eq!(status["running"], false, "{status}");
    rt.destroy(&spec.sandbox_id).await.unwrap();
}

async fn next_binary<S>(ws: &mut S) -> Vec<u8>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("the bridge is open")
            .expect("a frame");
        match msg {
            Message::Binary(b) => return b.to_vec(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
