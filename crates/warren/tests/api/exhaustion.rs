//! Exhaustion held, seen from the whole stack: one organization's sandbox runs a memory hog, a disk
//! fill, inode exhaustion, a flood of open files, a flood of WebSockets through the router and a fork
//! bomb, while the control plane (`/health`, another organization's sandbox listing) and that other
//! organization's sandbox (a command through the router) are measured before, during and after each
//! (latencies printed). They stay healthy, the attacked sandbox recovers, and nothing of the other
//! organization changes. `runtime-docker`'s `exhaustion` tests hold the same attacks on the engine
//! alone.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::Value;
use sqlx::PgPool;
use test_support::attacks;
use test_support::test_database;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::docker::{clean_up, engine};
use crate::stack::{Sbx, Stack};

/// Longest a healthy answer may take under load on this machine.
const HEALTHY: Duration = Duration::from_secs(5);
/// WebSockets the flood opens to the attacked sandbox (above `router.max_connections_per_sandbox`).
const FLOOD: usize = 300;

impl Stack {
    /// The time `request` took to answer 200, if it did within twice [`HEALTHY`].
    async fn timed(&self, request: reqwest::RequestBuilder) -> Option<Duration> {
        let t = Instant::now();
        let r = tokio::time::timeout(HEALTHY * 2, request.send())
            .await
            .ok()?;
        (r.ok()?.status() == 200).then(|| t.elapsed())
    }

    /// The time `echo ok` took in `sb`, if it answered `ok` within twice [`HEALTHY`].
    async fn echo(&self, sb: &Sbx) -> Option<Duration> {
        let t = Instant::now();
        let out = tokio::time::timeout(HEALTHY * 2, self.run(sb, "bash", "echo ok"))
            .await
            .ok()?;
        (out.ok()? == "ok\n").then(|| t.elapsed())
    }

    /// Measures the control plane, the other organization's sandbox and the attacked one; prints the
    /// line; asserts the first two are healthy. Whether the attacked sandbox is.
    async fn checkpoint(&self, attack: &str, phase: &str, other: &Sbx, attacked: &Sbx) -> bool {
        let health = self.client.get(format!("{}/health", self.base));
        let list = self
            .client
            .get(format!("{}/v1/sandboxes", self.base))
            .header("x-api-key", &other.key);
        let (h, l, o, a) = tokio::join!(
            self.timed(health),
            self.timed(list),
            self.echo(other),
            self.echo(attacked)
        );
        let ms =
            |d: Option<Duration>| d.map_or("failed".into(), |d| format!("{} ms", d.as_millis()));
        println!(
            "{attack:<14} {phase:<7} control plane: health {:>9} list {:>9} | other org's sandbox {:>9} | attacked {:>9}",
            ms(h),
            ms(l),
            ms(o),
            ms(a)
        );
        let ok = |d: Option<Duration>| d.is_some_and(|d| d < HEALTHY);
        assert!(
            ok(h) && ok(l),
            "{attack} {phase}: the control plane is not healthy"
        );
        assert!(
            ok(o),
            "{attack} {phase}: the other organization's sandbox is not healthy"
        );
        ok(a)
    }

    /// Runs `script` in `attacked` and takes a checkpoint `secs` seconds into it; the script's output.
    async fn during(&self, attack: &str, script: &str, secs: u64, o: &Sbx, a: &Sbx) -> String {
        let (out, _) = tokio::join!(self.run(a, "bash", script), async {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            self.checkpoint(attack, "during", o, a).await
        });
        out.unwrap_or_else(|e| format!("no answer: {e}"))
    }

    /// Opens up to `n` `/commands/stream` WebSockets to `sb` through the router at once (each holds
    /// its slot while it waits for its request frame); the open ones and the refused ones' statuses.
    async fn ws_flood(&self, sb: &Sbx, n: usize) -> (Vec<impl Sized>, Vec<u16>) {
        let opens = (0..n).map(|_| async {
            let mut req = format!("ws://{}/commands/stream", self.host(&sb.id))
                .into_client_request()
                .unwrap();
            let bearer = format!("Bearer {}", sb.token).parse().unwrap();
            req.headers_mut().insert("authorization", bearer);
            let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
            tokio::time::timeout(
                Duration::from_secs(10),
                tokio_tungstenite::client_async(req, tcp),
            )
            .await
        });
        let mut open = Vec::new();
        let mut refused = Vec::new();
        for r in join_all(opens).await {
            match r {
                Ok(Ok((ws, _))) => open.push(ws),
                Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
                    refused.push(resp.status().as_u16());
                }
                other => panic!("a WebSocket neither opened nor was refused: {other:?}"),
            }
        }
        (open, refused)
    }
}

