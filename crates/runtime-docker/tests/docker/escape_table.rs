//! The attacks of the escape suite, one row each: what user code runs (as the sandbox user, through
//! the agent's `/execute`) and what is sent to the agent's API. A user-code attack worked when its
//! output holds `ESCAPED` or the sandbox's token key (and proves nothing, so fails too, when it holds
//! `PROBE-BROKEN` or a Python part stopped early); an API attack when it is answered 2xx or 5xx,
//! or leaks the key. Classes follow SandboxEscapeBench's layers (orchestration, runtime, kernel) and
//! the incidents of other sandboxes (`docs/security.md`).

use crate::escape::Ctx;

/// The parts of issue 13 that other branches build: rows needing one are run by the ignored tests.
pub const FILES: &str = "files API as the sandbox user";
pub const HARDEN: &str = "seccomp profile, read-only root, opaque names";

/// How an attack is tried.
pub enum Attack {
    /// A bash script run as user code.
    UserCode(fn(&Ctx) -> String),
    /// A request to the sandbox's own agent, with its valid token.
    Api(Call),
}

/// An agent API request.
pub enum Call {
    Get(&'static str),
    Post(&'static str, &'static str),
    Delete(&'static str),
    /// `/files/upload` of a small file: the form's `path` and the file part's `filename`.
    Upload(&'static str, &'static str),
    /// `/files/watch` of a path: refused when the first frame is an error or the socket closes.
    Watch(&'static str),
}

pub struct Row {
    pub name: &'static str,
    pub class: &'static str,
    /// The part of issue 13 this row waits for, if any.
    pub needs: Option<&'static str>,
    pub attack: Attack,
}

const fn code(
    name: &'static str,
    class: &'static str,
    needs: Option<&'static str>,
    f: fn(&Ctx) -> String,
) -> Row {
    Row {
        name,
        class,
        needs,
        attack: Attack::UserCode(f),
    }
}

const fn api(
    name: &'static str,
    class: &'static str,
    needs: Option<&'static str>,
    call: Call,
) -> Row {
    Row {
        name,
        class,
        needs,
        attack: Attack::Api(call),
    }
}

/// A Python prelude: `sc(nr, *args)` is a raw syscall returning (result, errno).
const PY: &str = "import ctypes, os, errno\n\
libc = ctypes.CDLL(None, use_errno=True)\n\
def sc(nr, *a):\n    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(x) for x in a])\n    return r, ctypes.get_errno()\n\
def refused(what, nr, *a, ok=(errno.EPERM, errno.EACCES, errno.ENOSYS)):\n    r, e = sc(nr, *a)\n    print(what, r, errno.errorcode.get(e, e) if r < 0 else 'ok')\n    if r >= 0 or e not in ok:\n        print('ESCAPED', what)\n";

/// Printed by every Python part that ran to its end (a probe that crashed proves nothing).
pub const PY_DONE: &str = "PY-DONE";

fn py(body: &str) -> String {
    format!("python3 - <<'EOF'\n{PY}{body}\nprint('{PY_DONE}')\nEOF")
}

pub fn rows() -> Vec<Row> {
    vec![
        // Runtime layer: privileges, the engine's socket, host mounts, runc CVEs.
        code(
            "capabilities of user code are empty",
            "runtime: privileged / added capabilities",
            None,
            |_| {
                "[ \"$(grep -cE '^(CapInh|CapPrm|CapEff):' /proc/self/status)\" = 3 ] || echo PROBE-BROKEN\n\
             grep -E '^(CapInh|CapPrm|CapEff|CapAmb):' /proc/self/status | grep -v '0000000000000000' | sed 's/^/ESCAPED /'\n\
             nnp=$(python3 -c 'import ctypes; print(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))')\n\
             [ \"$nnp\" = 1 ] || echo \"ESCAPED no-new-privileges unset ($nnp)\"".into()
            },
        ),
        code(
            "bounding set of user code is empty",
            "runtime: privileged / added capabilities",
            Some(HARDEN),
            |_| {
                "grep -E '^CapBnd:' /proc/self/status | grep -v '0000000000000000' | sed 's/^/ESCAPED /'".into()
            },
        ),
        code(
            "setuid binaries (mount, su) gain nothing",
            "runtime: privileged / added capabilities",
            None,
            |_| {
                "mkdir -p /tmp/esc-m; mount -t tmpfs none /tmp/esc-m 2>/dev/null && echo ESCAPED setuid mount\n\
             mount --bind / /tmp/esc-m 2>/dev/null && echo ESCAPED bind mount\n\
             [ \"$(id -u)\" = 1000 ] || echo ESCAPED not the sandbox user".into()
            },
        ),
        code(
            "no container engine socket",
            "runtime: Docker socket",
            None,
            |_| {
                "for s in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock /run/podman/podman.sock /run/crio/crio.sock; do\n\
               [ -e \"$s\" ] && echo \"ESCAPED socket $s\"; done\n\
             find / \\( -path /proc -o -path /sys \\) -prune -o -type s -print 2>/dev/null | while read -r s; do\n\
               curl -s -m 2 --unix-socket \"$s\" http://x/version | grep -q ApiVersion && echo \"ESCAPED engine API at $s\"; done; true".into()
            },
        ),
        code(
            "no writable host mount but the sandbox's own disk",
            "runtime: host mounts",
            None,
            |c| {
                format!(
                    "while read -r _ _ _ root mnt opts rest; do\n\
                   fs=${{rest#*- }}; fs=${{fs%% *}}\n\
                   case \"$fs\" in proc|sysfs|cgroup|cgroup2|devpts|mqueue|tmpfs|overlay) continue;; esac\n\
                   case \"$opts\" in rw*) ;; *) continue;; esac\n\
                   [ -w \"$mnt\" ] || continue\n\
                   case \"$root\" in *{id}*) own=1; continue;; esac\n\
                   case \"$fs:$root:$mnt\" in {own_9p}) own=1; continue;; esac\n\
                   echo \"ESCAPED writable $mnt ($fs $root)\"\n\
                 done < /proc/self/mountinfo\n\
                 [ \"$own\" ] || echo PROBE-BROKEN: the sandbox disk was not seen",
                    id = c.sandbox_id,
                    // gVisor shows each bind mount as 9p of root `/`: the disk's mount points.
                    own_9p = if c.gvisor {
                        "9p:/:/workspace|9p:/:/home/user|9p:/:/tmp|9p:/:/var/tmp|9p:/:/run/lock"
                    } else {
                        "never"
                    },
                )
            },
        ),
        code(
            "nothing writable on the root filesystem outside the sandbox disk",
            "runtime: host mounts",
            Some(HARDEN),
            |_| {
                // The documented writable mount points (each on the disk or a tmpfs: the test
                // `confinement::the_root_filesystem_is_read_only_and_every_writable_path_is_on_the_disk`)
                // are not searched; `/var/lock` is the image's link to `/run/lock`, and `/run/shm` (desktop
                // image) its link to the container's own `/dev/shm` tmpfs.
                "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /var/tmp \\
                   -o -path /run/lock -o -path /var/lock -o -path /run/shm -o -path /home/user -o -path /workspace \\
                   -o -path /.warren/tmp \\) -prune -o -writable -print 2>/dev/null | head -5 | sed 's/^/ESCAPED writable /'".into()
            },
        ),
        code(
            "the agent's binary cannot be overwritten (CVE-2019-5736)",
            "runtime: runc CVEs",
            None,
            |_| {
                py(
                    "for p in ('/proc/1/exe', '/proc/self/exe'):\n    try:\n        os.close(os.open(p, os.O_WRONLY)); print('ESCAPED opened', p, 'for writing')\n    except OSError as e:\n        print(p, e.strerror)",
                ) + "\nfind /.warren -path /.warren/tmp -prune -o -writable -print 2>/dev/null | sed 's/^/ESCAPED writable /'"
            },
        ),
        code(
            "no leaked directory descriptor (CVE-2024-21626)",
            "runtime: runc CVEs",
            None,
            |_| {
                "for f in /proc/$$/fd/*; do [ -d \"$f\" ] && echo \"ESCAPED directory fd $f -> $(readlink $f)\"; done; true".into()
            },
        ),
        // Kernel layer.
        code(
            "/proc/sys is read-only",
            "kernel: /proc/sys writes",
            None,
            |_| {
                "for f in kernel/sysrq kernel/core_pattern kernel/modprobe kernel/hostname vm/drop_caches fs/suid_dumpable net/ipv4/ip_forward net/ipv4/conf/all/route_localnet; do\n\
               { : > /proc/sys/$f; } 2>/dev/null && echo \"ESCAPED opened /proc/sys/$f for writing\"; done; true".into()
            },
        ),
        code(
            "sysrq-trigger and core_pattern",
            "kernel: sysrq / core_pattern",
            None,
            |_| {
                "{ : > /proc/sysrq-trigger; } 2>/dev/null && echo ESCAPED sysrq-trigger\n\
             { : > /proc/sys/kernel/core_pattern; } 2>/dev/null && echo ESCAPED core_pattern; true"
                    .into()
            },
        ),
        code("/sys is read-only", "kernel: /sys writes", None, |_| {
            "find /sys -writable 2>/dev/null | head -5 | sed 's/^/ESCAPED writable /'\n\
             { : > /sys/kernel/uevent_helper; } 2>/dev/null && echo ESCAPED uevent_helper; true"
                .into()
        }),
        code(
            "cgroup release_agent and notify_on_release",
            "kernel: cgroup release_agent",
            None,
            |_| {
                "for f in /sys/fs/cgroup/release_agent /sys/fs/cgroup/*/release_agent $(find /sys/fs/cgroup -maxdepth 3 -name notify_on_release 2>/dev/null); do\n\
               { : > \"$f\"; } 2>/dev/null && echo \"ESCAPED opened $f\"; done\n\
             for d in /sys/fs/cgroup /sys/fs/cgroup/*; do mkdir \"$d/esc\" 2>/dev/null && { echo \"ESCAPED mkdir $d/esc\"; rmdir \"$d/esc\"; }; done\n\
             mkdir -p /tmp/esc-cg; mount -t cgroup -o memory cgroup /tmp/esc-cg 2>/dev/null && echo ESCAPED mounted a cgroup\n\
             unshare -UrmC sh -c 'mount -t cgroup -o memory cgroup /tmp/esc-cg && echo ESCAPED cgroup mount in a user namespace' 2>/dev/null; true".into()
            },
        ),
        code(
            "kernel modules cannot be loaded",
            "kernel: modules",
            None,
            |_| {
                py(
                    "fd = os.open('/dev/null', os.O_RDONLY)\nrefused('finit_module', 313, fd, ctypes.addressof(ctypes.c_char(0)), 0)\nbuf = ctypes.create_string_buffer(64)\nrefused('init_module', 175, ctypes.addressof(buf), 64, ctypes.addressof(buf))",
                ) + "\nmodprobe dummy 2>/dev/null && echo ESCAPED modprobe; true"
            },
        ),
        code(
            "mount and pivot_root are refused",
            "kernel: mount",
            None,
            |_| {
                py(
                    "t = ctypes.create_string_buffer(b'tmpfs')\nd = ctypes.create_string_buffer(b'/tmp')\nrefused('mount', 165, ctypes.addressof(t), ctypes.addressof(d), ctypes.addressof(t), 0, 0)\nrefused('pivot_root', 155, ctypes.addressof(d), ctypes.addressof(d), ok=(errno.EPERM, errno.EACCES, errno.ENOSYS, errno.EINVAL))",
                )
            },
        ),
        code(
            "no new namespaces (unshare -U/-m/-n, clone(CLONE_NEWUSER))",
            "kernel: unshare / user namespaces",
            None,
            |_| {
                "for f in -U -Ur -m -n -p -i -C; do unshare $f true 2>/dev/null && echo \"ESCAPED unshare $f\"; done\n".to_owned()
                + &py("refused('unshare(CLONE_NEWUSER)', 272, 0x10000000)\nr, e = sc(56, 0x10000000 | 17, 0, 0, 0, 0)\nif r == 0:\n    os._exit(0)\nif r > 0:\n    os.waitpid(r, 0); print('ESCAPED clone(CLONE_NEWUSER)')\nelse:\n    print('clone', errno.errorcode.get(e, e))")
            },
        ),
        code(
            "the agent (PID 1) cannot be traced or read",
            "kernel: ptrace of the agent",
            None,
            |_| {
                py(
                    "refused('ptrace(ATTACH, 1)', 101, 16, 1, 0, 0, ok=(errno.EPERM, errno.EACCES, errno.ENOSYS, errno.ESRCH))\nfor p in ('/proc/1/mem', '/proc/1/root/.warren/secrets'):\n    try:\n        os.close(os.open(p, os.O_RDONLY)); print('ESCAPED opened', p)\n    except OSError as e:\n        print(p, e.strerror)",
                ) + "\nls /proc/1/fd 2>/dev/null | grep -q . && echo ESCAPED listed the agent\\'s fds\n\
                   ls /proc/1/root/ 2>/dev/null | grep -q . && echo ESCAPED listed the agent\\'s root\n\
                   tr -d '\\0' < /proc/1/environ 2>/dev/null | grep -q . && echo ESCAPED read the agent\\'s environment\n\
                   cat /.warren/secrets 2>/dev/null; true"
            },
        ),
        code(
            "the agent's open files give user code nothing through /proc/1/fd",
            "kernel: ptrace of the agent",
            None,
            |_| {
                // runc refuses to reopen any of them (the agent is non-dumpable). gVisor (runsc
                // 20221219) makes no ptrace-access check on /proc/[pid]/fd; there, what reopens must
                // give nothing user code could not open itself: a device or file it may read by its
                // own path (/dev/urandom), or the agent's stdin at end of file (the host's
                // /dev/null). Anything else that opens is an escape (docs/security.md).
                "for n in $(seq 0 63); do\n\
                   [ -e /proc/1/fd/$n ] || continue\n\
                   timeout 1 head -c0 /proc/1/fd/$n 2>/dev/null || continue\n\
                   target=$(readlink /proc/1/fd/$n); what=\"/proc/1/fd/$n ($target)\"\n\
                   if [ \"${target#/}\" != \"$target\" ] && [ -r \"$target\" ]; then\n\
                     echo \"reopens: $what, which user code may open by its path\"\n\
                   elif [ $n = 0 ] && [ \"$(timeout 1 head -c1 /proc/1/fd/0 | wc -c)\" = 0 ]; then\n\
                     echo \"reopens: $what, at end of file\"\n\
                   else\n\
                     echo \"ESCAPED opened $what\"\n\
                   fi\n\
                 done; true"
                    .into()
            },
        ),
        code(
            "no host process is visible",
            "kernel: PID namespace",
            None,
            |_| {
                "grep -qx agent /proc/1/comm || echo PROBE-BROKEN\n\
             cat /proc/[0-9]*/comm 2>/dev/null | grep -xE 'dockerd|containerd|containerd-shim.*|postgres|sshd|systemd|runc|runsc.*|warren' | sed 's/^/ESCAPED sees /'; true".into()
            },
        ),
        code(
            "no raw or packet sockets",
            "kernel: packet sockets",
            None,
            |_| {
                py(
                    "import socket\nfor fam, kind in ((socket.AF_PACKET, socket.SOCK_RAW), (socket.AF_INET, socket.SOCK_RAW)):\n    try:\n        socket.socket(fam, kind, 0 if fam == socket.AF_INET else 768).close(); print('ESCAPED raw socket', fam)\n    except OSError as e:\n        print(fam, e.strerror)",
                )
            },
        ),
        code(
            "no open_by_handle_at (shocker) or kexec",
            "kernel: dangerous capabilities",
            None,
            |_| {
                py(
                    "buf = ctypes.create_string_buffer(128)\nrefused('open_by_handle_at', 304, -100, ctypes.addressof(buf), 0, ok=(errno.EPERM, errno.EACCES, errno.ENOSYS, errno.EBADF))\nrefused('kexec_load', 246, 0, 0, 0, 0)",
                )
            },
        ),
        code("no bpf", "kernel: eBPF", None, |_| {
            py(
                "attr = ctypes.create_string_buffer(128)\nrefused('bpf(PROG_LOAD)', 321, 5, ctypes.addressof(attr), 128)",
            )
        }),
        code(
            "no io_uring, userfaultfd, keyctl or perf_event_open",
            "kernel: attack surface",
            Some(HARDEN),
            |_| {
                py(
                    "p = ctypes.create_string_buffer(120)\nrefused('io_uring_setup', 425, 1, ctypes.addressof(p))\nrefused('userfaultfd', 323, 0o2000000 | 1)\nrefused('keyctl', 250, 0, -3, 0)\nattr = ctypes.create_string_buffer(128)\nrefused('perf_event_open', 298, ctypes.addressof(attr), 0, -1, -1, 0, ok=(errno.EPERM, errno.EACCES, errno.ENOSYS, errno.EINVAL, errno.ENOENT))",
                )
            },
        ),
        code(
            "Dirty Pipe cannot change a read-only file",
            "kernel: Dirty Pipe / Dirty COW",
            None,
            |_| {
                py("import fcntl\np = '/usr/lib/os-release'\nbefore = open(p, 'rb').read()\nfd = os.open(p, os.O_RDONLY)\nr, w = os.pipe()\ntry:\n    sz = fcntl.fcntl(w, 1032)\nexcept OSError:\n    sz = 65536\nos.set_blocking(w, False)\nfor _ in range(sz // 4096):\n    os.write(w, b'a' * 4096)\nwhile True:\n    try:\n        os.read(r, 4096)\n    except BlockingIOError:\n        break\n    if not select.select([r], [], [], 0)[0]:\n        break\ntry:\n    os.splice(fd, w, 1, offset_src=0)\n    os.write(w, b'X')\nexcept OSError as e:\n    print('refused:', e.strerror)\nprint('ESCAPED page cache changed' if open(p, 'rb').read() != before else 'file intact')".replace("import fcntl", "import fcntl, select").as_str())
            },
        ),
        code(
            "device nodes: no mknod, disks, /dev/mem or the host's kernel log",
            "kernel: device nodes",
            None,
            |c| {
                format!(
                    "mknod /tmp/esc-sda b 8 0 2>/dev/null && echo ESCAPED mknod; rm -f /tmp/esc-sda\n\
                 for d in /dev/sda /dev/vda /dev/nvme0n1 /dev/mem /dev/kmem /dev/port; do head -c1 $d >/dev/null 2>&1 && echo \"ESCAPED read $d\"; done\n\
                 {{ timeout 1 cat /dev/kmsg; dmesg; }} 2>/dev/null | grep -q {marker} && echo ESCAPED read the host kernel log; true",
                    marker = c.kmsg_marker
                )
            },
        ),
        // Network: metadata, the host's services, the other sandboxes.
        code(
            "metadata, host services, other sandboxes unreachable",
            "network: host and other sandboxes",
            None,
            |c| {
                py(&format!(
                    "import socket, threading\ntargets = {targets:?}\ndef probe(t):\n    host, port = t.rsplit(':', 1)\n    try:\n        socket.create_connection((host.strip('[]'), int(port)), timeout=2).close(); print('ESCAPED reached', t)\n    except OSError as e:\n        pass\nts = [threading.Thread(target=probe, args=(t,)) for t in targets]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint('own agent', 'open' if socket.create_connection(({own:?}, 7777), timeout=2) else '')",
                    targets = c.targets,
                    own = c.own_ip,
                ))
            },
        ),
        code(
            "no IPv6 link-local or IPv6 metadata",
            "network: metadata",
            None,
            |_| {
                "grep -v ' lo$' /proc/net/if_inet6 2>/dev/null | sed 's/^/ESCAPED ipv6 address /'\n\
             curl -g -s -m 2 -o /dev/null 'http://[fd00:ec2::254]/' && echo ESCAPED ipv6 metadata; true".into()
            },
        ),
        code(
            "DNS names no other sandbox",
            "network: DNS",
            Some(HARDEN),
            |c| {
                format!(
                    "getent hosts {ip} | grep -q {id} && echo ESCAPED reverse DNS names {id}\n\
                 getent hosts warren-{id} && echo ESCAPED DNS resolves warren-{id}; true",
                    ip = c.other_ip,
                    id = c.other_id
                )
            },
        ),
        // Files API traversal (user code makes the symlinks: `escape.rs` runs it first).
        api(
            "read /proc/1/environ",
            "files: traversal",
            None,
            Call::Get("/files/read?path=/proc/1/environ"),
        ),
        api(
            "read /proc/self/environ",
            "files: traversal",
            None,
            Call::Get("/files/read?path=/proc/self/environ"),
        ),
        api(
            "list /proc/1/fd",
            "files: traversal",
            None,
            Call::Get("/files/list?path=/proc/1/fd"),
        ),
        api(
            "download /proc/1/environ",
            "files: traversal",
            None,
            Call::Get("/files/download?path=/proc/1/environ"),
        ),
        api(
            "read the secrets file",
            "files: traversal",
            Some(FILES),
            Call::Get("/files/read?path=/.warren/secrets"),
        ),
        api(
            "read /tmp/../.warren/secrets",
            "files: traversal",
            Some(FILES),
            Call::Get("/files/read?path=/tmp/../.warren/secrets"),
        ),
        api(
            "read a symlink to the secrets",
            "files: symlink",
            Some(FILES),
            Call::Get("/files/read?path=/tmp/esc-secrets"),
        ),
        api(
            "read /workspace/../proc/1/environ",
            "files: traversal",
            Some(FILES),
            Call::Get("/files/read?path=/workspace/../proc/1/environ"),
        ),
        api(
            "read a symlink to /proc/1/environ",
            "files: symlink",
            Some(FILES),
            Call::Get("/files/read?path=/tmp/esc-environ"),
        ),
        api(
            "read /workspace/../proc/self/environ",
            "files: traversal",
            Some(FILES),
            Call::Get("/files/read?path=/workspace/../proc/self/environ"),
        ),
        api(
            "read /workspace/../proc/1/mem",
            "files: traversal",
            Some(FILES),
            Call::Get("/files/read?path=/workspace/../proc/1/mem"),
        ),
        api(
            "download the secrets file",
            "files: traversal",
            Some(FILES),
            Call::Get("/files/download?path=/workspace/../.warren/secrets"),
        ),
        api(
            "download a symlink to the secrets",
            "files: symlink",
            Some(FILES),
            Call::Get("/files/download?path=/tmp/esc-secrets"),
        ),
        api(
            "list /.warren",
            "files: traversal",
            Some(FILES),
            Call::Get("/files/list?path=/.warren"),
        ),
        api(
            "list /workspace/../proc/1/fd",
            "files: traversal",
            Some(FILES),
            Call::Get("/files/list?path=/workspace/../proc/1/fd"),
        ),
        api(
            "write /etc/passwd",
            "files: writes as root",
            Some(FILES),
            Call::Post("/files/write", r#"{"path":"/etc/passwd","content":"x"}"#),
        ),
        api(
            "write through a symlink to the secrets",
            "files: symlink",
            Some(FILES),
            Call::Post(
                "/files/write",
                r#"{"path":"/tmp/esc-secrets","content":"x"}"#,
            ),
        ),
        api(
            "write a setuid file",
            "files: writes as root",
            Some(FILES),
            Call::Post(
                "/files/write",
                r#"{"path":"/workspace/esc-suid","content":"x","mode":"4777"}"#,
            ),
        ),
        api(
            "mkdir outside the sandbox disk",
            "files: writes as root",
            Some(FILES),
            Call::Post("/files/mkdir", r#"{"path":"/opt/esc"}"#),
        ),
        api(
            "mkdir in the agent's directory",
            "files: traversal",
            Some(FILES),
            Call::Post("/files/mkdir", r#"{"path":"/workspace/../.warren/esc"}"#),
        ),
        api(
            "remove the secrets file",
            "files: traversal",
            Some(FILES),
            Call::Delete("/files/remove?path=/tmp/../.warren/secrets"),
        ),
        api(
            "upload into the agent's directory",
            "files: traversal",
            Some(FILES),
            Call::Upload("/.warren/esc", "x"),
        ),
        api(
            "upload with a traversing file name",
            "files: traversal",
            Some(FILES),
            Call::Upload("/workspace", "../.warren/esc"),
        ),
        api(
            "watch the agent's directory",
            "files: traversal",
            Some(FILES),
            Call::Watch("/workspace/../.warren"),
        ),
        // Last: on main the agent reads it until the memory limit.
        api(
            "read /dev/zero",
            "files: device files",
            Some(FILES),
            Call::Get("/files/read?path=/dev/zero"),
        ),
    ]
}

/// User code run before the rows: the symlinks the files rows follow.
pub const SETUP: &str =
    "ln -sfn /.warren/secrets /tmp/esc-secrets; ln -sfn /proc/1/environ /tmp/esc-environ";
