//! The escape suite: every attack of `escape_table.rs`, tried from user code and through the agent's
//! API, on the default hardened profile (runc) and under gVisor, and on runc from a desktop sandbox
//! (its X server, VNC server and viewer port running), against one attacker sandbox per profile, with a victim sandbox, host services and a metadata server as the targets. Prints a
//! table (attack, where tried, profile, blocked) and fails on any row not blocked. The files-API rows
//! and the hardening rows run as tests of their own, so that a failure names its part.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use runtime::{Isolation, SandboxRuntime as _};
use sandbox_token::TokenKey;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _};

use crate::escape_table::{Attack, Call, FILES, HARDEN, PY_DONE, Row, SETUP, rows};
use crate::helpers::*;
use crate::isolation::{FakeMetadata, gateway_of, host_ipv4s};

#[tokio::test]
async fn escape_attacks_are_blocked_on_runc_and_gvisor() {
    suite(None).await;
}

#[tokio::test]
async fn escape_files_api_traversal_and_symlinks_are_blocked() {
    suite(Some(FILES)).await;
}

#[tokio::test]
async fn escape_hardening_rows_are_blocked() {
    suite(Some(HARDEN)).await;
}

/// What a probe of an attacker sandbox knows.
pub struct Ctx {
    pub sandbox_id: String,
    pub own_ip: String,
    pub other_id: String,
    pub other_ip: String,
    /// `ip:port` (IPv6 as `[addr%eth0]:port`) that must be unreachable.
    pub targets: Vec<String>,
    /// A line the host wrote to its kernel log.
    pub kmsg_marker: String,
    /// Whether the attacker runs under gVisor.
    pub gvisor: bool,
}

struct Outcome {
    attack: &'static str,
    class: &'static str,
    place: &'static str,
    profile: &'static str,
    blocked: bool,
    evidence: String,
}

