//! Exhaustion held: a memory hog, a disk fill, inode exhaustion, a flood of open files, a flood of
//! WebSocket connections and a fork bomb, each inside one attacker sandbox, while a second sandbox
//! and the attacker's own agent are measured before, during and after (latency of `/health` and of a
//! small command, printed). The second sandbox stays healthy throughout; the attacker recovers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::future::join_all;
use runtime::SandboxRuntime as _;
use sandbox_token::TokenKey;
use test_support::attacks;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::helpers::*;

/// Longest a healthy agent may take for `/health` or a small command under load on this machine.
const HEALTHY: Duration = Duration::from_secs(5);

struct Sbx<'a> {
    name: &'static str,
    addr: SocketAddr,
    id: &'a str,
    key: &'a TokenKey,
}

/// Latencies of `/health` and of `echo ok` (None when it failed).
async fn measure(s: &Sbx<'_>) -> (Option<Duration>, Option<Duration>) {
    let t = Instant::now();
    let health = tokio::time::timeout(HEALTHY * 2, healthy(s.addr))
        .await
        .unwrap_or(false)
        .then(|| t.elapsed());
    let t = Instant::now();
    let command =
        tokio::time::timeout(HEALTHY * 2, try_run(s.addr, s.id, s.key, "bash", "echo ok"))
            .await
            .ok()
            .and_then(Result::ok)
            .filter(|r| r.stdout == "ok\n")
            .map(|_| t.elapsed());
    (health, command)
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "failed".into(), |d| format!("{} ms", d.as_millis()))
}

/// Measures both sandboxes, prints the line, and checks the victim is healthy.
async fn checkpoint(attack: &str, phase: &str, victim: &Sbx<'_>, attacker: &Sbx<'_>) -> bool {
    let ((vh, vc), (ah, ac)) = tokio::join!(measure(victim), measure(attacker));
    println!(
        "{attack:<14} {phase:<7} {:<9} health {:>9}  command {:>9} | {:<9} health {:>9}  command {:>9}",
        victim.name,
        ms(vh),
        ms(vc),
        attacker.name,
        ms(ah),
        ms(ac)
    );
    let ok = |d: Option<Duration>| d.is_some_and(|d| d < HEALTHY);
    assert!(
        ok(vh) && ok(vc),
        "{attack} {phase}: the other sandbox is not healthy"
    );
    ok(ah) && ok(ac)
}

/// Runs `script` in the attacker in the background and measures while it runs (`during` seconds in).
async fn during(attack: &str, script: &str, secs: u64, v: &Sbx<'_>, a: &Sbx<'_>) -> String {
    let (out, _) = tokio::join!(try_run(a.addr, a.id, a.key, "bash", script), async {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        checkpoint(attack, "during", v, a).await
    });
    out.map_or_else(
        |e| format!("no answer: {e}"),
        |r| format!("{}{}", r.stdout, r.stderr),
    )
}

