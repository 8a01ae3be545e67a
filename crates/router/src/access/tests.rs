use sandbox_token::{DEFAULT_MAX_LIFETIME_SECONDS as MAX, KeyRing, PreviewClaims, TokenKey};

use super::*;

const ID: &str = "abcdefgh1234";

fn host(label: &str) -> SandboxHost {
    super::super::host::parse(&format!("{label}.s.test"), "s.test").unwrap()
}

fn route(keys: KeyRing, epoch: i64) -> Running {
    Running {
        agent: "127.0.0.1:7777".parse().unwrap(),
        agent_authority: "127.0.0.1:7777".parse().unwrap(),
        keys,
        preview_epoch: epoch,
        private_previews: true,
        asleep: false,
    }
}

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap()))
        .collect()
}

fn bearer_of(token: &str) -> HeaderMap {
    headers(&[(header::AUTHORIZATION, &format!("Bearer {token}"))])
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn link(key: &TokenKey, port: Option<u16>, epoch: i64, expires_at: i64) -> String {
    key.sign_preview(&PreviewClaims {
        sandbox_id: ID.into(),
        port,
        epoch,
        expires_at,
    })
}

#[test]
fn agent_hosts_take_agent_tokens_only() {
    let key = TokenKey::generate();
    let r = route(KeyRing::new(key.clone()), 0);
    let agent = host(ID);
    let token = key.sign(ID, now() + 60);
    assert!(check_agent(&bearer_of(&token), &agent, &r, MAX).is_ok());
    let preview = link(&key, None, 0, now() + 60);
    assert!(matches!(
        check_agent(&bearer_of(&preview), &agent, &r, MAX),
        Err(RouterError::TokenInvalid)
    ));
    assert!(matches!(
        check_agent(&bearer_of(&key.sign(ID, 4_102_444_800)), &agent, &r, MAX),
        Err(RouterError::TokenInvalid)
    ));
    assert!(matches!(
        check_agent(&bearer_of(&key.sign(ID, 10)), &agent, &r, MAX),
        Err(RouterError::TokenExpired)
    ));
    assert!(matches!(
        check_agent(&HeaderMap::new(), &agent, &r, MAX),
        Err(RouterError::TokenInvalid)
    ));
}

#[test]
fn private_previews_take_preview_tokens_from_three_places() {
    let key = TokenKey::generate();
    let r = route(KeyRing::new(key.clone()), 2);
    let port = host(&format!("3000-{ID}"));
    let plain: Uri = "/".parse().unwrap();
    let token = link(&key, Some(3000), 2, now() + 60);
    let check = |h: &HeaderMap, uri: &Uri, secure| check_preview(h, uri, &port, &r, MAX, secure);

    assert_eq!(check(&bearer_of(&token), &plain, false).unwrap(), None);
    let query: Uri = format!("/x?a=1&warren_preview={token}").parse().unwrap();
    let cookie = check(&HeaderMap::new(), &query, true).unwrap().unwrap();
    let cookie = cookie.to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("warren_preview={token}; Path=/; Max-Age="))
            && cookie.ends_with("; HttpOnly; SameSite=Lax; Secure"),
        "{cookie}"
    );
    let jar = headers(&[(header::COOKIE, &format!("a=b; warren_preview={token}"))]);
    assert_eq!(check(&jar, &plain, false).unwrap(), None);

    let apps_own_bearer = headers(&[
        (header::AUTHORIZATION, "Bearer app-session"),
        (header::COOKIE, &format!("warren_preview={token}")),
    ]);
    assert_eq!(check(&apps_own_bearer, &plain, false).unwrap(), None);

    let agent_token = key.sign(ID, now() + 60);
    for refused in [
        bearer_of(&agent_token),
        headers(&[(header::COOKIE, &format!("warren_token={agent_token}"))]),
        bearer_of(&link(&TokenKey::generate(), None, 2, now() + 60)),
        bearer_of(&link(&key, None, 1, now() + 60)),
        bearer_of(&link(&key, None, 2, 4_102_444_800)),
        HeaderMap::new(),
    ] {
        assert!(
            matches!(
                check(&refused, &plain, false),
                Err(RouterError::TokenInvalid)
            ),
            "{refused:?}"
        );
    }
    let old_query: Uri = format!("/?token={agent_token}").parse().unwrap();
    assert!(matches!(
        check(&HeaderMap::new(), &old_query, false),
        Err(RouterError::TokenInvalid)
    ));
    assert!(matches!(
        check(
            &bearer_of(&link(&key, Some(3001), 2, now() + 60)),
            &plain,
            false
        ),
        Err(RouterError::TokenWrongPort)
    ));
    assert!(matches!(
        check(&bearer_of(&link(&key, None, 2, 10)), &plain, false),
        Err(RouterError::TokenExpired)
    ));
}