async fn suite(needs: Option<&'static str>) {
    let started = Instant::now();
    let rt = runtime().await;
    let (runc, runc_key, _c1) = spec(PYTHON_IMAGE);
    let (mut gvisor, gvisor_key, _c2) = spec(PYTHON_IMAGE);
    let (victim, victim_key, _c3) = spec(PYTHON_IMAGE);
    let (desk, desk_key, _c4) = spec(DESKTOP_IMAGE);
    gvisor.isolation = Isolation::Gvisor;
    let (sr, sg, sv, sd) = tokio::try_join!(
        rt.create(&runc),
        rt.create(&gvisor),
        rt.create(&victim),
        rt.create(&desk)
    )
    .unwrap();
    let vid = &victim.sandbox_id;
    background(
        sv.agent_addr,
        vid,
        &victim_key,
        "python3 -m http.server 8000 >/dev/null 2>&1",
    )
    .await;

    // Targets, each shown listening from the host: host services (one listener on every IPv4
    // address, one on loopback only, one on IPv6), the fixed ports of the Docker API, sshd,
    // Postgres and Warren, the metadata server, and the victim's agent and port 8000.
    let _metadata = FakeMetadata::start();
    let any4 = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let lo4 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let any6 = TcpListener::bind("[::]:0").await.unwrap();
    let (p_any, p_lo, p_v6) = (port(&any4), port(&lo4), port(&any6));
    let victim_port = SocketAddr::new(sv.agent_addr.ip(), 8000);
    let mut listening: Vec<SocketAddr> = vec![sv.agent_addr, "169.254.169.254:80".parse().unwrap()];
    let mut ips = host_ipv4s();
    ips.extend([
        gateway_of(sr.agent_addr),
        gateway_of(sg.agent_addr),
        gateway_of(sd.agent_addr),
    ]);
    let mut targets: Vec<String> = Vec::new();
    for ip in &ips {
        listening.push(SocketAddr::new(*ip, p_any));
        for p in [p_lo, 22, 2375, 2376, 5432, 8080] {
            targets.push(format!("{ip}:{p}"));
        }
    }
    targets.push(format!("127.0.0.1:{p_lo}"));
    for (addr, index) in host_link_locals() {
        assert!(
            tcp_open(&format!("[{addr}%{index}]:{p_v6}")).await,
            "{addr}%{index}"
        );
        targets.push(format!("[{addr}%eth0]:{p_v6}"));
    }
    // Up to 30 s: Python's start on a loaded 2-core machine.
    for _ in 0..600 {
        if tcp_open(&victim_port.to_string()).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    listening.push(victim_port);
    for t in &listening {
        assert!(tcp_open(&t.to_string()).await, "{t} is not listening");
    }
    targets.extend(listening.iter().map(ToString::to_string));
    let kmsg_marker = format!("warren-escape-{}", &sandbox_id()[1..]);
    std::fs::write("/dev/kmsg", format!("{kmsg_marker}\n")).expect("write /dev/kmsg");

    let ctx = |id: &str, addr: SocketAddr, gvisor: bool| Ctx {
        sandbox_id: id.to_owned(),
        own_ip: addr.ip().to_string(),
        other_id: vid.clone(),
        other_ip: sv.agent_addr.ip().to_string(),
        targets: targets.clone(),
        kmsg_marker: kmsg_marker.clone(),
        gvisor,
    };
    let table: Vec<Row> = rows().into_iter().filter(|r| r.needs == needs).collect();
    let (a, b, d) = tokio::join!(
        attack_all(
            &table,
            "runc",
            sr.agent_addr,
            &runc_key,
            ctx(&runc.sandbox_id, sr.agent_addr, false)
        ),
        attack_all(
            &table,
            "gVisor",
            sg.agent_addr,
            &gvisor_key,
            ctx(&gvisor.sandbox_id, sg.agent_addr, true)
        ),
        attack_all(
            &table,
            "runc desktop",
            sd.agent_addr,
            &desk_key,
            ctx(&desk.sandbox_id, sd.agent_addr, false)
        ),
    );
    let outcomes: Vec<Outcome> = a.into_iter().chain(b).chain(d).collect();
    print_table(&outcomes);
    println!(
        "escape suite: {} rows in {:?}",
        outcomes.len(),
        started.elapsed()
    );
    let open: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.blocked)
        .map(|o| format!("{} ({}, {}): {}", o.attack, o.place, o.profile, o.evidence))
        .collect();
    assert!(open.is_empty(), "not blocked:\n{}", open.join("\n"));
    for id in [&runc.sandbox_id, &gvisor.sandbox_id, vid, &desk.sandbox_id] {
        rt.destroy(id).await.unwrap();
    }
}

async fn attack_all(
    table: &[Row],
    profile: &'static str,
    addr: SocketAddr,
    key: &TokenKey,
    ctx: Ctx,
) -> Vec<Outcome> {
    bash(addr, &ctx.sandbox_id, key, SETUP).await;
    let secret = key.to_hex();
    let mut out = Vec::new();
    for row in table {
        let (place, blocked, evidence) = match &row.attack {
            Attack::UserCode(script) => {
                let script = script(&ctx);
                match try_run(addr, &ctx.sandbox_id, key, "bash", &script).await {
                    Ok(r) => {
                        let text = format!("{}{}", r.stdout, r.stderr);
                        let pythons = script.matches("python3 - <<").count();
                        let finished = text.matches(PY_DONE).count() == pythons;
                        let clean = !text.contains("ESCAPED")
                            && !text.contains("PROBE-BROKEN")
                            && !text.contains(&secret);
                        ("user code", clean && finished, text)
                    }
                    Err(e) => ("user code", false, format!("the agent did not answer: {e}")),
                }
            }
            Attack::Api(call) => {
                let (ok, evidence) = call_api(addr, &ctx.sandbox_id, key, call).await;
                ("API", ok && !evidence.contains(&secret), evidence)
            }
        };
        out.push(Outcome {
            attack: row.name,
            class: row.class,
            place,
            profile,
            blocked,
            evidence,
        });
    }
    out
}

