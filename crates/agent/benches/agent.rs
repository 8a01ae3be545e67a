//! Speed and memory figures of issue 3, each beside a baseline measured in the same run:
//! idle RSS (vs a `sleep` process), start to healthy (vs spawning `/bin/true`), `print(1)` on the warm
//! kernel (vs a fresh `python3 -c 'print(1)'`), and download throughput (vs `cat file > /dev/null`).
//!
//! `cargo bench -p agent --bench agent` (targets: RSS ≤ 10 MB, healthy ≤ 20 ms, print(1) ≤ 2 ms,
//! download ≥ 500 MB/s). The numbers are printed, not asserted.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sandbox_token::TokenKey;

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const RUNS: usize = 20;
const PRINT_RUNS: usize = 200;
const FILE_MB: usize = 512;

struct Agent {
    child: Child,
    base: String,
    token: String,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Starts the agent and returns it with the time until `/health` answered 200.
async fn start(http: &reqwest::Client, dir: &std::path::Path) -> (Agent, Duration) {
    let key = TokenKey::generate();
    let port = free_port();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_warren-agent"))
        .env_clear()
        .env("PATH", PATH)
        .env("WARREN_AGENT_LISTEN", format!("127.0.0.1:{port}"))
        .env("WARREN_AGENT_SANDBOX_ID", "bench")
        .env("WARREN_AGENT_TOKEN_KEY", key.to_hex())
        .env("WARREN_AGENT_WORKSPACE", dir)
        .env("WARREN_AGENT_TMP", dir)
        .env("WARREN_AGENT_LOG", "off")
        .stdin(Stdio::null())
        .spawn()
        .expect("start warren-agent");
    let base = format!("http://127.0.0.1:{port}");
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status() == 200
        {
            break;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let elapsed = started.elapsed();
    let token = key.sign("bench", chrono::Utc::now().timestamp() + 3600);
    (Agent { child, base, token }, elapsed)
}

async fn print_one(http: &reqwest::Client, agent: &Agent) -> (Duration, f64) {
    let t = Instant::now();
    let body: serde_json::Value = http
        .post(format!("{}/execute", agent.base))
        .bearer_auth(&agent.token)
        .json(&serde_json::json!({"language": "python", "code": "print(1)"}))
        .send()
        .await
        .expect("execute")
        .json()
        .await
        .expect("json");
    assert_eq!(body["stdout"], "1\n", "{body}");
    (t.elapsed(), body["execution_time"].as_f64().unwrap_or(0.0))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    // Start to healthy, vs spawning /bin/true.
    let mut starts = Vec::new();
    for _ in 0..RUNS {
        let (agent, t) = start(&http, dir.path()).await;
        starts.push(t);
        drop(agent);
    }
    let spawns = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            Command::new("/bin/true").status().expect("true");
            t.elapsed()
        })
        .collect();

    let (agent, _) = start(&http, dir.path()).await;
    // Idle memory after a few requests, the kernel not started yet.
    for _ in 0..20 {
        let _ = http.get(format!("{}/health", agent.base)).send().await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = rss_kb(agent.child.id());
    let mut sleeper = Command::new("sleep").arg("30").spawn().expect("sleep");
    std::thread::sleep(Duration::from_millis(100));
    let sleep_rss = rss_kb(sleeper.id());
    let _ = sleeper.kill();
    let _ = sleeper.wait();

    // print(1) on the warm kernel (first call starts it), vs a fresh interpreter.
    print_one(&http, &agent).await;
    let mut round_trips = Vec::new();
    let mut inside = Vec::new();
    for _ in 0..PRINT_RUNS {
        let (rt, exec) = print_one(&http, &agent).await;
        round_trips.push(rt);
        inside.push(Duration::from_secs_f64(exec));
    }
    let fresh = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let out = Command::new("python3")
                .env("PATH", PATH)
                .args(["-c", "print(1)"])
                .output()
                .expect("python3");
            assert_eq!(out.stdout, b"1\n");
            t.elapsed()
        })
        .collect();
    let kernel_rss: u64 = {
        let sessions: serde_json::Value = http
            .get(format!("{}/jupyter/sessions", agent.base))
            .bearer_auth(&agent.token)
            .send()
            .await
            .expect("sessions")
            .json()
            .await
            .expect("json");
        sessions["sessions"][0]["pid"]
            .as_u64()
            .map_or(0, |p| rss_kb(p as u32))
    };

    // Download throughput, vs cat.
    let file = dir.path().join("big.bin");
    let chunk = vec![0xA5u8; 1 << 20];
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&file).expect("create");
        for _ in 0..FILE_MB {
            f.write_all(&chunk).expect("write");
        }
    }
    let bytes = (FILE_MB << 20) as f64;
    let mut best_download = 0.0f64;
    for _ in 0..3 {
        let t = Instant::now();
        let mut res = http
            .get(format!(
                "{}/files/download?path={}",
                agent.base,
                file.display()
            ))
            .bearer_auth(&agent.token)
            .send()
            .await
            .expect("download");
        let mut n = 0usize;
        while let Some(c) = res.chunk().await.expect("chunk") {
            n += c.len();
        }
        assert_eq!(n, FILE_MB << 20);
        best_download = best_download.max(bytes / t.elapsed().as_secs_f64() / 1e6);
    }
    let mut best_cat = 0.0f64;
    for _ in 0..3 {
        let t = Instant::now();
        Command::new("cat")
            .arg(&file)
            .stdout(Stdio::null())
            .status()
            .expect("cat");
        best_cat = best_cat.max(bytes / t.elapsed().as_secs_f64() / 1e6);
    }

    let mb = |kb: u64| format!("{:.1} MB", kb as f64 / 1024.0);
    println!("warren-agent benchmark (issue 3 targets in brackets)");
    row("figure", "agent", "baseline");
    row(
        "idle RSS [<= 10 MB]",
        &mb(idle),
        &format!("{} (sleep process)", mb(sleep_rss)),
    );
    row("python kernel RSS", &mb(kernel_rss), "(measured apart)");
    row(
        "start to healthy, median [<= 20 ms]",
        &ms(median(starts)),
        &format!("{} (spawn /bin/true)", ms(median(spawns))),
    );
    row(
        "print(1) in agent, median [<= 2 ms]",
        &ms(median(inside)),
        &format!("{} (fresh python3 -c)", ms(median(fresh))),
    );
    row(
        "print(1) HTTP round trip, median",
        &ms(median(round_trips)),
        "",
    );
    row(
        "download [>= 500 MB/s]",
        &format!("{best_download:.0} MB/s"),
        &format!("{best_cat:.0} MB/s (cat > /dev/null)"),
    );
}

fn row(figure: &str, agent: &str, baseline: &str) {
    println!("{figure:<36} {agent:>12}   {baseline}");
}
