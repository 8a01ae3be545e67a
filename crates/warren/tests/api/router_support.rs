//! Harness of the router tests: the control plane (real Postgres, fake runtime) whose sandboxes each
//! run a real `warren-agent` process (`test_support::agent`), and a small HTTP + WebSocket server
//! standing in for an app that serves a port inside the sandbox.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message as AxumMessage, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures::StreamExt as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::agent::{Agent, agent_hook};
use test_support::{TestApp, spawn_app_with};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// Waits until `n` route listeners (`LISTEN warren_routes`) are connected to the test database.
pub async fn wait_route_listeners(pool: &PgPool, n: i64) {
    for _ in 0..500 {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'LISTEN \"warren_routes\"'",
        )
        .fetch_one(pool)
        .await
        .expect("pg_stat_activity");
        if listening >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} route listeners never connected");
}

/// The app, its agents, and a client for sandbox hosts.
pub struct RouterApp {
    pub app: TestApp,
    _agents: Arc<Mutex<Vec<Agent>>>,
}

/// A created sandbox and its first token.
pub struct Sandbox {
    pub id: String,
    pub token: String,
}

pub async fn spawn_router_app() -> RouterApp {
    spawn_router_app_with(|_| {}).await
}

pub async fn spawn_router_app_with(tweak: impl FnOnce(&mut settings::Settings)) -> RouterApp {
    let app = spawn_app_with(tweak).await;
    let agents = Arc::new(Mutex::new(Vec::new()));
    app.runtime.set_agent_hook(agent_hook(agents.clone()));
    wait_route_listeners(&app.pool, 1).await;
    RouterApp {
        app,
        _agents: agents,
    }
}

impl RouterApp {
    /// Creates a sandbox (base template plus `extra` fields).
    pub async fn sandbox(&self, extra: Value) -> Sandbox {
        let mut body = json!({"template_name": "base"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self.app.post_json("/v1/sandboxes", &body).await;
        let status = r.status();
        let created: Value = r.json().await.expect("JSON");
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        assert_eq!(
            created["public_host"],
            format!("http://{id}.sandbox.localhost:{}", self.app.port)
        );
        Sandbox {
            id,
            token: created["auth_token"].as_str().expect("token").to_owned(),
        }
    }

    /// Mints a preview link of `sb` (`POST .../preview-links` with `body`), asserting a 201.
    pub async fn preview_link(&self, sb: &Sandbox, body: Value) -> Value {
        let r = self
            .app
            .post_json(&format!("/v1/sandboxes/{}/preview-links", sb.id), &body)
            .await;
        let status = r.status();
        let link: Value = r.json().await.expect("JSON");
        assert_eq!(status, 201, "{link}");
        link
    }

    /// `{label}.sandbox.localhost:{port}`.
    pub fn host(&self, label: &str) -> String {
        format!("{label}.sandbox.localhost:{}", self.app.port)
    }

    /// A request to `host` through the app's port (no DNS needed).
    pub fn to_host(
        &self,
        method: reqwest::Method,
        host: &str,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(path))
            .header("host", host)
    }

    /// A request to the sandbox's agent with its token.
    pub fn agent(
        &self,
        sb: &Sandbox,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.to_host(method, &self.host(&sb.id), path)
            .bearer_auth(&sb.token)
    }

    /// A WebSocket to `host`, with `Authorization: Bearer token` when given.
    pub async fn ws(
        &self,
        host: &str,
        path: &str,
        token: Option<&str>,
    ) -> Result<WebSocketStream<TcpStream>, tokio_tungstenite::tungstenite::Error> {
        let mut req = format!("ws://{host}{path}").into_client_request()?;
        if let Some(t) = token {
            req.headers_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().expect("header"),
            );
        }
        let tcp = TcpStream::connect(("127.0.0.1", self.app.port))
            .await
            .expect("connect");
        tokio_tungstenite::client_async(req, tcp)
            .await
            .map(|(ws, _)| ws)
    }
}

/// Asserts a refusal made by the router: status, code, the agent envelope and the router's mark.
pub async fn assert_router_error(r: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["x-warren-router"], "1");
    let request_id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(body["error"], body["message"]);
    assert_eq!(body["request_id"], request_id);
    body
}

/// What the stand-in app reports.
pub type Events = mpsc::UnboundedReceiver<&'static str>;

/// The stand-in app on `127.0.0.1:{port}`:
/// - `GET /echo` answers the request's headers, its path and query (`uri`) and the address it came
///   from (`peer`) as JSON, with
///   some hop-by-hop headers of its own; `GET /close` does the same and closes the connection;
/// - `GET /ws` echoes WebSocket text frames;
/// - `POST /sink` reads the body and reports `"upload ended"` or `"upload broken"`;
/// - `GET /endless` streams forever and reports `"download dropped"` when its body is dropped.
pub async fn stand_in_app() -> (u16, Events) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    (port, stand_in_app_on(listener))
}

/// The stand-in app of [`stand_in_app`] on a listener of the caller's.
pub fn stand_in_app_on(listener: tokio::net::TcpListener) -> Events {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/echo", get(echo))
        .route("/close", get(close))
        .route("/ws", any(ws_echo))
        .route("/sink", post(sink))
        .route("/endless", get(endless))
        .with_state(tx);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    rx
}

async fn echo(ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request) -> Response {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(v.to_str().unwrap_or("?"))))
        .collect();
    let body =
        json!({ "headers": headers, "uri": req.uri().to_string(), "peer": peer.to_string() });
    let mut response = axum::Json(body).into_response();
    let h = response.headers_mut();
    h.insert("connection", "x-hop".parse().expect("value"));
    h.insert("x-hop", "1".parse().expect("value"));
    h.insert("keep-alive", "timeout=9".parse().expect("value"));
    h.insert("x-app", "1".parse().expect("value"));
    response
}

async fn close(peer: ConnectInfo<SocketAddr>, req: Request) -> Response {
    let mut response = echo(peer, req).await;
    let close = "close".parse().expect("value");
    response.headers_mut().insert("connection", close);
    response
}

async fn ws_echo(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket| async move {
        while let Some(Ok(msg)) = socket.recv().await {
            if let AxumMessage::Text(t) = msg
                && socket.send(AxumMessage::Text(t)).await.is_err()
            {
                return;
            }
        }
    })
}

type Tx = mpsc::UnboundedSender<&'static str>;

async fn sink(State(tx): State<Tx>, body: Body) -> &'static str {
    let mut stream = body.into_data_stream();
    loop {
        match stream.next().await {
            Some(Ok(_)) => {}
            Some(Err(_)) => {
                let _ = tx.send("upload broken");
                return "broken";
            }
            None => {
                let _ = tx.send("upload ended");
                return "ended";
            }
        }
    }
}

/// Reports when dropped.
struct DropSignal(Tx);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send("download dropped");
    }
}

async fn endless(State(tx): State<Tx>) -> Body {
    let signal = DropSignal(tx);
    let chunks = futures::stream::repeat_with(move || {
        let _keep = &signal;
        Ok::<_, std::io::Error>(Bytes::from_static(&[b'x'; 16 * 1024]))
    });
    Body::from_stream(chunks)
}
