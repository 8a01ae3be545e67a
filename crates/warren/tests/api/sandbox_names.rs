//! Idempotent creates on the real engine, through `warren serve`: a create with a `name` answers the
//! organization's live sandbox of that name (200) instead of making a second one, also when several
//! race (Postgres' partial unique index decides); an `Idempotency-Key` answers the sandbox its first
//! create made for the same body, refuses another body (422), and is forgotten once expired.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::docker::db_with_key;
use crate::volume_support::{Api, engine, finish, other_org, serve};

/// Sends `n` creates of `body` at once (with `key` as `Idempotency-Key`); their answers.
async fn race(api: &Api, n: usize, body: Value, key: Option<&str>) -> Vec<(u16, Value)> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (api, body, key) = (api.clone(), body.clone(), key.map(str::to_owned));
        set.spawn(async move {
            api.call(Method::POST, "/v1/sandboxes", Some(&body), key.as_deref())
                .await
        });
    }
    set.join_all().await
}

/// The one id all `answers` name, checking that exactly one of them made it (201).
fn one_sandbox(answers: &[(u16, Value)]) -> String {
    let made = answers.iter().filter(|(s, _)| *s == 201).count();
    let replayed = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((made, replayed), (1, answers.len() - 1), "{answers:?}");
    let id = &answers[0].1["id"];
    assert!(answers.iter().all(|(_, b)| &b["id"] == id), "{answers:?}");
    id.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_by_name_answers_the_live_sandbox_of_that_name_even_when_racing() {
    let (db, pool, key) = db_with_key().await;
    let other_key = other_org(&pool).await;
    let engine = engine().await;
    let server = serve(&db, &[]).await;
    let api = Api::new(&server.base, &key);

    let body = json!({"template_name": "base", "name": "web"});
    let (status, first) = api.post("/v1/sandboxes", body.clone()).await;
    assert_eq!((status, &first["name"]), (201, &"web".into()), "{first}");
    let (status, again) = api.post("/v1/sandboxes", body.clone()).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "{again}");
    assert!(again["auth_token"].is_string(), "a usable token: {again}");
    // Names are per organization.
    let (status, theirs) = Api::new(&server.base, &other_key)
        .post("/v1/sandboxes", body.clone())
        .await;
    assert_eq!(status, 201, "{theirs}");
    assert_ne!(theirs["id"], first["id"]);

    let racing = race(
        &api,
        4,
        json!({"template_name": "base", "name": "api"}),
        None,
    )
    .await;
    let id = one_sandbox(&racing);
    let named: i64 = sqlx::query_scalar("SELECT count(*) FROM sandboxes WHERE name = 'api'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(named, 1, "one sandbox named api ({id})");

    // Once deleted, the name is free again.
    let first_id = first["id"].as_str().unwrap();
    assert_eq!(
        api.delete(&format!("/v1/sandboxes/{first_id}")).await.0,
        200
    );
    let (status, fresh) = api.post("/v1/sandboxes", body).await;
    assert_eq!(status, 201, "{fresh}");
    assert_ne!(fresh["id"], first["id"]);
    let (status, bad) = api
        .post(
            "/v1/sandboxes",
            json!({"template_name": "base", "name": "a b"}),
        )
        .await;
    assert_eq!(
        (status, &bad["code"]),
        (400, &"INVALID_REQUEST".into()),
        "{bad}"
    );
    finish(server, &pool, &engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_first_create_and_refuses_another_body() {
    let (db, pool, key) = db_with_key().await;
    let engine = engine().await;
    let server = serve(&db, &[]).await;
    let api = Api::new(&server.base, &key);
    let post = |body: Value, k: &'static str| {
        let api = api.clone();
        async move {
            api.call(Method::POST, "/v1/sandboxes", Some(&body), Some(k))
                .await
        }
    };

    let body = json!({"template_name": "base", "timeout_seconds": 600});
    let (status, first) = post(body.clone(), "key-1").await;
    assert_eq!(status, 201, "{first}");
    // The same body, written differently: the same sandbox.
    let same = json!({"timeout_seconds": 600, "template_name": "base", "unknown": true});
    let (status, replay) = post(same, "key-1").await;
    assert_eq!((status, &replay["id"]), (200, &first["id"]), "{replay}");
    let (status, refused) = post(json!({"template_name": "base"}), "key-1").await;
    assert_eq!(
        (status, &refused["code"]),
        (422, &"IDEMPOTENCY_KEY_REUSED".into()),
        "{refused}"
    );

    let racing = race(&api, 3, body.clone(), Some("key-2")).await;
    one_sandbox(&racing);

    // Expired, the key makes a new sandbox.
    sqlx::query("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let (status, fresh) = post(body, "key-1").await;
    assert_eq!(status, 201, "{fresh}");
    assert_ne!(fresh["id"], first["id"]);
    let (status, bad) = api
        .call(
            Method::POST,
            "/v1/sandboxes",
            Some(&json!({"template_name": "base"})),
            Some("a b"),
        )
        .await;
    assert_eq!(
        (status, &bad["code"]),
        (400, &"INVALID_REQUEST".into()),
        "{bad}"
    );
    let made: i64 = sqlx::query_scalar("SELECT count(*) FROM sandboxes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(made, 3, "key-1, key-2 and key-1 after it expired");
    finish(server, &pool, &engine).await;
}