/// Sends `call` with a valid token; whether it was refused (4xx, or an error frame), and what came back.
async fn call_api(addr: SocketAddr, id: &str, key: &TokenKey, call: &Call) -> (bool, String) {
    let token = key.sign(id, now_unix() + 600);
    let url = |p: &str| format!("http://{addr}{p}");
    let request = match call {
        Call::Get(p) => http().get(url(p)),
        Call::Delete(p) => http().delete(url(p)),
        Call::Post(p, body) => http()
            .post(url(p))
            .header("content-type", "application/json")
            .body(*body),
        Call::Upload(path, filename) => {
            let part = reqwest::multipart::Part::bytes(b"x".to_vec()).file_name(*filename);
            let form = reqwest::multipart::Form::new()
                .text("path", *path)
                .part("file", part);
            http().post(url("/files/upload")).multipart(form)
        }
        Call::Watch(path) => return watch_refused(addr, &token, path).await,
    };
    let (refused, evidence) = match request.bearer_auth(&token).send().await {
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            (status.is_client_error(), format!("{status} {body:.300}"))
        }
        Err(e) => return (false, format!("no answer: {e}")),
    };
    match call {
        // An upload into a directory may also be accepted under the last component of its file
        // name only (as the client encoded it): blocked when that is where it landed.
        Call::Upload(dir, filename) if !refused && evidence.starts_with("200") => {
            let tail = filename.rsplit('/').next().unwrap_or(filename);
            let listing = http()
                .get(url(&format!("/files/list?path={dir}")))
                .bearer_auth(&token)
                .send()
                .await;
            let names: Vec<String> = match listing {
                Ok(r) => r.json::<serde_json::Value>().await.map_or_else(
                    |_| Vec::new(),
                    |v| {
                        v["files"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|f| f["name"].as_str().map(str::to_owned))
                            .collect()
                    },
                ),
                Err(_) => Vec::new(),
            };
            let landed = names.iter().find(|n| n.ends_with(tail));
            (
                landed.is_some(),
                format!("{evidence}; stored in {dir} as {landed:?}"),
            )
        }
        _ => (refused, evidence),
    }
}

async fn watch_refused(addr: SocketAddr, token: &str, path: &str) -> (bool, String) {
    let mut req = format!("ws://{addr}/files/watch")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = match tokio_tungstenite::connect_async(req).await {
        Ok(ws) => ws,
        Err(e) => return (true, format!("refused: {e}")),
    };
    let frame = format!(r#"{{"action":"watch","path":"{path}"}}"#);
    ws.send(Message::Text(frame.into())).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => (t.contains("\"error\""), t.to_string()),
        Ok(other) => (true, format!("closed: {other:?}")),
        Err(_) => (
            false,
            "the watch was accepted (no error frame in 3 s)".into(),
        ),
    }
}

fn print_table(outcomes: &[Outcome]) {
    let mut s = format!(
        "\n{:<62} {:<38} {:<10} {:<7} blocked\n",
        "attack", "class", "where", "profile"
    );
    for o in outcomes {
        let blocked = if o.blocked { "yes" } else { "NO" };
        let _ = writeln!(
            s,
            "{:<62} {:<38} {:<10} {:<7} {blocked}",
            o.attack, o.class, o.place, o.profile
        );
    }
    println!("{s}");
}

fn port(l: &TcpListener) -> u16 {
    l.local_addr().unwrap().port()
}

async fn tcp_open(target: &str) -> bool {
    let connect = tokio::net::lookup_host(target.to_owned());
    let Ok(Ok(mut addrs)) = tokio::time::timeout(Duration::from_secs(2), connect).await else {
        return false;
    };
    let Some(addr) = addrs.next() else {
        return false;
    };
    let connect = tokio::net::TcpStream::connect(addr);
    matches!(
        tokio::time::timeout(Duration::from_secs(2), connect).await,
        Ok(Ok(_))
    )
}

/// The host's IPv6 link-local addresses and their interface indexes (of its own interfaces and
/// bridges; not the transient veths of containers).
fn host_link_locals() -> Vec<(String, String)> {
    let out = Command::new("ip")
        .args(["-6", "-o", "addr", "show", "scope", "link"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.get(1)?.starts_with("veth") || l.contains("tentative") {
                return None;
            }
            let addr = f.get(3)?.split('/').next()?;
            addr.parse::<std::net::Ipv6Addr>().ok()?;
            Some((addr.to_owned(), f.first()?.trim_end_matches(':').to_owned()))
        })
        .collect()
}