async fn org_key(pool: &PgPool, org: &str) -> String {
    control_plane::admin::create_org(pool, org, None, None)
        .await
        .unwrap();
    control_plane::admin::create_key(pool, org, None)
        .await
        .unwrap()
        .1
}

#[tokio::test]
async fn exhaustion_in_one_organizations_sandbox_leaves_the_control_plane_and_others_healthy() {
    let db = test_database().await;
    let pool = PgPool::connect(&db.url).await.unwrap();
    // Small limits for the attacked template, so that each attack meets its limit quickly.
    sqlx::query(
        "UPDATE templates SET memory_mb = 256, disk_gb = 1
         WHERE name = 'python' AND organization_id IS NULL",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (attacker_key, other_key) = (
        org_key(&pool, "attacker").await,
        org_key(&pool, "other").await,
    );
    let s = Stack::start(&db).await;
    let (a, o) = tokio::join!(
        s.create(&attacker_key, "python"),
        s.create(&other_key, "python")
    );
    s.run(&o, "bash", "echo kept > /workspace/marker")
        .await
        .unwrap();
    let before = s.record(&o).await;
    assert!(s.checkpoint("(idle)", "before", &o, &a).await);

    let out = s.during("memory hog", attacks::MEMORY_HOG, 1, &o, &a).await;
    assert!(
        out.contains("exit=137") || out.contains("MemoryError"),
        "{out}"
    );
    assert!(s.checkpoint("memory hog", "after", &o, &a).await);

    let out = s.during("disk fill", attacks::DISK_FILL, 2, &o, &a).await;
    let written = attacks::disk_fill_bytes(&out);
    assert!(written <= 1 << 30, "{written} bytes written: {out}");
    s.run(&a, "bash", attacks::DISK_FILL_UNDONE).await.unwrap();
    assert!(s.checkpoint("disk fill", "after", &o, &a).await);

    let out = s.during("inodes", attacks::INODES, 3, &o, &a).await;
    println!("inodes: {}", out.trim());
    assert!(out.contains("files, stopped by"), "{out}");
    s.run(&a, "bash", attacks::INODES_UNDONE).await.unwrap();
    assert!(s.checkpoint("inodes", "after", &o, &a).await);

    let out = s.during("open files", attacks::OPEN_FILES, 2, &o, &a).await;
    println!("open files: {}", out.trim());
    assert!(out.contains("open files, then"), "{out}");
    assert!(s.checkpoint("open files", "after", &o, &a).await);

    let (open, refused) = s.ws_flood(&a, FLOOD).await;
    println!(
        "websockets: {} of {FLOOD} open, {} refused with {:?}",
        open.len(),
        refused.len(),
        refused.iter().collect::<std::collections::BTreeSet<_>>()
    );
    assert!(refused.iter().all(|s| *s == 429), "{refused:?}");
    assert!(
        !refused.is_empty(),
        "the router's per-sandbox cap let {FLOOD} through"
    );
    s.checkpoint("websockets", "during", &o, &a).await;
    drop(open);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(s.checkpoint("websockets", "after", &o, &a).await);

    let _ = s.during("fork bomb", attacks::FORK_BOMB, 3, &o, &a).await;
    let killed = s
        .agent(&a, reqwest::Method::POST, "/processes/kill-all")
        .send()
        .await
        .unwrap();
    assert!(killed.status().is_success(), "{killed:?}");
    assert!(
        s.checkpoint("fork bomb", "after", &o, &a).await,
        "the attacked sandbox did not recover"
    );

    // Nothing of the other organization changed: its sandbox, its files, its listing.
    assert_eq!(s.record(&o).await, before);
    assert_eq!(
        s.run(&o, "bash", "cat /workspace/marker").await.unwrap(),
        "kept\n"
    );
    let listed: Value = s
        .client
        .get(format!("{}/v1/sandboxes", s.base))
        .header("x-api-key", &other_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(ids, [o.id.as_str()]);
    drop(s);
    clean_up(&pool, &engine().await).await;
}
