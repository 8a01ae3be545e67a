//! Sandboxes of `isolation: gvisor` (setting `gvisor_runtime`, `runsc-hostnet`: a runtime
//! `scripts/docker-engine.sh` configures in the engine): the agent runs Python and bash, user code is
//! uid 1000, and the agent's secrets stay out of its reach even though gVisor lets it read
//! `/proc/1/environ` (blanked by the agent).

use runtime::{Isolation, SandboxRuntime as _};

use crate::helpers::*;

#[tokio::test]
async fn a_gvisor_sandbox_runs_code_and_keeps_its_secrets() {
    let rt = runtime().await;
    let (mut spec, key, _cleanup) = spec(PYTHON_IMAGE);
    spec.isolation = Isolation::Gvisor;
    let id = spec.sandbox_id.clone();
    let sbx = rt.create(&spec).await.unwrap();
    // gVisor's own kernel answers (the seccomp profile refuses `dmesg`'s syslog, so its release).
    let out = bash(sbx.agent_addr, &id, &key, "id -u; uname -r").await;
    let host = std::process::Command::new("uname")
        .arg("-r")
        .output()
        .unwrap();
    let host = String::from_utf8(host.stdout).unwrap();
    assert_eq!(out, "1000\n4.4.0\n", "host kernel {host}");
    assert_ne!(host, "4.4.0\n");
    let set = run(sbx.agent_addr, &id, &key, "python", "x = 41").await;
    assert!(set.success, "{set:?}");
    let get = run(sbx.agent_addr, &id, &key, "python", "print(x + 1)").await;
    assert_eq!(get.stdout, "42\n", "{get:?}");

    // gVisor lets user code read the agent's /proc/1/environ (no ptrace check): the agent blanks
    // its initial environment block once configured, so it reads as NUL bytes only.
    let environ = run(sbx.agent_addr, &id, &key, "bash", "cat /proc/1/environ").await;
    assert!(environ.success, "{environ:?}");
    assert!(!environ.stdout.is_empty(), "{environ:?}");
    assert!(environ.stdout.bytes().all(|b| b == 0), "{environ:?}");
    let file = run(sbx.agent_addr, &id, &key, "bash", "cat /.warren/secrets").await;
    assert!(!file.success, "{file:?}");
    assert!(file.stdout.is_empty(), "{file:?}");
    rt.destroy(&id).await.unwrap();
}
