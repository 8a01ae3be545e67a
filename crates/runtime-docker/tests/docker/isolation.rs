//! Every network isolation claim, probed from inside sandboxes: no other sandbox, no host port, no
//! link-local metadata address, and no egress without internet access. Each blocked path has a
//! positive control showing something listens there.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command};

use runtime::{Isolation, SandboxRuntime as _};

use crate::helpers::*;

const MIRROR: &str =
    "curl -s -o /dev/null -m 5 -w '%{http_code}' http://deb.debian.org/debian/ || true";
const METADATA: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)), 80);

#[tokio::test]
async fn sandboxes_reach_neither_each_other_nor_the_host_nor_metadata() {
    isolation_holds(Isolation::Container).await;
}

/// gVisor's `runsc-hostnet` uses the container's own network namespace, on the same bridges.
#[tokio::test]
async fn gvisor_sandboxes_are_isolated_alike() {
    isolation_holds(Isolation::Gvisor).await;
}

async fn isolation_holds(isolation: Isolation) {
    let rt = runtime().await;
    let (mut a, key_a, _ca) = spec(BASE_IMAGE);
    let (mut b, _key_b, _cb) = spec(BASE_IMAGE);
    let (mut c, key_c, _cc) = spec(BASE_IMAGE);
    for s in [&mut a, &mut b, &mut c] {
        s.isolation = isolation;
    }
    c.internet_access = false;
    let (sa, sb, sc) = tokio::try_join!(rt.create(&a), rt.create(&b), rt.create(&c)).unwrap();
    let metadata = FakeMetadata::start();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();

    // Targets, each shown to be listening from the host: another sandbox's agent, a port the host
    // listens on (0.0.0.0) at every host address and at both sandbox gateways, and the metadata
    // server on 169.254.169.254, routed like a real one.
    let mut host_ips = host_ipv4s();
    host_ips.push(gateway_of(sa.agent_addr));
    host_ips.push(gateway_of(sc.agent_addr));
    let mut targets = vec![sb.agent_addr, sa.agent_addr, METADATA];
    targets.extend(host_ips.into_iter().map(|ip| SocketAddr::new(ip, port)));
    for target in &targets {
        assert!(
            tokio::net::TcpStream::connect(target).await.is_ok(),
            "{target}"
        );
    }
    // From inside, only A's own agent (the probe's positive control) is open to A; nothing to C.
    let (open_a, open_c) = tokio::join!(
        connects(sa.agent_addr, &a.sandbox_id, &key_a, &targets),
        connects(sc.agent_addr, &c.sandbox_id, &key_c, &targets),
    );
    let only_own: Vec<bool> = targets.iter().map(|t| *t == sa.agent_addr).collect();
    assert_eq!(open_a, only_own, "{targets:?}");
    assert_eq!(open_c, vec![false; targets.len()], "{targets:?}");
    drop(metadata);

    // Egress: the mirror answers the default network, not the internal one.
    let (mirror_a, mirror_c) = tokio::join!(
        bash(sa.agent_addr, &a.sandbox_id, &key_a, MIRROR),
        bash(sc.agent_addr, &c.sandbox_id, &key_c, MIRROR),
    );
    assert_eq!(mirror_a, "200");
    assert_ne!(mirror_c, "200");

    for id in [&a.sandbox_id, &b.sandbox_id, &c.sandbox_id] {
        rt.destroy(id).await.unwrap();
    }
}

/// The host's own IPv4 addresses.
pub fn host_ipv4s() -> Vec<IpAddr> {
    let out = Command::new("hostname").arg("-I").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .filter_map(|s| s.parse::<Ipv4Addr>().ok())
        .map(IpAddr::V4)
        .collect()
}

/// The bridge gateway (the host's address on a sandbox network, `.1` of the /16).
pub fn gateway_of(agent: SocketAddr) -> IpAddr {
    let IpAddr::V4(ip) = agent.ip() else {
        panic!("IPv4 expected")
    };
    let [a, b, ..] = ip.octets();
    IpAddr::V4(Ipv4Addr::new(a, b, 0, 1))
}

/// An HTTP server at 169.254.169.254:80 in its own network namespace behind a veth, so packets to it
/// are forwarded by the host as to a real metadata service. Removed on drop.
pub struct FakeMetadata {
    ns: String,
    host_if: String,
    server: Child,
}

impl FakeMetadata {
    pub fn start() -> Self {
        let tag = &sandbox_id()[1..7];
        let (ns, host_if, ns_if) = (
            format!("wmeta{tag}"),
            format!("wmh{tag}"),
            format!("wmn{tag}"),
        );
        let script = format!(
            "ip netns add {ns}
             ip link add {host_if} type veth peer name {ns_if}
             ip link set {ns_if} netns {ns}
             ip addr add 169.254.169.1/24 dev {host_if}
             ip link set {host_if} up
             ip netns exec {ns} ip addr add 169.254.169.254/24 dev {ns_if}
             ip netns exec {ns} ip link set {ns_if} up
             ip netns exec {ns} ip link set lo up
             ip netns exec {ns} ip route add default via 169.254.169.1"
        );
        let out = Command::new("sh").args(["-ec", &script]).output().unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
        let server = Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-m", "http.server", "80"])
            .args(["--bind", "169.254.169.254"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let fake = Self {
            ns,
            host_if,
            server,
        };
        // Until it listens (bounded by the test's timeout).
        while std::net::TcpStream::connect(METADATA).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        fake
    }
}

impl Drop for FakeMetadata {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}
