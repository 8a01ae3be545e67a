//! Scoped credentials over the real stack (real Postgres, real `warren-agent` processes, the router on
//! `warren serve`'s port): preview links open only their sandbox's ports (and only theirs when bound),
//! never the agent, and never reach the app behind the port; token key rotation keeps old tokens for the
//! grace period then refuses them at the router and at the agent; revocation refuses them at once; a
//! correctly signed token with an expiry beyond the maximum lifetime is refused.

use std::time::Duration;

use reqwest::Method;
use sandbox_token::{PreviewClaims, TokenKey};
use serde_json::{Value, json};

use crate::helpers::{assert_error, status_json};
use crate::router_support::{
    RouterApp, Sandbox, assert_router_error, spawn_router_app, stand_in_app,
};

const YEAR_2100: i64 = 4_102_444_800;

impl RouterApp {
    /// `GET /info` (token required) on the sandbox's agent host with `token`: the status.
    async fn agent_host(&self, sb: &Sandbox, token: &str) -> u16 {
        let r = self.to_host(Method::GET, &self.host(&sb.id), "/info");
        r.bearer_auth(token).send().await.unwrap().status().as_u16()
    }

    /// `GET /info` straight at the sandbox's agent (bypassing the router) with `token`.
    async fn agent_direct(&self, sb: &Sandbox, token: &str) -> u16 {
        let addr = self.app.runtime.agent_addr(&sb.id).unwrap();
        let r = self.app.client.get(format!("http://{addr}/info"));
        r.bearer_auth(token).send().await.unwrap().status().as_u16()
    }

    async fn refresh(&self, sb: &Sandbox) -> String {
        let path = format!("/v1/sandboxes/{}/token/refresh", sb.id);
        let (status, body) = status_json(self.app.post_empty(&path).await).await;
        assert_eq!(status, 200, "{body}");
        body["auth_token"].as_str().unwrap().to_owned()
    }

    async fn rotate(&self, sb: &Sandbox, body: Value) -> Value {
        let path = format!("/v1/sandboxes/{}/token/rotate", sb.id);
        let (status, body) = status_json(self.app.post_json(&path, &body).await).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The sandbox's current token key, as its runtime was given it.
    fn key(&self, sb: &Sandbox) -> TokenKey {
        TokenKey::from_hex(&self.app.runtime.spec_of(&sb.id).unwrap().token_key_hex).unwrap()
    }
}

/// The JSON the stand-in app echoed: what reached it.
async fn echoed(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Asserts that no Warren credential reached the app.
fn assert_app_saw_no_credential(seen: &Value, token: &str) {
    let text = seen.to_string();
    assert!(!text.contains(token), "the app saw the credential: {text}");
    assert!(!text.contains("warren_preview"), "{text}");
}

#[tokio::test]
async fn preview_links_open_only_their_ports_and_never_reach_the_app() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({"private_previews": true})).await;
    let (port, _) = stand_in_app().await;
    let (other_port, _) = stand_in_app().await;
    let host = r.host(&format!("{port}-{}", sb.id));
    let other_host = r.host(&format!("{other_port}-{}", sb.id));

    let link = r
        .preview_link(&sb, json!({"port": port, "expires_in_seconds": 600}))
        .await;
    let token = link["token"].as_str().unwrap().to_owned();
    assert_eq!(link["port"], port);
    assert!(link["expires_at"].is_string());
    let url = link["url"].as_str().unwrap();
    let prefix = format!("http://{host}/?warren_preview=");
    assert_eq!(url, format!("{prefix}{token}"));

