//! Network-namespace holders: a create claims a spare (or starts one when the spares are gone), the
//! sandbox joins its namespace, stop/start survives a stopped or removed holder, destroy and the reconciler's
//! view leave no holder behind, and the spares of a process that died (not those of a live one) are
//! swept.

use std::process::Command;
use std::time::Duration;

use runtime::{RuntimeState, SandboxRuntime as _};

use crate::helpers::*;

/// The instance `runtime()` uses.
const INSTANCE: &str = "runtime-docker-tests";

/// Ids of this instance's spare holders on the egress network.
fn spares() -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            "label=warren.holder=warren-sandboxes",
            "--filter",
            &format!("label=warren.instance={INSTANCE}"),
            "--filter",
            "name=^warren-spare-",
        ])
        .output()
        .expect("run docker");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits (up to a minute, a bound for a loaded machine, not a latency claim) until the pool holds
/// the default two spares; their ids.
async fn full_pool() -> Vec<String> {
    for _ in 0..600 {
        let ids = spares();
        if ids.len() >= 2 {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the spare holders did not start: {:?}", spares());
}

/// The holder the sandbox joined, checking that its name carries nothing of the sandbox's id.
fn holder(id: &str) -> String {
    let holder = holder_of(id).expect("the sandbox joined a holder");
    let name = inspect(&holder, "{{.Name}}").expect("the holder exists");
    assert!(name.starts_with("/warren-net-"), "{name}");
    assert!(!name.contains(id), "{name}");
    holder
}

#[tokio::test]
async fn a_create_claims_a_spare_and_joins_its_network_namespace() {
    let rt = runtime().await;
    let before = full_pool().await;
    let (spec, key, _cleanup) = spec(BASE_IMAGE);
    let id = &spec.sandbox_id;
    let sbx = rt.create(&spec).await.unwrap();

    let holder_id = holder(id);
    assert!(before.contains(&holder_id), "{holder_id} not in {before:?}");
    let ip = inspect(
        &holder(id),
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    assert_eq!(ip, Some(sbx.agent_addr.ip().to_string()));
    // The holder is hardened beyond the sandbox, and the sandbox still runs code with its hostname.
    let hardening = inspect(
        &holder(id),
        "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.CapAdd}} {{.Config.User}}",
    );
    assert_eq!(hardening.as_deref(), Some("true [ALL] [] 65534:65534"));
    assert_eq!(
        bash(sbx.agent_addr, id, &key, "hostname").await,
        "sandbox\n"
    );

    // Stop and start keep the holder, so the address.
    rt.stop(id).await.unwrap();
    assert_eq!(
        inspect(&holder(id), "{{.State.Running}}").as_deref(),
        Some("true")
    );
    let again = rt.start(id).await.unwrap();
    assert_eq!(again.agent_addr, sbx.agent_addr);
    assert!(healthy(again.agent_addr).await);

    // A holder stopped as well (an engine restart) is started again and the address read anew.
    rt.stop(id).await.unwrap();
    let stopped = Command::new("docker")
        .args(["stop", &holder(id)])
        .output()
        .unwrap();
    assert!(stopped.status.success(), "{stopped:?}");
    let restarted = rt.start(id).await.unwrap();
    let ip = inspect(
        &holder(id),
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    assert_eq!(ip, Some(restarted.agent_addr.ip().to_string()));
    assert_eq!(
        bash(restarted.agent_addr, id, &key, "echo up").await,
        "up\n"
    );

    // A holder removed outright: the container is made again on a new one, its disk kept.
    bash(restarted.agent_addr, id, &key, "echo kept > /workspace/f").await;
    rt.stop(id).await.unwrap();
    let removed = Command::new("docker")
        .args(["rm", "-f", &holder(id)])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{removed:?}");
    let rejoined = rt.start(id).await.unwrap();
    let new_holder = holder(id);
    assert_ne!(new_holder, holder_id);
    let out = bash(rejoined.agent_addr, id, &key, "cat /workspace/f").await;
    assert_eq!(out, "kept\n");

    rt.destroy(id).await.unwrap();
    assert!(!container_exists(id));
    assert_eq!(inspect(&new_holder, "{{.Id}}"), None);
}

#[tokio::test]
async fn spares_of_a_live_process_stay_those_of_a_dead_one_are_swept_and_claims_fall_back() {
    let first = runtime().await;
    let left = full_pool().await;
    // A second process of the same instance leaves a live process's spares alone.
    let second = runtime().await;
    assert!(second.sweep().await.unwrap().is_empty());
    for spare in &left {
        assert!(inspect(spare, "{{.Id}}").is_some(), "{spare} was removed");
    }
    // The first process dies without its shutdown (its owner lock goes with it): the next sweep
    // (the reconciler's, each pass) removes its spares, and only those.
    drop(first);
    let mut swept = Vec::new();
    for _ in 0..600 {
        swept.extend(second.sweep().await.unwrap());
        if left.iter().all(|s| inspect(s, "{{.Id}}").is_none()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for spare in &left {
        assert_eq!(inspect(spare, "{{.Id}}"), None, "{spare} is still there");
    }
    assert_eq!(swept.len(), left.len(), "{swept:?}");
    let first = second;
    // Claims of spares that vanished (removed behind the process's back) fall back to a holder
    // started inline.
    let own = full_pool().await;
    for spare in &own {
        let rm = Command::new("docker")
            .args(["rm", "-f", spare])
            .output()
            .unwrap();
        assert!(rm.status.success(), "{rm:?}");
    }
    let (spec, key, _cleanup) = spec(BASE_IMAGE);
    let id = &spec.sandbox_id;
    let sbx = first.create(&spec).await.unwrap();
    let holder_id = holder(id);
    assert!(!left.contains(&holder_id) && !own.contains(&holder_id));
    assert_eq!(bash(sbx.agent_addr, id, &key, "echo ok").await, "ok\n");

    // A sandbox whose container is gone but whose holder remains is listed (stopped), so the
    // reconciler destroys it, holder included.
    let removed = Command::new("docker")
        .args(["rm", "-f", &format!("warren-{id}")])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{removed:?}");
    let listed = first.list().await.unwrap();
    let state = listed.iter().find(|s| &s.sandbox_id == id).map(|s| s.state);
    assert_eq!(state, Some(RuntimeState::Stopped));
    first.destroy(id).await.unwrap();
    assert_eq!(inspect(&holder_id, "{{.Id}}"), None);
    let listed = first.list().await.unwrap();
    assert!(!listed.iter().any(|s| &s.sandbox_id == id));

    // A graceful shutdown removes the process's own spares and starts no more.
    full_pool().await;
    first.shutdown().await;
    for _ in 0..600 {
        if spares().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("spares left after the shutdowns: {:?}", spares());
}

#[tokio::test]
async fn a_sandbox_without_internet_joins_a_holder_on_the_internal_network() {
    let rt = runtime().await;
    let (mut spec, key, _cleanup) = spec(BASE_IMAGE);
    spec.internet_access = false;
    let id = &spec.sandbox_id;
    let sbx = rt.create(&spec).await.unwrap();
    let networks = inspect(
        &holder(id),
        "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}",
    );
    assert_eq!(networks.as_deref(), Some("warren-sandboxes-internal"));
    assert_eq!(bash(sbx.agent_addr, id, &key, "echo ok").await, "ok\n");
    rt.destroy(id).await.unwrap();
}