#[tokio::test]
async fn exhaustion_in_one_sandbox_leaves_the_other_healthy() {
    let rt = runtime().await;
    assert!(rt.disk_bounded(), "the sandbox disk (btrfs) is missing");
    let (mut attacker, akey, _ca) = spec(PYTHON_IMAGE);
    attacker.resources.memory_mb = 256;
    attacker.resources.disk_mb = 64;
    let (victim, vkey, _cv) = spec(BASE_IMAGE);
    let (sa, sv) = tokio::try_join!(rt.create(&attacker), rt.create(&victim)).unwrap();
    let v = Sbx {
        name: "other",
        addr: sv.agent_addr,
        id: &victim.sandbox_id,
        key: &vkey,
    };
    let a = Sbx {
        name: "attacked",
        addr: sa.agent_addr,
        id: &attacker.sandbox_id,
        key: &akey,
    };
    assert!(checkpoint("(idle)", "before", &v, &a).await);

    // Memory hog: killed at the memory limit; the agent survives (user code goes first).
    let out = during("memory hog", attacks::MEMORY_HOG, 1, &v, &a).await;
    assert!(
        out.contains("exit=137") || out.contains("MemoryError"),
        "{out}"
    );
    assert!(checkpoint("memory hog", "after", &v, &a).await);

    // Disk fill: stops at the quota; removing the file gives the space back.
    let out = during("disk fill", attacks::DISK_FILL, 1, &v, &a).await;
    let written = attacks::disk_fill_bytes(&out);
    assert!(written <= 64 << 20, "{written} bytes written: {out}");
    bash(a.addr, a.id, a.key, attacks::DISK_FILL_UNDONE).await;
    assert!(checkpoint("disk fill", "after", &v, &a).await);

    // Inodes: empty files until the quota (or 20 s) stops it; all removed after.
    let out = during("inodes", attacks::INODES, 3, &v, &a).await;
    println!("inodes: {}", out.trim());
    assert!(out.contains("files, stopped by"), "{out}");
    bash(a.addr, a.id, a.key, attacks::INODES_UNDONE).await;
    assert!(checkpoint("inodes", "after", &v, &a).await);

    // Open files: one process opens files until its limit and holds them for 5 s.
    let out = during("open files", attacks::OPEN_FILES, 2, &v, &a).await;
    println!("open files: {}", out.trim());
    assert!(out.contains("open files, then"), "{out}");
    assert!(checkpoint("open files", "after", &v, &a).await);

    // WebSockets: 300 streams held open against the attacked agent.
    let sockets = ws_flood(&a, 300).await;
    println!("websockets: {} of 300 open", sockets.len());
    // The agent's cap (WARREN_AGENT_MAX_STREAMS, 256) holds under a burst of upgrades.
    assert!(sockets.len() <= 256, "{} streams open", sockets.len());
    checkpoint("websockets", "during", &v, &a).await;
    drop(sockets);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(checkpoint("websockets", "after", &v, &a).await);

    for id in [&attacker.sandbox_id, &victim.sandbox_id] {
        rt.destroy(id).await.unwrap();
    }
}

/// A fork bomb under `timeout`: its leftovers must not keep the attacked agent from answering, and
/// one call of the agent's kill-all route ends them, after which commands run again at once.
#[tokio::test]
async fn exhaustion_fork_bomb_is_stopped_by_kill_all() {
    let rt = runtime().await;
    let (attacker, akey, _ca) = spec(PYTHON_IMAGE);
    let (victim, vkey, _cv) = spec(BASE_IMAGE);
    let (sa, sv) = tokio::try_join!(rt.create(&attacker), rt.create(&victim)).unwrap();
    let v = Sbx {
        name: "other",
        addr: sv.agent_addr,
        id: &victim.sandbox_id,
        key: &vkey,
    };
    let a = Sbx {
        name: "attacked",
        addr: sa.agent_addr,
        id: &attacker.sandbox_id,
        key: &akey,
    };
    assert!(checkpoint("(idle)", "before", &v, &a).await);
    let _ = during("fork bomb", attacks::FORK_BOMB, 3, &v, &a).await;
    // The agent's headroom: it answers while the leftovers hold the pids limit.
    let (health, _) = measure(&a).await;
    assert!(
        health.is_some_and(|d| d < HEALTHY),
        "the attacked agent did not answer"
    );
    let token = akey.sign(a.id, now_unix() + 600);
    let killed = http()
        .post(format!("http://{}/processes/kill-all", a.addr))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(killed.status().is_success(), "{killed:?}");
    assert!(
        checkpoint("fork bomb", "after", &v, &a).await,
        "the attacked sandbox did not recover"
    );
    for id in [&attacker.sandbox_id, &victim.sandbox_id] {
        rt.destroy(id).await.unwrap();
    }
}

/// Opens up to `n` `/commands/stream` WebSockets to `s` at once (each session holds its slot while
/// it waits for its request frame); the open ones.
async fn ws_flood(
    s: &Sbx<'_>,
    n: usize,
) -> Vec<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>>
{
    let token = s.key.sign(s.id, now_unix() + 600);
    let opens = (0..n).map(|_| {
        let mut req = format!("ws://{}/commands/stream", s.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(req),
        )
    });
    join_all(opens)
        .await
        .into_iter()
        .filter_map(|r| r.ok()?.ok().map(|(ws, _)| ws))
        .collect()
}
