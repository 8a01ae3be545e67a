//! The router's cost, side by side in one run: requests per second and p50/p99 latency at 50
//! concurrent connections, straight to a real agent versus through the router (`warren serve`'s
//! port with the sandbox's `Host`), for `GET /health` and for `POST /execute` of `print(1)`.
//! Targets (issue 5): the router keeps ≥ 85 % of the direct throughput and adds ≤ 1 ms at p50.
//!
//! `cargo build --release -p agent && cargo bench -p control-plane --bench router`
//! (`WARREN_BENCH_SECONDS`, default 10, is the measuring time of each side of a case). The control plane runs
//! in-process on its own runtime, with the fake runtime and a real agent process (the same harness as
//! the router tests), on a private Postgres. Numbers are printed, not asserted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Method, Request};
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use test_support::agent::agent_hook;
use test_support::spawn_app_with;

const CONNECTIONS: usize = 50;
/// Name of the threads that run the router (and the control plane), for CPU accounting.
const SERVER_THREADS: &str = "bench-server";
/// Slices each side's measuring time is cut into, alternating direct and routed.
const ROUNDS: u32 = 5;
const WARMUP: Duration = Duration::from_millis(300);

/// One benchmark case: where the connections go and what they send.
#[derive(Clone)]
struct Case {
    addr: SocketAddr,
    host: String,
    method: Method,
    path: &'static str,
    body: &'static str,
    token: String,
}

struct Figures {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

fn main() {
    let seconds: u64 = std::env::var("WARREN_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    // The server (router + control plane) and the load each get their own runtime and threads.
    let runtime = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name(name)
            .enable_all()
            .build()
            .expect("runtime")
    };
    let server = runtime(SERVER_THREADS);
    let load = runtime("bench-load");
    let agents = Arc::new(Mutex::new(Vec::new()));
    let (app, id, token, agent) = server.block_on(async {
        let app = spawn_app_with(|s| s.log.filter = "warn".into()).await;
        app.runtime.set_agent_hook(agent_hook(agents.clone()));
        let r = app
            .post_json(
                "/v1/sandboxes",
                &serde_json::json!({"template_name": "base"}),
            )
            .await;
        let created: serde_json::Value = r.json().await.expect("created");
        let id = created["id"].as_str().expect("id").to_owned();
        let token = created["auth_token"].as_str().expect("token").to_owned();
        let agent = app.runtime.agent_addr(&id).expect("agent address");
        (app, id, token, agent)
    });
    let router = SocketAddr::from(([127, 0, 0, 1], app.port));
    let via = |addr: SocketAddr, host: String, method: Method, path, body| Case {
        addr,
        host,
        method,
        path,
        body,
        token: token.clone(),
    };
    let agent_host = agent.to_string();
    let router_host = format!("{id}.sandbox.localhost:{}", app.port);
    let code = r#"{"language":"python","code":"print(1)"}"#;
    let cases = [
        ("GET /health", Method::GET, "/health", ""),
        ("POST /execute print(1)", Method::POST, "/execute", code),
    ];
    println!(
        "{CONNECTIONS} connections, {seconds} s per side in {ROUNDS} alternating slices \
         (each after {} ms of warm-up)\n",
        WARMUP.as_millis()
    );
    println!(
        "{:<24} {:>12} {:>10} {:>10} | {:>12} {:>10} {:>10} | {:>7} {:>9}",
        "request", "direct rps", "p50", "p99", "router rps", "p50", "p99", "ratio", "+p50"
    );
    let agent_pid = agents.lock().map(|a| a[0].pid()).expect("one agent");
    let mut cpu = Vec::new();
    for (name, method, path, body) in cases {
        let direct = via(agent, agent_host.clone(), method.clone(), path, body);
        let routed = via(router, router_host.clone(), method, path, body);
        // Alternating slices, so a change in the machine's load hits both sides alike.
        let slice = Duration::from_secs(seconds).div_f64(ROUNDS as f64);
        let (mut d, mut r) = (Vec::new(), Vec::new());
        let (mut agent_cpu, mut router_cpu) = (0, 0);
        for _ in 0..ROUNDS {
            d.extend(load.block_on(run(direct.clone(), slice)));
            let before = (cpu_ticks(agent_pid), server_ticks());
            r.extend(load.block_on(run(routed.clone(), slice)));
            agent_cpu += cpu_ticks(agent_pid) - before.0;
            router_cpu += server_ticks() - before.1;
        }
        let per_request = |ticks: u64| ticks as f64 * 10_000.0 / r.len() as f64;
        cpu.push((name, per_request(agent_cpu), per_request(router_cpu)));
        let total = Duration::from_secs(seconds);
        let (d, r) = (figures(d, total), figures(r, total));
        println!(
            "{:<24} {:>12.0} {:>10} {:>10} | {:>12.0} {:>10} {:>10} | {:>6.1}% {:>9}",
            name,
            d.rps,
            ms(d.p50),
            ms(d.p99),
            r.rps,
            ms(r.p50),
            ms(r.p99),
            100.0 * r.rps / d.rps,
            ms(r.p50.saturating_sub(d.p50)),
        );
    }
    println!("\nCPU per routed request (includes warm-ups; /proc ticks of 10 ms):");
    for (name, agent_us, router_us) in cpu {
        println!("{name:<24} agent {agent_us:>7.1} µs   router {router_us:>7.1} µs");
    }
    drop(app);
    drop(agents);
}

/// CPU time (user + system, in 10 ms ticks) of process or thread `stat` file `path`.
fn ticks_of(path: &std::path::Path) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn cpu_ticks(pid: u32) -> u64 {
    ticks_of(std::path::Path::new(&format!("/proc/{pid}/stat")))
}

/// CPU ticks of this process's router (server runtime) threads.
fn server_ticks() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.starts_with(SERVER_THREADS))
        })
        .map(|t| ticks_of(&t.path().join("stat")))
        .sum()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Throughput and percentiles of `latencies` measured over `time` in all.
fn figures(mut latencies: Vec<Duration>, time: Duration) -> Figures {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        rps: latencies.len() as f64 / time.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Runs `case` on `CONNECTIONS` keep-alive HTTP/1.1 connections: a warm-up, then `time` measured;
/// returns the measured latencies.
async fn run(case: Case, time: Duration) -> Vec<Duration> {
    let start = Instant::now() + WARMUP;
    let end = start + time;
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| tokio::spawn(connection(case.clone(), start, end)))
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.expect("worker"));
    }
    latencies
}

/// One connection sending requests back to back; the latencies of those sent after `start`.
async fn connection(case: Case, start: Instant, end: Instant) -> Vec<Duration> {
    let tcp = tokio::net::TcpStream::connect(case.addr)
        .await
        .expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    loop {
        let sent = Instant::now();
        if sent >= end {
            return latencies;
        }
        let req = Request::builder()
            .method(case.method.clone())
            .uri(case.path)
            .header("host", &case.host)
            .header("authorization", format!("Bearer {}", case.token))
            .header("content-type", "application/json")
            .body(Body::from(case.body))
            .expect("request");
        send.ready().await.expect("connection ready");
        let resp = send.send_request(req).await.expect("response");
        assert!(
            resp.status().is_success(),
            "{} {}",
            case.path,
            resp.status()
        );
        resp.into_body().collect().await.expect("body");
        if sent >= start {
            latencies.push(sent.elapsed());
        }
    }
}