#[test]
fn the_desktop_viewer_port_always_needs_a_preview_token() {
    let key = TokenKey::generate();
    let public = Running {
        private_previews: false,
        ..route(KeyRing::new(key.clone()), 0)
    };
    let viewer = host(&format!("6080-{ID}"));
    assert!(needs_preview_token(&viewer, &public));
    assert!(!needs_preview_token(&host(&format!("3000-{ID}")), &public));
    assert!(!needs_preview_token(&host(ID), &public));
    assert!(needs_preview_token(
        &viewer,
        &route(KeyRing::new(key.clone()), 0)
    ));
    let plain: Uri = "/".parse().unwrap();
    let check = |h: &HeaderMap| check_preview(h, &plain, &viewer, &public, MAX, false);
    assert!(matches!(
        check(&HeaderMap::new()),
        Err(RouterError::TokenInvalid)
    ));
    assert!(matches!(
        check(&bearer_of(&key.sign(ID, now() + 60))),
        Err(RouterError::TokenInvalid)
    ));
    assert!(matches!(
        check(&bearer_of(&link(&key, Some(3000), 0, now() + 60))),
        Err(RouterError::TokenWrongPort)
    ));
    assert_eq!(
        check(&bearer_of(&link(&key, Some(6080), 0, now() + 60))).unwrap(),
        None
    );
}

#[test]
fn previous_keys_pass_until_their_deadline() {
    let (old, new) = (TokenKey::generate(), TokenKey::generate());
    let agent = host(ID);
    let old_token = bearer_of(&old.sign(ID, now() + 600));
    let in_grace = route(
        KeyRing::new(new.clone()).with_previous(old.clone(), now() + 60),
        0,
    );
    assert!(check_agent(&old_token, &agent, &in_grace, MAX).is_ok());
    let past = route(KeyRing::new(new).with_previous(old, now() - 1), 0);
    assert!(matches!(
        check_agent(&old_token, &agent, &past, MAX),
        Err(RouterError::TokenInvalid)
    ));
}

#[test]
fn credentials_are_stripped_and_the_rest_kept() {
    let key = TokenKey::generate();
    let preview = link(&key, None, 0, now() + 60);
    let mut h = headers(&[
        (header::AUTHORIZATION, &format!("Bearer {preview}")),
        (
            header::COOKIE,
            &format!("a=b; warren_preview={preview}; c=d"),
        ),
        (header::COOKIE, &format!("warren_preview={preview}")),
    ]);
    let mut uri: Uri = format!("/p?x=1&warren_preview={preview}&y=2")
        .parse()
        .unwrap();
    strip(&mut h, &mut uri);
    assert!(!h.contains_key(header::AUTHORIZATION));
    let cookies: Vec<_> = h.get_all(header::COOKIE).iter().collect();
    assert_eq!(cookies, ["a=b; c=d"]);
    assert_eq!(uri, "/p?x=1&y=2");

    let mut only: Uri = format!("/p?warren_preview={preview}").parse().unwrap();
    strip(&mut HeaderMap::new(), &mut only);
    assert_eq!(only, "/p");

    let mut agent = bearer_of(&key.sign(ID, now() + 60));
    strip(&mut agent, &mut "/".parse().unwrap());
    assert!(agent.is_empty(), "agent tokens never reach the app");

    let mut apps_own = headers(&[
        (header::AUTHORIZATION, "Bearer app-session-123"),
        (header::COOKIE, "session=1"),
    ]);
    let mut untouched: Uri = "/q?warren_previewer=1&token=abc".parse().unwrap();
    strip(&mut apps_own, &mut untouched);
    assert_eq!(apps_own[header::AUTHORIZATION], "Bearer app-session-123");
    assert_eq!(apps_own[header::COOKIE], "session=1");
    assert_eq!(untouched, "/q?warren_previewer=1&token=abc");
}
