use super::*;
use proptest::prelude::*;

const NOW: i64 = 1_000_000;
const MAX: i64 = DEFAULT_MAX_LIFETIME_SECONDS;

fn preview(port: Option<u16>, epoch: i64, expires_at: i64) -> PreviewClaims {
    PreviewClaims {
        sandbox_id: "abc123".into(),
        port,
        epoch,
        expires_at,
    }
}

fn target(port: u16, epoch: i64) -> PreviewTarget<'static> {
    PreviewTarget {
        sandbox_id: "abc123",
        port,
        epoch,
    }
}

#[test]
fn signed_token_verifies() {
    let key = TokenKey::generate();
    let token = key.sign("abc123", NOW + 60);
    let claims = KeyRing::new(key)
        .verify(&token, "abc123", NOW, MAX)
        .unwrap();
    assert_eq!(claims.expires_at, NOW + 60);
    assert_eq!(claims.sandbox_id, "abc123");
}

#[test]
fn bearer_header_values() {
    assert_eq!(from_authorization("Bearer wst1.a.1.x "), Some("wst1.a.1.x"));
    assert_eq!(from_authorization("Basic abc"), None);
    assert_eq!(from_authorization("bearer abc"), None);
}

#[test]
fn refusals() {
    let key = TokenKey::generate();
    let ring = KeyRing::new(key.clone());
    let token = key.sign("abc123", NOW + 60);
    let verify = |t: &str, id: &str, now: i64| ring.verify(t, id, now, MAX);
    assert_eq!(verify(&token, "other", NOW), Err(TokenError::WrongSandbox));
    assert_eq!(verify(&token, "abc123", NOW + 60), Err(TokenError::Expired));
    let other = KeyRing::new(TokenKey::generate());
    assert_eq!(
        other.verify(&token, "abc123", NOW, MAX),
        Err(TokenError::BadSignature)
    );
    let forged = token.replace(&format!(".{}.", NOW + 60), &format!(".{}.", NOW + 90));
    assert_eq!(
        verify(&forged, "abc123", NOW),
        Err(TokenError::BadSignature)
    );
    assert_eq!(verify("nope", "abc123", 0), Err(TokenError::Malformed));
    assert_eq!(verify("wst1..5.x", "", 0), Err(TokenError::Malformed));
    assert_eq!(verify("wst1.a.-5.x", "a", -9), Err(TokenError::Malformed));
}

#[test]
fn expiry_beyond_the_maximum_lifetime_is_refused_though_signed() {
    let key = TokenKey::generate();
    let ring = KeyRing::new(key.clone());
    let year_2100 = 4_102_444_800;
    let token = key.sign("abc123", year_2100);
    assert_eq!(
        ring.verify(&token, "abc123", NOW, MAX),
        Err(TokenError::TooLong)
    );
    let at_cap = key.sign("abc123", NOW + MAX);
    assert!(ring.verify(&at_cap, "abc123", NOW, MAX).is_ok());
    assert_eq!(
        ring.verify(&at_cap, "abc123", NOW, MAX - 1),
        Err(TokenError::TooLong)
    );
    let link = key.sign_preview(&preview(None, 0, year_2100));
    assert_eq!(
        ring.verify_preview(&link, target(3000, 0), NOW, MAX),
        Err(TokenError::TooLong)
    );
}

#[test]
fn key_round_trips_through_hex() {
    let key = TokenKey::generate();
    assert_eq!(TokenKey::from_hex(&key.to_hex()).unwrap(), key);
    assert_eq!(TokenKey::from_hex("abcd"), Err(TokenError::BadKey));
    assert_eq!(format!("{key:?}"), "TokenKey(..)");
    let ring = KeyRing::new(key.clone()).with_previous(key.clone(), 5);
    assert!(!format!("{ring:?}").contains(&key.to_hex()));
}

