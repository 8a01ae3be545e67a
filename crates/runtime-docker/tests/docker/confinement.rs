//! What user code can reach of the kernel and the host: Warren's seccomp profile refuses io_uring,
//! bpf, userfaultfd, the key syscalls and perf_event_open (under runc and gVisor) while ordinary
//! work runs; the root filesystem is read-only, so every write lands on the sandbox's quota'd
//! disk; and nothing inside a sandbox names another sandbox (embedded DNS forward and reverse, ARP,
//! mount info, hosts files).

use std::process::Command;

use runtime::{Isolation, SandboxRuntime as _};

use crate::helpers::*;

/// The image with Python, pip, matplotlib and Node.
const CODE_IMAGE: &str = "warren/template-code-interpreter:latest";
/// The image with Node and npm.
const NODE_IMAGE: &str = "warren/template-nodejs:latest";

/// Calls each refused syscall (x86_64 numbers) with arguments that would succeed where allowed
/// (io_uring_setup with a zeroed params block, bpf's map create, a session keyring lookup...), and
/// prints `name result errno` per line.
const SYSCALL_PROBE: &str = r#"
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(256)
calls = [
    ("io_uring_setup", 425, (8, buf)),
    ("io_uring_enter", 426, (0, 1, 0, 0, None, 0)),
    ("io_uring_register", 427, (0, 0, None, 0)),
    ("bpf", 321, (0, buf, 72)),
    ("userfaultfd", 323, (0,)),
    ("keyctl", 250, (0, -3, 1)),
    ("add_key", 248, (b"user", b"k", b"v", 1, -3)),
    ("request_key", 249, (b"user", b"k", None, -3)),
    ("perf_event_open", 298, (buf, 0, -1, -1, 0)),
]
for name, nr, args in calls:
    ctypes.set_errno(0)
    print(name, libc.syscall(nr, *args), ctypes.get_errno())
"#;

async fn refused_syscalls(isolation: Isolation) {
    let rt = runtime().await;
    let (mut spec, key, _cleanup) = spec(PYTHON_IMAGE);
    spec.isolation = isolation;
    let id = &spec.sandbox_id;
    let sbx = rt.create(&spec).await.unwrap();
    let out = run(sbx.agent_addr, id, &key, "python", SYSCALL_PROBE).await;
    assert!(out.success, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 9, "{out:?}");
    for line in lines {
        let fields: Vec<&str> = line.split(' ').collect();
        // Refused by the profile: -1 with EPERM (gVisor applies it too, `--oci-seccomp`).
        assert_eq!(fields[1..], ["-1", "1"], "{line} ({isolation:?})");
    }
    // Ordinary work still runs: threads, select() (glibc's pselect6, which runsc refused under an
    // allow list), a subprocess, bash's `read -t`.
    let threads = "import threading, subprocess, select, os\n\
        t = [threading.Thread(target=lambda: None) for _ in range(8)]\n\
        [x.start() for x in t]; [x.join() for x in t]\n\
        r, w = os.pipe(); os.write(w, b'x')\n\
        print(select.select([r], [], [], 1)[0] == [r])\n\
        print(subprocess.run(['bash', '-c', 'read -t 0.1 x < /dev/null; echo ok'], capture_output=True, text=True).stdout, end='')";
    let ran = run(sbx.agent_addr, id, &key, "python", threads).await;
    assert_eq!(ran.stdout, "True\nok\n", "{ran:?}");
    rt.destroy(id).await.unwrap();
}

#[tokio::test]
async fn seccomp_refuses_io_uring_bpf_userfaultfd_keys_and_perf() {
    refused_syscalls(Isolation::Container).await;
}

#[tokio::test]
async fn seccomp_refuses_the_same_under_gvisor() {
    refused_syscalls(Isolation::Gvisor).await;
}

/// Root inside the sandbox's container (the agent's user), through the engine.
fn as_root(sandbox_id: &str, script: &str) -> std::process::Output {
    Command::new("docker")
        .args([
            "exec",
            "-u",
            "0",
            &format!("warren-{sandbox_id}"),
            "sh",
            "-c",
            script,
        ])
        .output()
        .expect("run docker")
}