    let by_query = r
        .to_host(
            Method::GET,
            &host,
            &format!("/echo?a=1&warren_preview={token}&b=2"),
        )
        .send()
        .await
        .unwrap();
    let cookie = by_query.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let seen = echoed(by_query).await;
    assert_eq!(seen["uri"], "/echo?a=1&b=2");
    assert_app_saw_no_credential(&seen, &token);
    let by_cookie = r
        .to_host(Method::GET, &host, "/echo")
        .header(
            "cookie",
            format!("app=1; {}", cookie.split(';').next().unwrap()),
        )
        .send()
        .await
        .unwrap();
    let seen = echoed(by_cookie).await;
    assert_eq!(seen["headers"]["cookie"], "app=1");
    assert_app_saw_no_credential(&seen, &token);
    let by_bearer = r
        .to_host(Method::GET, &host, "/echo")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let seen = echoed(by_bearer).await;
    assert!(seen["headers"].get("authorization").is_none(), "{seen}");
    assert_app_saw_no_credential(&seen, &token);

    let wrong_port = r
        .to_host(Method::GET, &other_host, "/echo")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_router_error(wrong_port, 403, "TOKEN_WRONG_PORT").await;
    assert_eq!(
        r.agent_host(&sb, &token).await,
        401,
        "the agent host refuses it"
    );
    assert_eq!(r.agent_direct(&sb, &token).await, 401, "so does the agent");

    let any_port = r.preview_link(&sb, json!({})).await;
    assert!(any_port["url"].is_null() && any_port["port"].is_null());
    let any_token = any_port["token"].as_str().unwrap();
    for h in [&host, &other_host] {
        let ok = r
            .to_host(Method::GET, h, "/echo")
            .bearer_auth(any_token)
            .send()
            .await;
        assert_eq!(ok.unwrap().status(), 200);
    }

    let other = r.sandbox(json!({"private_previews": true})).await;
    let foreign = r
        .to_host(
            Method::GET,
            &r.host(&format!("{port}-{}", other.id)),
            "/echo",
        )
        .bearer_auth(any_token)
        .send()
        .await
        .unwrap();
    assert_router_error(foreign, 401, "TOKEN_INVALID").await;

