//! The persisted state machine with the fake runtime: concurrent actions on one sandbox end in one
//! consistent state, a twin request shares the action under way, actions a dead server left half
//! done are finished by the reconciler, transitional states are shown as the contract's statuses,
//! and a sandbox the runtime lost is a clear 409.

use std::time::Duration;

use runtime::RuntimeState;
use runtime::fake::FakeCall;
use scheduler::reconcile::Reconciler;
use serde_json::Value;
use test_support::{TestApp, spawn_app};

use crate::helpers::{assert_error, status_json};

/// Long enough for a second request to arrive while the first one's runtime call runs.
const SLOW: Duration = Duration::from_millis(300);

async fn sandbox(app: &TestApp) -> String {
    app.create_sandbox("base").await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn act(app: &TestApp, id: &str, action: &str) -> (u16, Value) {
    status_json(
        app.post_empty(&format!("/v1/sandboxes/{id}/{action}"))
            .await,
    )
    .await
}

/// The row's stored status.
async fn stored(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM sandboxes WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Leaves the row in `status` as a server that died mid-action would, long enough ago for the
/// reconciler to take it over.
async fn left_in(app: &TestApp, id: &str, status: &str) {
    sqlx::query("UPDATE sandboxes SET status = $2 WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(&app.pool)
        .await
        .unwrap();
    // Not an update of `status`: the trigger that stamps it does not run.
    sqlx::query("UPDATE sandboxes SET status_changed_at = now() - interval '1 hour' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn reconcile(app: &TestApp) -> scheduler::reconcile::Report {
    Reconciler::new(app.state.scheduler.clone())
        .run_once()
        .await
        .expect("reconcile pass")
}

fn count(calls: &[FakeCall], call: &FakeCall) -> usize {
    calls.iter().filter(|c| *c == call).count()
}

#[tokio::test]
async fn a_twin_request_waits_for_the_action_under_way_and_the_runtime_acts_once() {
    let app = spawn_app().await;
    let id = sandbox(&app).await;
    app.runtime.set_action_delay(SLOW);
    let (a, b) = tokio::join!(act(&app, &id, "pause"), act(&app, &id, "pause"));
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(
        (&a.1["status"], &b.1["status"]),
        (&"paused".into(), &"paused".into())
    );
    assert_eq!(count(&app.runtime.calls(), &FakeCall::Pause(id.clone())), 1);
    assert_eq!(app.runtime.state_of(&id), Some(RuntimeState::Paused));
}

#[tokio::test]
async fn pause_racing_delete_ends_deleted_with_nothing_left() {
    let app = spawn_app().await;
    let id = sandbox(&app).await;
    app.runtime.set_action_delay(SLOW);
    let path = format!("/v1/sandboxes/{id}");
    let (paused, deleted) = tokio::join!(act(&app, &id, "pause"), async {
        tokio::time::sleep(SLOW / 3).await;
        status_json(app.delete(&path).await).await
    });
    assert_eq!(deleted.0, 200, "{deleted:?}");
    assert_eq!(paused.0, 404, "the pause lost to the delete: {paused:?}");
    assert_eq!(paused.1["code"], "SANDBOX_NOT_FOUND");
    assert_eq!(status_json(app.get(&path).await).await.0, 404);
    assert_eq!(stored(&app, &id).await, "deleted");
    assert_eq!(
        app.runtime.state_of(&id),
        None,
        "the runtime still holds it"
    );
    assert!(reconcile(&app).await.is_empty());
}

#[tokio::test]
async fn resume_racing_stop_ends_in_one_consistent_state() {
    let app = spawn_app().await;
    let id = sandbox(&app).await;
    assert_eq!(act(&app, &id, "pause").await.0, 200);
    app.runtime.set_action_delay(SLOW);
    let (resumed, stopped) = tokio::join!(act(&app, &id, "resume"), act(&app, &id, "stop"));
    let wins = [resumed.0, stopped.0].iter().filter(|s| **s == 200).count();
    assert_eq!(wins, 1, "exactly one wins: {resumed:?} {stopped:?}");
    let loser = if resumed.0 == 200 { &stopped } else { &resumed };
    assert_eq!(loser.0, 409, "{loser:?}");
    assert_eq!(loser.1["code"], "INVALID_STATE_TRANSITION");
    // Refused while the winner runs ("a resume is under way"), or told to retry when it had
    // already finished (a slow machine).
    let message = loser.1["message"].as_str().unwrap();
    assert!(
        message.contains("is under way") || message.contains("changed state meanwhile"),
        "{loser:?}"
    );
    let shown = app.runtime.state_of(&id);
    let status = stored(&app, &id).await;
    match status.as_str() {
        "running" => assert_eq!(shown, Some(RuntimeState::Running)),
        "stopped" => assert_eq!(shown, Some(RuntimeState::Stopped)),
        other => panic!("ended in {other}"),
    }
    app.runtime.set_action_delay(Duration::ZERO);
    assert!(reconcile(&app).await.is_empty(), "nothing to repair");
}

#[tokio::test]
async fn actions_a_dead_server_left_half_done_are_finished_by_the_reconciler() {
    let app = spawn_app().await;
    // pausing, the runtime still running: the reconciler pauses it.
    let pausing = sandbox(&app).await;
    left_in(&app, &pausing, "pausing").await;
    // resuming, the runtime already running: recorded as running, no second resume.
    let resuming = sandbox(&app).await;
    left_in(&app, &resuming, "resuming").await;
    // stopping, the runtime paused: stopped.
    let stopping = sandbox(&app).await;
    assert_eq!(act(&app, &stopping, "pause").await.0, 200);
    left_in(&app, &stopping, "stopping").await;
    // starting, the runtime running with an unconfirmed address: stopped and started again.
    let starting = sandbox(&app).await;
    left_in(&app, &starting, "starting").await;
    // starting, the runtime paused: likewise stopped and started again.
    let starting_paused = sandbox(&app).await;
    assert_eq!(act(&app, &starting_paused, "pause").await.0, 200);
    left_in(&app, &starting_paused, "starting").await;
    let before = app.runtime.calls().len();

    let report = reconcile(&app).await;
    let mut finished = report.finished.clone();
    finished.sort();
    let mut expected = vec![
        pausing.clone(),
        resuming.clone(),
        stopping.clone(),
        starting.clone(),
        starting_paused.clone(),
    ];
    expected.sort();
    assert_eq!(finished, expected, "{report:?}");
    for (id, status, shown) in [
        (&pausing, "paused", RuntimeState::Paused),
        (&resuming, "running", RuntimeState::Running),
        (&stopping, "stopped", RuntimeState::Stopped),
        (&starting, "running", RuntimeState::Running),
        (&starting_paused, "running", RuntimeState::Running),
    ] {
        assert_eq!(stored(&app, id).await, status, "{id}");
        assert_eq!(app.runtime.state_of(id), Some(shown), "{id}");
    }
    let calls = app.runtime.calls()[before..].to_vec();
    assert_eq!(count(&calls, &FakeCall::Pause(pausing.clone())), 1);
    assert_eq!(count(&calls, &FakeCall::Resume(resuming.clone())), 0);
    assert_eq!(count(&calls, &FakeCall::Stop(stopping.clone())), 1);
    for id in [&starting, &starting_paused] {
        let restart: Vec<&FakeCall> = calls
            .iter()
            .filter(|c| **c == FakeCall::Stop(id.clone()) || **c == FakeCall::Start(id.clone()))
            .collect();
        assert_eq!(
            restart,
            [&FakeCall::Stop(id.clone()), &FakeCall::Start(id.clone())]
        );
    }
    assert!(
        reconcile(&app).await.is_empty(),
        "the next pass has nothing to do"
    );
}

#[tokio::test]
async fn transitional_states_show_as_the_contracts_statuses() {
    let app = spawn_app().await;
    let id = sandbox(&app).await;
    left_in(&app, &id, "pausing").await;
    let (_, got) = status_json(app.get(&format!("/v1/sandboxes/{id}")).await).await;
    assert_eq!(got["status"], "running");
    let (_, listed) = status_json(app.get("/v1/sandboxes?status=running").await).await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    assert_error(
        app.get("/v1/sandboxes?status=pausing").await,
        400,
        "INVALID_REQUEST",
    )
    .await;
    let refused = assert_error(
        app.post_empty(&format!("/v1/sandboxes/{id}/stop")).await,
        409,
        "INVALID_STATE_TRANSITION",
    )
    .await;
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("that is pausing") && message.contains("a pause is under way"),
        "{message}"
    );
}

#[tokio::test]
async fn a_sandbox_the_runtime_lost_is_409_sandbox_vanished_and_its_row_error() {
    let app = spawn_app().await;
    let id = sandbox(&app).await;
    assert!(app.runtime.vanish(&id));
    let body = assert_error(
        app.post_empty(&format!("/v1/sandboxes/{id}/pause")).await,
        409,
        "SANDBOX_VANISHED",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("state error"),
        "{body}"
    );
    let (_, got) = status_json(app.get(&format!("/v1/sandboxes/{id}")).await).await;
    assert_eq!(got["status"], "error");
}
