//! Resource limits under abuse: a disk filler, an out-of-memory loop and a fork bomb in one sandbox
//! leave another sandbox's agent healthy, and the filler stops at the sandbox's disk limit. In the
//! serialized nextest group `docker-destructive`.

use std::time::Duration;

use runtime::SandboxRuntime as _;

use crate::helpers::*;

/// Every process forks until a deadline, then exits.
const FORK_BOMB: &str = r#"python3 - <<'EOF'
import os, time
end = time.time() + 5
while time.time() < end:
    try:
        pid = os.fork()
    except OSError:
        time.sleep(0.01)
        continue
    if pid == 0:
        while time.time() < end:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
        os._exit(0)
print("survived")
EOF"#;

#[tokio::test]
async fn abuse_in_one_sandbox_leaves_another_healthy() {
    let rt = runtime().await;
    assert!(rt.disk_bounded(), "the sandbox disk (btrfs) is missing");
    let (mut attacker, key, _ca) = spec(PYTHON_IMAGE);
    attacker.resources.memory_mb = 256;
    attacker.resources.disk_mb = 64;
    let (victim, _victim_key, _cv) = spec(BASE_IMAGE);
    let (sa, sv) = tokio::try_join!(rt.create(&attacker), rt.create(&victim)).unwrap();
    let id = &attacker.sandbox_id;

    // Disk filler: stops at the limit.
    let fill = run(
        sa.agent_addr,
        id,
        &key,
        "bash",
        "dd if=/dev/zero of=/workspace/fill bs=1M count=1000 2>&1; stat -c %s /workspace/fill",
    )
    .await;
    assert!(fill.stdout.contains("Disk quota exceeded"), "{fill:?}");
    let written: u64 = fill.stdout.lines().last().unwrap().trim().parse().unwrap();
    assert!(written <= 64 << 20, "{written} bytes written");
    assert!(healthy(sv.agent_addr).await);

    // Memory hog: killed by the memory limit; the sandbox's own agent survives it.
    let hog = run(
        sa.agent_addr,
        id,
        &key,
        "bash",
        "python3 -c 'b = []\nwhile True: b.append(bytearray(1 << 24))'",
    )
    .await;
    assert!(!hog.success, "{hog:?}");
    assert!(healthy(sv.agent_addr).await);
    assert!(healthy(sa.agent_addr).await);

    // Fork bomb, with the other sandbox asked while it runs. User processes are the OOM killer's
    // first choice (oom_score_adj 1000), so the attacker's own agent survives as well.
    let (_bomb, victim_during) =
        tokio::join!(try_run(sa.agent_addr, id, &key, "bash", FORK_BOMB), async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            healthy(sv.agent_addr).await
        });
    assert!(victim_during);
    assert!(healthy(sv.agent_addr).await);
    assert!(
        healthy(sa.agent_addr).await,
        "the fork bomb took its agent down"
    );
    // New processes start again once the bomb's have ended (until then the agent answers 503
    // RESOURCE_EXHAUSTED rather than failing).
    let mut after = try_run(sa.agent_addr, id, &key, "bash", "echo alive").await;
    for _ in 0..50 {
        if after.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = try_run(sa.agent_addr, id, &key, "bash", "echo alive").await;
    }
    assert_eq!(
        after.expect("a process starts after the bomb").stdout,
        "alive\n"
    );

    rt.destroy(id).await.unwrap();
    rt.destroy(&victim.sandbox_id).await.unwrap();
}