    let revoked = r
        .app
        .delete(&format!("/v1/sandboxes/{}/preview-links", sb.id))
        .await;
    let (status, body) = status_json(revoked).await;
    assert_eq!((status, &body["revoked"]), (200, &json!(true)), "{body}");
    // The agent's next start signs its viewer's links with the new epoch too.
    assert_eq!(r.app.runtime.spec_of(&sb.id).unwrap().preview_epoch, 1);
    for t in [token.as_str(), any_token] {
        let after = r
            .to_host(Method::GET, &host, "/echo")
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_router_error(after, 401, "TOKEN_INVALID").await;
    }
    let fresh = r.preview_link(&sb, json!({"port": port})).await;
    let ok = r
        .to_host(Method::GET, &host, "/echo")
        .bearer_auth(fresh["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn public_previews_never_forward_warren_credentials_either() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let (port, _) = stand_in_app().await;
    let host = r.host(&format!("{port}-{}", sb.id));
    let seen = echoed(
        r.to_host(Method::GET, &host, "/echo?q=1")
            .bearer_auth(&sb.token)
            .header("cookie", "app=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_app_saw_no_credential(&seen, &sb.token);
    assert_eq!(seen["uri"], "/echo?q=1");
    assert_eq!(seen["headers"]["cookie"], "app=1");
}

#[tokio::test]
async fn preview_link_requests_are_checked() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({"private_previews": true})).await;
    let path = format!("/v1/sandboxes/{}/preview-links", sb.id);
    for bad in [
        json!({"port": 0}),
        json!({"port": 7777}),
        json!({"port": 70000}),
        json!({"port": "x"}),
        json!({"expires_in_seconds": 0}),
        json!({"expires_in_seconds": 7 * 24 * 3600 + 1}),
    ] {
        assert_error(r.app.post_json(&path, &bad).await, 400, "INVALID_REQUEST").await;
    }
    let missing = r
        .app
        .post_json("/v1/sandboxes/zzzzzzzzzzzz/preview-links", &json!({}))
        .await;
    assert_error(missing, 404, "SANDBOX_NOT_FOUND").await;
    let missing = r
        .app
        .delete("/v1/sandboxes/zzzzzzzzzzzz/preview-links")
        .await;
    assert_error(missing, 404, "SANDBOX_NOT_FOUND").await;
    let (_, other_key) = r.app.other_org("other").await;
    let foreign = r
        .app
        .request_as(&other_key, Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_error(foreign, 404, "SANDBOX_NOT_FOUND").await;
}

#[tokio::test]
async fn rotation_keeps_old_tokens_for_the_grace_period_only() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let old = sb.token.clone();
    let rotated = r.rotate(&sb, json!({"grace_seconds": 3})).await;
    let new = rotated["auth_token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(
        rotated["previous_token_valid_until"].is_string(),
        "{rotated}"
    );
    for token in [&old, &new] {
        assert_eq!(r.agent_host(&sb, token).await, 200);
        assert_eq!(r.agent_direct(&sb, token).await, 200);
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let expired = r
        .to_host(Method::GET, &r.host(&sb.id), "/health")
        .bearer_auth(&old)
        .send()
        .await
        .unwrap();
    assert_router_error(expired, 401, "TOKEN_INVALID").await;
    assert_eq!(
        r.agent_direct(&sb, &old).await,
        401,
        "the agent refuses it too"
    );
    assert_eq!(r.agent_host(&sb, &new).await, 200);
    assert_eq!(r.agent_direct(&sb, &new).await, 200);
}

#[tokio::test]
async fn two_clients_refreshing_alternately_keep_working_across_rotations() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    // Each step: one client connects (the SDK refreshes on every `connect()`) and calls the agent.
    for step in ["a", "b", "rotate", "b", "a", "revoke", "a", "b"] {
        match step {
            "rotate" => drop(r.rotate(&sb, json!({"grace_seconds": 0})).await),
            "revoke" => {
                let path = format!("/v1/sandboxes/{}/token/revoke", sb.id);
                assert_eq!(r.app.post_empty(&path).await.status(), 200);
            }
            client => {
                let token = r.refresh(&sb).await;
                assert_eq!(r.agent_host(&sb, &token).await, 200, "client {client}");
            }
        }
    }
}

#[tokio::test]
async fn revocation_refuses_old_tokens_and_links_at_once() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({"private_previews": true})).await;
    let (port, _) = stand_in_app().await;
    let host = r.host(&format!("{port}-{}", sb.id));
    let link = r.preview_link(&sb, json!({"port": port})).await;
    let link = link["token"].as_str().unwrap().to_owned();
    let refreshed = r.refresh(&sb).await;

    let path = format!("/v1/sandboxes/{}/token/revoke", sb.id);
    let (status, body) = status_json(r.app.post_empty(&path).await).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["previous_token_valid_until"].is_null(), "{body}");
    let fresh = body["auth_token"].as_str().unwrap();
    for old in [&sb.token, &refreshed] {
        assert_eq!(r.agent_host(&sb, old).await, 401);
        assert_eq!(r.agent_direct(&sb, old).await, 401);
    }
    assert_eq!(r.agent_host(&sb, fresh).await, 200);
    assert_eq!(r.agent_direct(&sb, fresh).await, 200);
    // What its next start reads holds the new key: a restart never brings back the revoked one.
    let now = chrono::Utc::now().timestamp();
    assert!(r.key(&sb).verify(fresh, &sb.id, now).is_ok());
    let old_link = r
        .to_host(Method::GET, &host, "/echo")
        .bearer_auth(&link)
        .send()
        .await;
    assert_router_error(old_link.unwrap(), 401, "TOKEN_INVALID").await;
}

