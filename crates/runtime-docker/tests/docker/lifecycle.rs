//! Every lifecycle operation on one sandbox, and images that are not templates.

use runtime::{RuntimeError, RuntimeState, SandboxRuntime as _};

use crate::helpers::*;

async fn state_of(rt: &runtime_docker::DockerRuntime, id: &str) -> Option<RuntimeState> {
    let all = rt.list().await.unwrap();
    all.into_iter()
        .find(|s| s.sandbox_id == id)
        .map(|s| s.state)
}

#[tokio::test]
async fn create_pause_resume_stop_start_destroy() {
    let rt = runtime().await;
    let (mut spec, key, _cleanup) = spec(PYTHON_IMAGE);
    spec.env_vars.insert("GREETING".into(), "hello".into());
    let id = spec.sandbox_id.clone();
    let sbx = rt.create(&spec).await.unwrap();
    assert_eq!(sbx.sandbox_id, id);
    assert_eq!(state_of(&rt, &id).await, Some(RuntimeState::Running));
    // Another installation on the same engine does not see it.
    let other = runtime_docker::DockerRuntime::connect(&runtime_docker::DockerSettings {
        instance: "another-installation".into(),
        ..test_support::docker::docker_settings()
    })
    .await
    .unwrap();
    assert_eq!(state_of(&other, &id).await, None);

    // User code: the owner's environment, uid 1000, no access to the agent's secrets.
    let out = bash(sbx.agent_addr, &id, &key, "echo $GREETING; id -u; id -g").await;
    assert_eq!(out, "hello\n1000\n1000\n");
    // The token key is in no environment, only in the root-only secrets file.
    assert!(!container_env(&id).contains("TOKEN_KEY"));
    let key_hex = key.to_hex();
    for file in ["/proc/1/environ", "/.warren/secrets"] {
        let read = run(sbx.agent_addr, &id, &key, "bash", &format!("cat {file}")).await;
        assert!(!read.success, "{file}: {read:?}");
        assert!(!read.stdout.contains(&key_hex), "{file}: {read:?}");
    }
    // The image's home content is kept on the bounded disk.
    bash(
        sbx.agent_addr,
        &id,
        &key,
        "test -f ~/.bashrc && echo kept > /workspace/file",
    )
    .await;
    assert!(subvolume(&id).join("workspace/file").exists());

    // Pause keeps memory: the kernel's variable survives.
    let set = run(sbx.agent_addr, &id, &key, "python", "x = 41").await;
    assert!(set.success, "{set:?}");
    rt.pause(&id).await.unwrap();
    assert_eq!(state_of(&rt, &id).await, Some(RuntimeState::Paused));
    rt.resume(&id).await.unwrap();
    let got = run(sbx.agent_addr, &id, &key, "python", "print(x + 1)").await;
    assert_eq!(got.stdout, "42\n", "{got:?}");

    // Stop and start keep the files; the agent answers at the (possibly new) address.
    rt.stop(&id).await.unwrap();
    assert_eq!(state_of(&rt, &id).await, Some(RuntimeState::Stopped));
    let started = rt.start(&id).await.unwrap();
    let out = bash(started.agent_addr, &id, &key, "cat /workspace/file").await;
    assert_eq!(out, "kept\n");
    // Stopping a paused sandbox works too.
    rt.pause(&id).await.unwrap();
    rt.stop(&id).await.unwrap();

    rt.destroy(&id).await.unwrap();
    assert!(!container_exists(&id));
    assert!(!subvolume(&id).exists());
    assert_eq!(state_of(&rt, &id).await, None);
    rt.destroy(&id).await.unwrap();
    assert!(matches!(
        rt.pause(&id).await,
        Err(RuntimeError::NotFound(_))
    ));
    assert!(matches!(
        rt.start(&id).await,
        Err(RuntimeError::NotFound(_))
    ));
}

#[tokio::test]
async fn non_template_images_work() {
    let rt = runtime().await;
    // A Debian image without the template conventions (no user 1000, no /workspace, CMD bash).
    let (debian, key, _cleanup) = spec("debian:bookworm-slim");
    let sbx = rt.create(&debian).await.unwrap();
    let out = bash(
        sbx.agent_addr,
        &debian.sandbox_id,
        &key,
        "id -u; touch /workspace/x /tmp/y && echo ok",
    )
    .await;
    assert_eq!(out, "1000\nok\n");
    rt.destroy(&debian.sandbox_id).await.unwrap();

    // An empty image (like `FROM scratch`): the agent alone, with no start command.
    let status = std::process::Command::new("sh")
        .args([
            "-c",
            "tar cf - -T /dev/null | docker import - warren-test/empty:latest",
        ])
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let (empty, _key, _cleanup) = spec("warren-test/empty:latest");
    let sbx = rt.create(&empty).await.unwrap();
    assert!(healthy(sbx.agent_addr).await);
    rt.destroy(&empty.sandbox_id).await.unwrap();
    // Each import makes a new image; remove it so runs leave no dangling images behind.
    let removed = std::process::Command::new("docker")
        .args(["rmi", "warren-test/empty:latest"])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{removed:?}");
}

#[tokio::test]
async fn a_missing_image_fails_clearly_and_leaves_nothing() {
    let rt = runtime().await;
    let (spec, _key, _cleanup) = spec("warren-test/no-such-image:latest");
    let err = rt.create(&spec).await.unwrap_err();
    let RuntimeError::Failed(e) = &err else {
        panic!("{err:?}")
    };
    assert!(e.to_string().contains("not on the Docker engine"), "{e}");
    assert!(!container_exists(&spec.sandbox_id));
    assert!(!subvolume(&spec.sandbox_id).exists());
}

#[tokio::test]
async fn a_repeated_create_replaces_the_earlier_attempt() {
    // The control plane repeats a create after a crash: the first attempt's container and disk go.
    let rt = runtime().await;
    let (spec, key, _cleanup) = spec(BASE_IMAGE);
    let id = &spec.sandbox_id;
    let first = rt.create(&spec).await.unwrap();
    bash(first.agent_addr, id, &key, "touch /workspace/first").await;
    let again = rt.create(&spec).await.unwrap();
    let out = bash(again.agent_addr, id, &key, "ls /workspace | wc -l").await;
    assert_eq!(out, "0\n");
    rt.destroy(id).await.unwrap();
    assert!(!subvolume(id).exists());
}
