//! `POST /v1/sandboxes/{id}/fork`: N new sandboxes from one sandbox's filesystem. A snapshot is
//! taken (hidden: it stays `creating`, so a crash mid-fork leaves a row
//! the reconciler removes with its copy), then N creates start from it at once, each with its own
//! id and token and its own outcome; then the snapshot goes (each fork has a copy of its own).

use api_error::ApiError;
use api_types::control::CreateSandbox;

use crate::Scheduler;
use crate::create::create_new;
use crate::create_request::validate;
use crate::idempotent::Created;
use crate::snapshots;

/// Forks the organization's sandbox `sandbox_id` `count` times: one outcome per fork, in order.
/// Refusals of the whole (a bad count, an unknown sandbox, the snapshot quota) are the error.
pub async fn fork(
    state: &Scheduler,
    org_id: i64,
    sandbox_id: &str,
    count: i64,
) -> Result<Vec<Result<Created, ApiError>>, ApiError> {
    let count = check_count(count, state.settings.snapshots.max_fork_count)?;
    let snapshot_id = db::ids::new_snapshot_id();
    let parent = snapshots::take(state, org_id, sandbox_id, &snapshot_id, None, true).await?;
    let req = CreateSandbox {
        snapshot_id: Some(snapshot_id.clone()),
        internet_access: Some(parent.internet_access),
        timeout_seconds: parent.timeout_seconds,
        ..CreateSandbox::default()
    };
    // In a task of its own, so a client that hangs up mid-fork still gets its snapshot removed.
    let state = state.clone();
    let forked = tokio::spawn(async move {
        // The parent's own values (its timeout, say, over a since lowered maximum) may be refused.
        let outcomes = match validate(&state, &req) {
            Ok(mut wanted) => {
                wanted.forking = true;
                let creates = (0..count).map(|_| create_new(&state, org_id, &req, &wanted, None));
                Ok(futures::future::join_all(creates).await)
            }
            Err(e) => Err(e),
        };
        snapshots::discard(&state, &snapshot_id).await;
        Ok(outcomes?
            .into_iter()
            .map(|o| o.and_then(|made| made.ok_or_else(unnamed_race)))
            .collect())
    });
    forked.await.map_err(ApiError::internal)?
}

/// `count` as a number of forks: 1 to `max` (`snapshots.max_fork_count`).
fn check_count(count: i64, max: u32) -> Result<usize, ApiError> {
    match usize::try_from(count) {
        Ok(n) if (1..=max as usize).contains(&n) => Ok(n),
        _ => Err(ApiError::ForkLimit {
            requested: count,
            limit: max.into(),
        }),
    }
}

/// A fork's create names no sandbox and no idempotency key, so none is answered by another.
fn unnamed_race() -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "a fork's create was answered by another sandbox"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_is_between_one_and_the_cap() {
        assert_eq!(check_count(1, 10).unwrap(), 1);
        assert_eq!(check_count(10, 10).unwrap(), 10);
        for bad in [0, -1, 11, i64::MAX] {
            match check_count(bad, 10) {
                Err(ApiError::ForkLimit { requested, limit }) => {
                    assert_eq!((requested, limit), (bad, 10));
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