#[tokio::test]
async fn correctly_signed_tokens_beyond_the_maximum_lifetime_are_refused() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({"private_previews": true})).await;
    let key = r.key(&sb);
    let forever = key.sign(&sb.id, YEAR_2100);
    let refused = r
        .to_host(Method::GET, &r.host(&sb.id), "/health")
        .bearer_auth(&forever)
        .send()
        .await
        .unwrap();
    assert_router_error(refused, 401, "TOKEN_INVALID").await;
    assert_eq!(r.agent_direct(&sb, &forever).await, 401);
    let week = key.sign(&sb.id, chrono::Utc::now().timestamp() + 6 * 24 * 3600);
    assert_eq!(r.agent_host(&sb, &week).await, 200, "within the cap");

    let (port, _) = stand_in_app().await;
    let forever_link = key.sign_preview(&PreviewClaims {
        sandbox_id: sb.id.clone(),
        port: None,
        epoch: 0,
        expires_at: YEAR_2100,
    });
    let refused = r
        .to_host(Method::GET, &r.host(&format!("{port}-{}", sb.id)), "/echo")
        .bearer_auth(&forever_link)
        .send()
        .await
        .unwrap();
    assert_router_error(refused, 401, "TOKEN_INVALID").await;
}

#[tokio::test]
async fn only_the_control_plane_can_push_a_key_to_the_agent() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let addr = r.app.runtime.agent_addr(&sb.id).unwrap();
    let mine = TokenKey::generate();
    let push = |authorization: String| {
        r.app
            .client
            .post(format!("http://{addr}/_warren/keys"))
            .bearer_auth(authorization)
            .json(&json!({"token_key": mine.to_hex()}))
            .send()
    };
    // An agent token, a push signed by a stranger's key, and a push of the current key for another
    // key are all refused.
    let in_a_minute = chrono::Utc::now().timestamp() + 60;
    for authorization in [
        sb.token.clone(),
        TokenKey::generate().sign_key_push(&sb.id, in_a_minute, &mine),
        r.key(&sb)
            .sign_key_push(&sb.id, in_a_minute, &TokenKey::generate()),
    ] {
        assert_eq!(push(authorization).await.unwrap().status(), 401);
    }
    assert_eq!(
        r.agent_direct(&sb, &mine.sign(&sb.id, in_a_minute)).await,
        401
    );
    assert_eq!(r.agent_direct(&sb, &sb.token).await, 200);
}

#[tokio::test]
async fn stopped_sandboxes_get_the_new_key_for_their_next_start_and_paused_ones_refuse() {
    let r = spawn_router_app().await;
    let sb = r.sandbox(json!({})).await;
    let pause = format!("/v1/sandboxes/{}/pause", sb.id);
    assert_eq!(r.app.post_empty(&pause).await.status(), 200);
    let path = format!("/v1/sandboxes/{}/token/rotate", sb.id);
    let paused = r.app.post_json(&path, &json!({})).await;
    assert_error(paused, 409, "INVALID_STATE_TRANSITION").await;

    let stop = format!("/v1/sandboxes/{}/stop", sb.id);
    assert_eq!(r.app.post_empty(&stop).await.status(), 200);
    let before = r.key(&sb);
    let rotated = r.rotate(&sb, json!({})).await;
    let after = r.key(&sb);
    assert_ne!(before, after);
    let now = chrono::Utc::now().timestamp();
    let token = rotated["auth_token"].as_str().unwrap();
    assert!(
        after.verify(token, &sb.id, now).is_ok(),
        "the runtime holds the new key"
    );

    for bad in [
        json!({"grace_seconds": -1}),
        json!({"grace_seconds": 7 * 24 * 3600 + 1}),
    ] {
        assert_error(r.app.post_json(&path, &bad).await, 400, "INVALID_REQUEST").await;
    }
    let missing = r
        .app
        .post_empty("/v1/sandboxes/zzzzzzzzzzzz/token/revoke")
        .await;
    assert_error(missing, 404, "SANDBOX_NOT_FOUND").await;
}