#[tokio::test]
async fn the_root_filesystem_is_read_only_and_every_writable_path_is_on_the_disk() {
    let rt = runtime().await;
    assert!(rt.disk_bounded(), "the sandbox disk (btrfs) is missing");
    let (mut spec, key, _cleanup) = spec(CODE_IMAGE);
    spec.resources.disk_mb = 64;
    let id = &spec.sandbox_id;
    let sbx = rt.create(&spec).await.unwrap();

    // Outside the writable paths nothing can be written, not even by root.
    for dir in [
        "/opt",
        "/usr/local",
        "/var",
        "/etc",
        "/",
        "/run",
        "/usr/lib/python3",
    ] {
        let user = run(sbx.agent_addr, id, &key, "bash", &format!("mkdir {dir}/x")).await;
        assert!(!user.success, "{dir}: {user:?}");
        let root = as_root(id, &format!("mkdir {dir}/x"));
        let stderr = String::from_utf8_lossy(&root.stderr);
        assert!(stderr.contains("Read-only file system"), "{dir}: {root:?}");
    }
    // Every writable path is on the disk or a bounded tmpfs.
    let writable = "/workspace /home/user /tmp /var/tmp /run/lock /dev/shm /.warren/tmp";
    let df = bash(
        sbx.agent_addr,
        id,
        &key,
        &format!("for d in {writable}; do touch $d/w && df --output=fstype $d | tail -1; done"),
    )
    .await;
    assert_eq!(
        df.split_whitespace().collect::<Vec<_>>(),
        [
            "btrfs", "btrfs", "btrfs", "btrfs", "btrfs", "tmpfs", "tmpfs"
        ],
        "{df}"
    );
    // Ordinary work of the templates: pip install --user, matplotlib's cache, node.
    let work = r#"set -e
mkdir -p /tmp/pkg/hello && cd /tmp/pkg
echo 'print("hello")' > hello/__init__.py
printf 'from setuptools import setup\nsetup(name="hello", version="1", packages=["hello"])\n' > setup.py
pip install --user --no-index --no-build-isolation -q . 2>&1 | grep -v -i warning || true
cd / && python3 -c 'import hello'
python3 -c 'import matplotlib.pyplot as p; p.plot([1,2]); p.savefig("/workspace/p.png")'
node -e 'require("fs").writeFileSync("/workspace/n.txt", "n")' && cat /workspace/n.txt && echo"#;
    let out = bash(sbx.agent_addr, id, &key, work).await;
    assert_eq!(out, "hello\nn\n");
    // The disk is bounded: a filler stops at the quota.
    let fill = run(
        sbx.agent_addr,
        id,
        &key,
        "bash",
        "dd if=/dev/zero of=/workspace/fill bs=1M count=200 2>&1; stat -c %s /workspace/fill",
    )
    .await;
    assert!(fill.stdout.contains("Disk quota exceeded"), "{fill:?}");
    let written: u64 = fill.stdout.lines().last().unwrap().trim().parse().unwrap();
    assert!(written <= 64 << 20, "{written} bytes written");
    rt.destroy(id).await.unwrap();
}

#[tokio::test]
async fn npm_works_on_a_read_only_root() {
    let rt = runtime().await;
    let (spec, key, _cleanup) = spec(NODE_IMAGE);
    let id = &spec.sandbox_id;
    let sbx = rt.create(&spec).await.unwrap();
    let script = r#"set -e
mkdir -p /tmp/lib && cd /tmp/lib && npm init -y >/dev/null
cd /workspace && npm init -y >/dev/null && npm install --offline --no-audit --no-fund /tmp/lib >/dev/null 2>&1
npm install -g --offline --no-audit --no-fund /tmp/lib >/dev/null 2>&1
ls /workspace/node_modules ~/.npm-global/lib/node_modules"#;
    let out = bash(sbx.agent_addr, id, &key, script).await;
    assert_eq!(out.lines().filter(|l| *l == "lib").count(), 2, "{out}");
    rt.destroy(id).await.unwrap();
}

/// From inside a sandbox: forward and reverse lookups through the system resolver and by raw
/// queries to the engine's embedded DNS (127.0.0.11), for the other sandbox's address and the names
/// it might go by; then the files that could name neighbours. Prints what it got, never the names
/// it asked for: `forward` lines carry the answer count of each raw query and the addresses (or the
/// error) of each system lookup.
const NEIGHBOUR_PROBE: &str = r#"
import socket, struct, sys, random
ip, other = sys.argv[1], sys.argv[2]
def raw(name, qtype):
    q = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(q, ("127.0.0.11", 53))
    return s.recv(4096)
ptr = ".".join(reversed(ip.split("."))) + ".in-addr.arpa"
print("raw-ptr", raw(ptr, 12))
for name in [other, "warren-" + other, "warren-" + other + "-net"]:
    ancount = struct.unpack(">H", raw(name, 1)[6:8])[0]
    try:
        found = socket.gethostbyname_ex(name)[2]
    except OSError as e:
        found = e.__class__.__name__
    print("forward", ancount, found)
try:
    print("gethostbyaddr", socket.gethostbyaddr(ip))
except OSError as e:
    print("gethostbyaddr", e)
for path in ["/proc/self/mountinfo", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc/net/arp"]:
    print(path, open(path).read())
"#;

#[tokio::test]
async fn nothing_inside_a_sandbox_names_another_sandbox() {
    let rt = runtime().await;
    let (one, key, _c1) = spec(PYTHON_IMAGE);
    let (other, _other_key, _c2) = spec(PYTHON_IMAGE);
    let (a, b) = tokio::try_join!(rt.create(&one), rt.create(&other)).unwrap();
    let id = &one.sandbox_id;
    // The other sandbox's traffic puts it in the neighbour table, if anything could.
    let _ = connects(a.agent_addr, id, &key, &[b.agent_addr]).await;
    let script = format!(
        "cat > /tmp/p.py <<'EOF'\n{NEIGHBOUR_PROBE}\nEOF\npython3 /tmp/p.py {} {}; ip neigh 2>&1 || true",
        b.agent_addr.ip(),
        other.sandbox_id
    );
    let out = bash(a.agent_addr, id, &key, &script).await;
    // The embedded DNS does answer the reverse query: with the holder's opaque name.
    let ptr = out.lines().find(|l| l.starts_with("raw-ptr")).unwrap();
    assert!(ptr.contains("warren-net-"), "{out}");
    assert!(
        out.contains(&b.agent_addr.ip().to_string()),
        "the ARP table: {out}"
    );
    let forward: Vec<&str> = out.lines().filter(|l| l.starts_with("forward")).collect();
    assert_eq!(forward, ["forward 0 gaierror"; 3], "{out}");
    assert!(!out.contains(&other.sandbox_id), "{out}");
    rt.destroy(id).await.unwrap();
    rt.destroy(&other.sandbox_id).await.unwrap();
}