#[test]
fn preview_tokens_open_their_ports_until_revoked() {
    let key = TokenKey::generate();
    let ring = KeyRing::new(key.clone());
    let any_port = key.sign_preview(&preview(None, 3, NOW + 60));
    let claims = ring
        .verify_preview(&any_port, target(8080, 3), NOW, MAX)
        .unwrap();
    assert_eq!(claims, preview(None, 3, NOW + 60));
    assert!(
        ring.verify_preview(&any_port, target(3000, 3), NOW, MAX)
            .is_ok()
    );
    assert_eq!(
        ring.verify_preview(&any_port, target(3000, 4), NOW, MAX),
        Err(TokenError::Revoked)
    );

    let bound = key.sign_preview(&preview(Some(3000), 0, NOW + 60));
    assert!(
        ring.verify_preview(&bound, target(3000, 0), NOW, MAX)
            .is_ok()
    );
    assert_eq!(
        ring.verify_preview(&bound, target(3001, 0), NOW, MAX),
        Err(TokenError::WrongPort)
    );
    let other_sandbox = PreviewTarget {
        sandbox_id: "zzz999",
        ..target(3000, 0)
    };
    assert_eq!(
        ring.verify_preview(&bound, other_sandbox, NOW, MAX),
        Err(TokenError::WrongSandbox)
    );
    assert_eq!(
        ring.verify_preview(&bound, target(3000, 0), NOW + 60, MAX),
        Err(TokenError::Expired)
    );
    let widened = bound.replace(".3000.", ".0.");
    assert_eq!(
        ring.verify_preview(&widened, target(3001, 0), NOW, MAX),
        Err(TokenError::BadSignature)
    );
    let reissued = bound.replace(".0.", ".1.");
    assert_eq!(
        ring.verify_preview(&reissued, target(3000, 1), NOW, MAX),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn no_credential_passes_for_another_kind() {
    let key = TokenKey::generate();
    let ring = KeyRing::new(key.clone());
    let agent = key.sign("abc123", NOW + 60);
    let link = key.sign_preview(&preview(None, 0, NOW + 60));
    let push = key.sign_key_push("abc123", NOW + 60, &TokenKey::generate());
    for not_agent in [&link, &push] {
        assert_eq!(
            ring.verify(not_agent, "abc123", NOW, MAX),
            Err(TokenError::Malformed)
        );
    }
    for not_preview in [&agent, &push] {
        assert_eq!(
            ring.verify_preview(not_preview, target(3000, 0), NOW, MAX),
            Err(TokenError::Malformed)
        );
    }
    // An agent token re-labelled as a key push has the right shape but not the right MAC.
    let relabelled = agent.replacen("wst1", "wsk1", 1);
    assert_eq!(
        ring.verify_key_push(&relabelled, "abc123", NOW, &TokenKey::generate()),
        Err(TokenError::BadSignature)
    );
    assert!(
        [&agent, &link, &push]
            .iter()
            .all(|t| is_sandbox_credential(t))
    );
    assert!(!is_sandbox_credential("wst1x.a"));
    assert!(!is_sandbox_credential("eyJhbGciOi.x.y"));
}

#[test]
fn previous_key_verifies_until_its_deadline() {
    let old = TokenKey::generate();
    let new = TokenKey::generate();
    let ring = KeyRing::new(new.clone()).with_previous(old.clone(), NOW + 10);
    let old_token = old.sign("abc123", NOW + 600);
    let new_token = new.sign("abc123", NOW + 600);
    assert!(ring.verify(&old_token, "abc123", NOW + 9, MAX).is_ok());
    assert_eq!(
        ring.verify(&old_token, "abc123", NOW + 10, MAX),
        Err(TokenError::BadSignature)
    );
    assert!(ring.verify(&new_token, "abc123", NOW + 10, MAX).is_ok());
    assert_eq!(ring.current(), &new);
    assert_eq!(ring.previous(NOW), Some((&old, NOW + 10)));
    assert_eq!(ring.previous(NOW + 10), None);
}

#[test]
fn key_pushes_are_bound_to_the_new_key_and_name_their_signer() {
    let old = TokenKey::generate();
    let new = TokenKey::generate();
    let ring = KeyRing::new(old.clone());
    let push = old.sign_key_push("abc123", NOW + 60, &new);
    assert_eq!(ring.verify_key_push(&push, "abc123", NOW, &new), Ok(&old));
    assert_eq!(
        ring.verify_key_push(&push, "abc123", NOW, &TokenKey::generate()),
        Err(TokenError::BadSignature)
    );
    assert_eq!(
        ring.verify_key_push(&push, "abc123", NOW + 60, &new),
        Err(TokenError::Expired)
    );
    let by_stranger = TokenKey::generate().sign_key_push("abc123", NOW + 60, &new);
    assert_eq!(
        ring.verify_key_push(&by_stranger, "abc123", NOW, &new),
        Err(TokenError::BadSignature)
    );
}

proptest! {
    #[test]
    fn arbitrary_strings_never_verify(s in ".*") {
        let ring = KeyRing::new(TokenKey::generate());
        prop_assert!(ring.verify(&s, "abc", 0, MAX).is_err());
        let target = PreviewTarget { sandbox_id: "abc", port: 1, epoch: 0 };
        prop_assert!(ring.verify_preview(&s, target, 0, MAX).is_err());
    }
}
