//! Two real `warren serve` processes on one database: the CLI, the shared rate-limit budget and key
//! revocation seen by both.

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use futures::future::join_all;
use test_support::{TestDatabase, test_database};

const WARREN: &str = env!("CARGO_BIN_EXE_warren");

fn warren(db: &TestDatabase, args: &[&str]) -> Output {
    Command::new(WARREN)
        .args(args)
        .env("WARREN_DATABASE__URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run warren")
}

fn ok_stdout(out: Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `org create` + `key create`; returns (key id, key).
fn org_with_key(db: &TestDatabase, org: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["org", "create", org];
    args.extend_from_slice(extra);
    ok_stdout(warren(db, &args));
    let out = ok_stdout(warren(db, &["key", "create", "--org", org, "--name", "ci"]));
    let key = out.lines().last().unwrap().to_owned();
    assert!(key.starts_with("wrn_"), "last line is the key: {out}");
    (key.split('_').nth(1).unwrap().to_owned(), key)
}

pub struct Replica {
    pub child: Child,
    pub base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_replica(db: &TestDatabase, rate_limit: u32) -> Replica {
    let rate_limit = rate_limit.to_string();
    start_serve(
        db,
        &[
            ("WARREN_LIMITS__RATE_LIMIT", &rate_limit),
            ("WARREN_LIMITS__RATE_WINDOW_SECONDS", "3600"),
            // Leases of up to 5 % of the budget per replica and key (1 % by default).
            ("WARREN_LIMITS__RATE_LEASE_FRACTION", "0.05"),
        ],
    )
    .await
}

/// `warren serve` on `db` and a free port, with extra `WARREN_*` settings; returns once healthy.
pub async fn start_serve(db: &TestDatabase, settings: &[(&str, &str)]) -> Replica {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(WARREN)
        .arg("serve")
        .env("WARREN_DATABASE__URL", &db.url)
        .env("WARREN_SERVER__HOST", "127.0.0.1")
        .env("WARREN_SERVER__PORT", port.to_string())
        .envs(settings.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn warren serve");
    let replica = Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{}/health", replica.base)).send().await
            && r.status() == 200
        {
            return replica;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("warren serve did not become healthy");
}

#[tokio::test]
async fn cli_manages_orgs_and_keys() {
    let db = test_database().await;
    for sub in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["org", "create", "--help"],
        &["key", "create", "--help"],
        &["key", "list", "--help"],
        &["key", "revoke", "--help"],
    ] {
        ok_stdout(warren(&db, sub));
    }
    assert!(ok_stdout(warren(&db, &["migrate"])).contains("applied"));
    let (key_id, _) = org_with_key(&db, "acme", &["--rate-limit", "50", "--max-sandboxes", "3"]);
    assert!(
        !warren(&db, &["org", "create", "acme"]).status.success(),
        "duplicate org refused"
    );
    assert!(
        !warren(&db, &["key", "create", "--org", "nobody"])
            .status
            .success()
    );
    let listed = ok_stdout(warren(&db, &["key", "list", "--org", "acme"]));
    assert!(
        listed.contains(&key_id) && !listed.contains("wrn_"),
        "{listed}"
    );
    ok_stdout(warren(&db, &["key", "revoke", &key_id]));
    assert!(
        !warren(&db, &["key", "revoke", &key_id]).status.success(),
        "already revoked"
    );
    let listed = ok_stdout(warren(&db, &["key", "list", "--org", "acme"]));
    assert!(
        listed.lines().nth(1).unwrap().trim_end().ends_with('Z'),
        "revocation shown: {listed}"
    );
}

#[tokio::test]
async fn two_replicas_share_one_budget_within_5_percent() {
    const LIMIT: usize = 100;
    let db = test_database().await;
    let (_, key) = org_with_key(&db, "acme", &[]);
    let replicas = [
        start_replica(&db, LIMIT as u32).await,
        start_replica(&db, LIMIT as u32).await,
    ];
    let client = reqwest::Client::new();
    let requests = (0..3 * LIMIT).map(|i| {
        let url = format!("{}/v1/sandboxes?limit=1", replicas[i % 2].base);
        let req = client.get(url).header("x-api-key", &key);
        async move { req.send().await.expect("request").status().as_u16() }
    });
    let statuses = join_all(requests).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        ok + limited,
        statuses.len(),
        "only 200 or 429: {statuses:?}"
    );
    // Leased tokens a replica holds unspent when its share of the burst ends are the only slack: at
    // most one lease (5 % of the budget) per replica, never more than the budget.
    assert!(
        (LIMIT - 2 * LIMIT / 20..=LIMIT).contains(&ok),
        "{ok} requests allowed for a budget of {LIMIT}"
    );
    // More requests to each replica spend what their leases still hold, and not one token more.
    let mut drained = 0;
    for replica in &replicas {
        for _ in 0..=LIMIT / 20 {
            let status = client
                .get(format!("{}/v1/sandboxes?limit=1", replica.base))
                .header("x-api-key", &key)
                .send()
                .await
                .expect("request")
                .status()
                .as_u16();
            assert!(status == 200 || status == 429, "only 200 or 429: {status}");
            drained += usize::from(status == 200);
        }
    }
    assert_eq!(
        ok + drained,
        LIMIT,
        "{ok} allowed in the burst and {drained} after it, for a budget of {LIMIT}"
    );
}

#[tokio::test]
async fn a_key_revoked_by_the_cli_is_refused_by_both_replicas() {
    let db = test_database().await;
    let (key_id, key) = org_with_key(&db, "acme", &[]);
    let replicas = [
        start_replica(&db, 1000).await,
        start_replica(&db, 1000).await,
    ];
    let client = reqwest::Client::new();
    let status = |base: &str| {
        let req = client
            .get(format!("{base}/v1/sandboxes"))
            .header("x-api-key", &key);
        async move { req.send().await.expect("request").status().as_u16() }
    };
    for r in &replicas {
        assert_eq!(status(&r.base).await, 200);
    }
    ok_stdout(warren(&db, &["key", "revoke", &key_id]));
    // The event: each replica refuses the key (cached, with leased tokens) after the revocation
    // reached it through NOTIFY (polled from here, generous cap).
    for r in &replicas {
        let mut refused = false;
        for _ in 0..100 {
            if status(&r.base).await == 401 {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(refused, "replica {} still accepts a revoked key", r.base);
    }
}
