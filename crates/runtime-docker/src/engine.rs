//! Talking to the engine: container names and labels, and how engine errors become
//! [`RuntimeError`]s.

use std::collections::HashMap;

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::ContainerSummary;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use runtime::RuntimeError;

/// Label on every container Warren makes.
pub const LABEL_MANAGED: &str = "warren.managed";
/// Label naming the Warren installation (`DockerSettings::instance`).
pub const LABEL_INSTANCE: &str = "warren.instance";
/// Label carrying the sandbox id.
pub const LABEL_SANDBOX_ID: &str = "warren.sandbox-id";
/// Label carrying the template name.
pub const LABEL_TEMPLATE: &str = "warren.template";
/// The network a sandbox is on (its holder's, when it joined one).
pub const LABEL_NETWORK: &str = "warren.network";
/// On network-namespace holders: the network they were started on.
pub const LABEL_HOLDER: &str = "warren.holder";
/// `1` for a container started for the warm pool (before it had an owner), else `0`.
pub const LABEL_POOLED: &str = "warren.pooled";

/// The container name of a sandbox.
pub fn container_name(sandbox_id: &str) -> String {
    format!("warren-{sandbox_id}")
}

/// Sandbox ids become container names and directory names: only a DNS label is accepted.
pub fn check_sandbox_id(sandbox_id: &str) -> Result<(), RuntimeError> {
    let ok = !sandbox_id.is_empty()
        && sandbox_id.len() <= 63
        && !sandbox_id.starts_with('-')
        && sandbox_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(failed(format!("invalid sandbox id {sandbox_id:?}")))
    }
}

/// A [`RuntimeError::Failed`] with a message.
pub fn failed(message: impl Into<String>) -> RuntimeError {
    RuntimeError::Failed(message.into().into())
}

/// Removes container `name` with force (and its anonymous volumes with `volumes`). Gone already is
/// done; one that another process is removing right now (409 "removal ... already in progress") is
/// waited for, so the caller never frees what the container still uses. `what` names it in errors.
pub async fn remove_container(
    docker: &Docker,
    name: &str,
    volumes: bool,
    what: &str,
) -> Result<(), RuntimeError> {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(volumes)
        .build();
    for _ in 0..REMOVAL_WAIT_ROUNDS {
        match docker.remove_container(name, Some(options.clone())).await {
            Ok(()) => return Ok(()),
            Err(e) if status_of(&e) == Some(404) => return Ok(()),
            Err(e) if status_of(&e) == Some(409) && e.to_string().contains("in progress") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(map_err(what, e)),
        }
    }
    Err(failed(format!("the removal of {name} did not end")))
}

/// 100 ms rounds [`remove_container`] waits for another process's removal of a container.
const REMOVAL_WAIT_ROUNDS: usize = 300;

/// The HTTP status of an engine error answer, if the engine answered.
pub fn status_of(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Maps an engine error about `sandbox_id`'s container: 404 is [`RuntimeError::NotFound`], no answer
/// (socket missing, connection refused, timeout) is [`RuntimeError::Unavailable`], the rest
/// [`RuntimeError::Failed`].
pub fn map_err(sandbox_id: &str, e: BollardError) -> RuntimeError {
    match status_of(&e) {
        Some(404) => RuntimeError::NotFound(sandbox_id.to_owned()),
        Some(_) => RuntimeError::Failed(e.into()),
        None => map_transport(e),
    }
}

/// Every container, running or not, of installation `instance` that also carries `label` (`key` or
/// `key=value`).
pub async fn list_of_instance(
    docker: &Docker,
    instance: &str,
    label: String,
) -> Result<Vec<ContainerSummary>, RuntimeError> {
    let labels = vec![label, format!("{LABEL_INSTANCE}={instance}")];
    let filters = HashMap::from([("label", labels)]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    docker
        .list_containers(Some(options))
        .await
        .map_err(map_transport)
}

/// Warns about each of `runtimes` the engine runs as gVisor (`runsc`) without `--oci-seccomp`:
/// runsc then ignores the container's seccomp profile (its own kernel still stands between user
/// code and the host's, but io_uring and the key syscalls stay open to user code).
pub async fn warn_unless_gvisor_seccomp(
    docker: &Docker,
    runtimes: &[&str],
) -> Result<(), RuntimeError> {
    let info = docker.info().await.map_err(map_transport)?;
    let known = info.runtimes.unwrap_or_default();
    for name in runtimes {
        let Some(runtime) = known.get(*name) else {
            continue;
        };
        let is_gvisor = runtime
            .path
            .as_deref()
            .is_some_and(|p| p.ends_with("runsc"));
        let args = runtime.runtime_args.iter().flatten();
        if is_gvisor && !args.into_iter().any(|a| a == "--oci-seccomp") {
            tracing::warn!(
                runtime = name,
                "gVisor runtime without --oci-seccomp: Warren's seccomp profile is not applied \
                 (add it to the runtime's runtimeArgs in daemon.json, see docs/runtime-docker.md)"
            );
        }
    }
    Ok(())
}

/// Maps an error of a call that names no sandbox.
pub fn map_transport(e: BollardError) -> RuntimeError {
    match e {
        BollardError::DockerResponseServerError { .. } => RuntimeError::Failed(e.into()),
        BollardError::RequestTimeoutError
        | BollardError::SocketNotFoundError(_)
        | BollardError::IOError { .. }
        | BollardError::HyperResponseError { .. }
        | BollardError::HyperLegacyError { .. } => RuntimeError::Unavailable(e.into()),
        other => RuntimeError::Failed(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dns_labels_are_sandbox_ids() {
        assert!(check_sandbox_id("abc-123").is_ok());
        for bad in ["", "-a", "A", "a/b", "..", "a_b", &"a".repeat(64)] {
            assert!(check_sandbox_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn engine_errors_map_to_runtime_errors() {
        let e = |status_code| BollardError::DockerResponseServerError {
            status_code,
            message: "x".into(),
        };
        assert!(matches!(map_err("s", e(404)), RuntimeError::NotFound(id) if id == "s"));
        assert!(matches!(map_err("s", e(500)), RuntimeError::Failed(_)));
        assert!(matches!(
            map_err("s", BollardError::RequestTimeoutError),
            RuntimeError::Unavailable(_)
        ));
    }
}
