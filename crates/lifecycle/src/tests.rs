use super::*;

#[test]
fn names_round_trip_and_are_distinct() {
    for s in SandboxStatus::ALL {
        assert_eq!(s.as_str().parse::<SandboxStatus>().unwrap(), s);
        assert_eq!(s.to_string(), s.as_str());
    }
    let mut names: Vec<&str> = SandboxStatus::ALL.iter().map(|s| s.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), SandboxStatus::ALL.len());
    assert!("Running".parse::<SandboxStatus>().is_err());
    assert_eq!(SandboxStatus::stored("paused"), S::Paused);
    assert_eq!(
        SandboxStatus::stored("hibernated"),
        S::Error,
        "a newer version's state"
    );
    assert!("".parse::<SandboxStatus>().is_err());
}

#[test]
fn the_api_shows_only_the_contracts_statuses() {
    let contract = [
        "creating", "running", "paused", "stopped", "error", "deleted",
    ];
    for s in SandboxStatus::ALL {
        assert!(contract.contains(&s.wire()), "{s} shows {}", s.wire());
        assert!(SandboxStatus::shown_as(s.wire()).contains(&s));
    }
    assert_eq!(SandboxStatus::shown_as("running"), [S::Running, S::Pausing]);
    assert_eq!(
        SandboxStatus::shown_as("stopped"),
        [S::Starting, S::Stopping, S::Stopped]
    );
    assert!(SandboxStatus::shown_as("pausing").is_empty());
}

#[test]
fn transition_table() {
    let allowed: Vec<(SandboxStatus, Action)> = SandboxStatus::ALL
        .into_iter()
        .flat_map(|s| Action::ALL.into_iter().map(move |a| (s, a)))
        .filter(|(s, a)| a.check(*s).is_ok())
        .collect();
    assert_eq!(
        allowed,
        [
            (S::Running, Action::Pause),
            (S::Running, Action::Stop),
            (S::Paused, Action::Resume),
            (S::Paused, Action::Stop),
            (S::Stopped, Action::Start),
        ]
    );
}

#[test]
fn each_action_has_its_own_transitional_state_between_stable_ones() {
    for a in Action::ALL {
        let via = a.via();
        assert_eq!(via.in_progress(), Some(a));
        assert!(!a.from().contains(&via) && a.to() != via);
        assert!(a.to().in_progress().is_none());
        assert!(a.from().iter().all(|s| s.in_progress().is_none()));
        // Nothing else may begin while the action is under way.
        assert!(Action::ALL.iter().all(|b| b.check(via).is_err()));
    }
    let stable = SandboxStatus::ALL
        .iter()
        .filter(|s| s.in_progress().is_none())
        .count();
    assert_eq!(stable, 6);
}

#[test]
fn only_running_is_routed_and_the_sets_nest() {
    let routed: Vec<_> = SandboxStatus::ALL
        .into_iter()
        .filter(|s| s.routable())
        .collect();
    assert_eq!(routed, [S::Running]);
    assert_eq!(
        SandboxStatus::names_where(SandboxStatus::is_live),
        [
            "creating", "starting", "running", "pausing", "paused", "resuming", "stopping",
            "stopped"
        ]
    );
    assert_eq!(
        SandboxStatus::names_where(SandboxStatus::is_active),
        [
            "creating", "starting", "running", "pausing", "paused", "resuming", "stopping"
        ]
    );
    assert!(
        SandboxStatus::ALL
            .iter()
            .all(|s| !s.is_active() || s.is_live())
    );
}

#[test]
fn refusals_say_what_is_allowed_and_what_is_under_way() {
    let e = Action::Pause.check(S::Stopped).unwrap_err().to_string();
    assert_eq!(
        e,
        "Cannot pause a sandbox that is stopped (allowed from: running)"
    );
    let e = Action::Resume.check(S::Pausing).unwrap_err().to_string();
    assert!(
        e.contains("that is pausing") && e.ends_with("a pause is under way, retry when it ends"),
        "{e}"
    );
}

#[test]
fn pool_states_round_trip() {
    for s in PoolStatus::ALL {
        assert_eq!(s.as_str().parse::<PoolStatus>().unwrap(), s);
    }
    assert!("running".parse::<PoolStatus>().is_err());
}
