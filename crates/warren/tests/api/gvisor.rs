//! Isolation per template on the real engine, through `warren serve`: the built-in `python` template
//! set to `gvisor` (as an operator does, docs/templates.md) gives warm-pool and cold sandboxes under
//! gVisor that run Python and bash as uid 1000 and reach neither another sandbox nor a host port,
//! while the `container` template `base` beside them still runs runc.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::docker::{clean_up, db_with_key, engine, pool_filled, serve_docker};

/// A created sandbox: its id, its agent's address and its token.
struct Sandbox {
    id: String,
    agent: SocketAddr,
    token: String,
}

async fn create(pool: &PgPool, base: &str, key: &str, body: Value) -> Sandbox {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/sandboxes"))
        .header("x-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{body}");
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let agent = sqlx::query_scalar::<_, String>("SELECT agent_addr FROM sandboxes WHERE id = $1")
        .bind(&id)
        .fetch_one(pool)
        .await
        .unwrap()
        .parse()
        .unwrap();
    Sandbox {
        id,
        agent,
        token: created["auth_token"].as_str().unwrap().to_owned(),
    }
}

/// The JSON answer to `request`.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Runs `code` in `language` on the sandbox's agent; its stdout.
async fn run(client: &reqwest::Client, sbx: &Sandbox, language: &str, code: &str) -> String {
    let request = client
        .post(format!("http://{}/execute", sbx.agent))
        .bearer_auth(&sbx.token)
        .json(&json!({"code": code, "language": language}));
    let out = json_of(request).await;
    assert_eq!(out["success"], true, "{out}");
    out["stdout"].as_str().unwrap().to_owned()
}

/// The OCI runtime the engine runs the sandbox's container with.
fn oci_runtime(id: &str) -> String {
    let out = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.HostConfig.Runtime}}",
            &format!("warren-{id}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Whether a TCP connection to `target` opens from inside the sandbox.
async fn opens_from(client: &reqwest::Client, sbx: &Sandbox, target: SocketAddr) -> bool {
    let probe = format!(
        "timeout 3 bash -c '</dev/tcp/{}/{}' 2>/dev/null && echo open || echo closed",
        target.ip(),
        target.port()
    );
    run(client, sbx, "bash", &probe).await == "open\n"
}

#[tokio::test]
async fn a_gvisor_template_runs_under_gvisor_beside_a_container_template() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine().await;
    sqlx::query(
        "UPDATE templates SET isolation = 'gvisor' WHERE name = 'python' AND organization_id IS NULL",
    )
    .execute(&pool)
    .await
    .unwrap();
    let server = serve_docker(&db, &[("WARREN_POOL__TEMPLATES", "{python=1}")]).await;
    let client = reqwest::Client::new();

    // The templates say how they are isolated.
    for (name, isolation) in [("python", "gvisor"), ("base", "container")] {
        let url = format!("{}/v1/templates/{name}", server.base);
        let t = json_of(client.get(url).header("x-api-key", &key)).await;
        assert_eq!(t["isolation"], isolation, "{t}");
    }

    // A warm-pool container of the gVisor template runs under gVisor before anyone claims it.
    let pooled_id = pool_filled(&pool).await;
    assert_eq!(oci_runtime(&pooled_id), "runsc-hostnet");

    let warm = create(
        &pool,
        &server.base,
        &key,
        json!({"template_name": "python"}),
    )
    .await;
    assert_eq!(warm.id, pooled_id, "served from the pool");
    let cold = create(
        &pool,
        &server.base,
        &key,
        json!({"template_name": "python", "internet_access": false}),
    )
    .await;
    let plain = create(&pool, &server.base, &key, json!({"template_name": "base"})).await;
    assert_eq!(oci_runtime(&cold.id), "runsc-hostnet");
    assert_eq!(oci_runtime(&plain.id), "runc");

    for sbx in [&warm, &cold] {
        // gVisor's own kernel release (the seccomp profile refuses `dmesg`'s syslog).
        let who = run(&client, sbx, "bash", "id -u; uname -r").await;
        assert_eq!(who, "1000\n4.4.0\n");
        assert_eq!(run(&client, sbx, "python", "print(6 * 7)").await, "42\n");
    }
    assert_eq!(run(&client, &plain, "bash", "id -u").await, "1000\n");

    // Neither another sandbox's agent nor a port the host listens on at the sandboxes' gateway is
    // reachable from the gVisor sandbox; both are from the host (the positive control).
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let IpAddr::V4(ip) = warm.agent.ip() else {
        panic!("IPv4 expected")
    };
    let [a, b, ..] = ip.octets();
    let host_port = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(a, b, 0, 1)),
        listener.local_addr().unwrap().port(),
    );
    for target in [plain.agent, host_port] {
        assert!(
            tokio::net::TcpStream::connect(target).await.is_ok(),
            "{target}"
        );
        assert!(!opens_from(&client, &warm, target).await, "{target}");
    }
    assert!(
        opens_from(&client, &warm, warm.agent).await,
        "its own agent"
    );

    drop(server);
    clean_up(&pool, &engine).await;
}
