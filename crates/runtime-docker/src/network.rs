//! The shared sandbox networks and the host firewall rules that close them off
//! (docs/runtime-research.md §2): bridges without inter-container traffic, one of them `--internal`,
//! and iptables rules that drop what sandboxes send to the host itself and to link-local addresses.
//! Everything here is idempotent and runs on every connect.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use runtime::RuntimeError;
use tokio::process::Command;

use crate::engine::{LABEL_MANAGED, failed, map_transport, status_of};
use runtime::NetworkSettings;

/// Prefix of every sandbox bridge; the firewall rules match `wsbx+`.
pub const BRIDGE_PREFIX: &str = "wsbx";
/// The chain the host's `INPUT` sends sandbox traffic to.
const CHAIN: &str = "WARREN-INPUT";

/// Creates `net` unless a network of that name exists.
pub async fn ensure_network(
    docker: &Docker,
    net: &NetworkSettings,
    internal: bool,
) -> Result<(), RuntimeError> {
    if !net.bridge.starts_with(BRIDGE_PREFIX) {
        return Err(failed(format!(
            "bridge name {:?} must start with {BRIDGE_PREFIX:?} (the firewall rules match it)",
            net.bridge
        )));
    }
    match docker.inspect_network(&net.name, None).await {
        Ok(_) => return Ok(()),
        Err(e) if status_of(&e) == Some(404) => {}
        Err(e) => return Err(map_transport(e)),
    }
    let options = HashMap::from([
        (
            "com.docker.network.bridge.name".to_owned(),
            net.bridge.clone(),
        ),
        (
            "com.docker.network.bridge.enable_icc".to_owned(),
            "false".to_owned(),
        ),
    ]);
    let request = NetworkCreateRequest {
        name: net.name.clone(),
        driver: Some("bridge".into()),
        internal: Some(internal),
        ipam: Some(Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(net.subnet.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        options: Some(options),
        labels: Some(HashMap::from([(LABEL_MANAGED.to_owned(), "1".to_owned())])),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(()),
        // Another replica made it first.
        Err(e) if status_of(&e) == Some(409) => Ok(()),
        Err(e) => Err(map_transport(e)),
    }
}

/// Installs the rules, adding only those missing, so running it again (or from several replicas at
/// once) never opens a gap.
pub async fn install_firewall() -> Result<(), RuntimeError> {
    let bridges = format!("{BRIDGE_PREFIX}+");
    if !iptables(&["-L", CHAIN, "-n"]).await? {
        // A concurrent creator makes this fail; the rules below are checked either way.
        iptables(&["-N", CHAIN]).await?;
    }
    let established = [
        "-m",
        "conntrack",
        "--ctstate",
        "ESTABLISHED,RELATED",
        "-j",
        "ACCEPT",
    ];
    ensure_rule(CHAIN, &established, Position::First).await?;
    ensure_rule(CHAIN, &["-j", "DROP"], Position::Last).await?;
    ensure_rule("INPUT", &["-i", &bridges, "-j", CHAIN], Position::First).await?;
    ensure_rule(
        "DOCKER-USER",
        &["-i", &bridges, "-d", "169.254.0.0/16", "-j", "DROP"],
        Position::First,
    )
    .await
}

enum Position {
    First,
    Last,
}

async fn ensure_rule(chain: &str, rule: &[&str], at: Position) -> Result<(), RuntimeError> {
    let check: Vec<&str> = ["-C", chain]
        .into_iter()
        .chain(rule.iter().copied())
        .collect();
    if iptables(&check).await? {
        return Ok(());
    }
    let add: Vec<&str> = match at {
        Position::First => vec!["-I", chain, "1"],
        Position::Last => vec!["-A", chain],
    }
    .into_iter()
    .chain(rule.iter().copied())
    .collect();
    if iptables(&add).await? {
        Ok(())
    } else {
        Err(failed(format!("iptables {} failed", add.join(" "))))
    }
}

/// Runs `iptables -w ARGS`; whether it exited 0.
async fn iptables(args: &[&str]) -> Result<bool, RuntimeError> {
    let out = Command::new("iptables")
        .arg("-w")
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| failed(format!("cannot run iptables: {e}")))?;
    Ok(out.status.success())
}
