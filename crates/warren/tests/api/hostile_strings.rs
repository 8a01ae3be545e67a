//! Strings no client should send, in every field that reaches SQL, Docker or the filesystem: NUL
//! bytes are refused at the edge with 400 `INVALID_REQUEST`, and nothing (NUL, any unicode, 300+
//! characters) ever gets a 5xx.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{Value, json};
use test_support::{TestApp, spawn_app_with};

use crate::helpers::assert_error;

/// Every byte as `%XX`, for a path segment or a query value.
fn escaped(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// The places a client string goes, each as one request.
#[derive(Debug, Clone, Copy)]
enum Field {
    CreateTemplateName,
    CreateTemplateId,
    CreateRegion,
    CreateEnvKey,
    CreateEnvValue,
    ListStatus,
    ListRegion,
    ListCursor,
    SandboxId,
    SandboxAction,
    TemplatesCategory,
    TemplateName,
    BuildName,
    BuildFromImage,
    BuildStartCmd,
    BuildRunStep,
    BuildEnvStep,
    BuildRegistryUser,
    BuildStatusId,
    UploadLinkHash,
    UploadToken,
}

const FIELDS: [Field; 21] = [
    Field::CreateTemplateName,
    Field::CreateTemplateId,
    Field::CreateRegion,
    Field::CreateEnvKey,
    Field::CreateEnvValue,
    Field::ListStatus,
    Field::ListRegion,
    Field::ListCursor,
    Field::SandboxId,
    Field::SandboxAction,
    Field::TemplatesCategory,
    Field::TemplateName,
    Field::BuildName,
    Field::BuildFromImage,
    Field::BuildStartCmd,
    Field::BuildRunStep,
    Field::BuildEnvStep,
    Field::BuildRegistryUser,
    Field::BuildStatusId,
    Field::UploadLinkHash,
    Field::UploadToken,
];

fn build(extra: Value) -> Value {
    let mut body =
        json!({"name": "fuzzed", "fromImage": "warren/template-base:latest", "steps": []});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// `s` in `field`: the method, path and JSON body of the request.
fn request(field: Field, s: &str) -> (Method, String, Option<Value>) {
    let post = |path: &str, body: Value| (Method::POST, path.to_owned(), Some(body));
    let get = |path: String| (Method::GET, path, None);
    match field {
        Field::CreateTemplateName => post("/v1/sandboxes", json!({"template_name": s})),
        Field::CreateTemplateId => post("/v1/sandboxes", json!({"template_id": s})),
        Field::CreateRegion => post(
            "/v1/sandboxes",
            json!({"template_name": "base", "region": s}),
        ),
        Field::CreateEnvKey => post(
            "/v1/sandboxes",
            json!({"template_name": "base", "env_vars": {s: "v"}}),
        ),
        Field::CreateEnvValue => post(
            "/v1/sandboxes",
            json!({"template_name": "base", "env_vars": {"K": s}}),
        ),
        Field::ListStatus => get(format!("/v1/sandboxes?status={}", escaped(s))),
        Field::ListRegion => get(format!("/v1/sandboxes?region={}", escaped(s))),
        Field::ListCursor => get(format!("/v1/sandboxes?cursor={}", escaped(s))),
        Field::SandboxId => get(format!("/v1/sandboxes/{}", escaped(s))),
        Field::SandboxAction => post(
            &format!("/v1/sandboxes/{}/timeout", escaped(s)),
            json!({"timeout": 60}),
        ),
        Field::TemplatesCategory => get(format!("/v1/templates?category={}", escaped(s))),
        Field::TemplateName => get(format!("/v1/templates/{}", escaped(s))),
        Field::BuildName => post("/v1/templates/build", build(json!({"name": s}))),
        Field::BuildFromImage => post("/v1/templates/build", build(json!({"fromImage": s}))),
        Field::BuildStartCmd => post("/v1/templates/build", build(json!({"startCmd": s}))),
        Field::BuildRunStep => post(
            "/v1/templates/build",
            build(json!({"steps": [{"type": "RUN", "args": [s]}]})),
        ),
        Field::BuildEnvStep => post(
            "/v1/templates/build",
            build(json!({"steps": [{"type": "ENV", "args": [s, s]}]})),
        ),
        Field::BuildRegistryUser => post(
            "/v1/templates/build",
            build(json!({"registry_credentials": {"username": s, "password": s}})),
        ),
        Field::BuildStatusId => get(format!("/v1/templates/build/{}/status", escaped(s))),
        Field::UploadLinkHash => post(
            "/v1/templates/files/upload-link",
            json!({"files_hash": s, "content_length": 10}),
        ),
        Field::UploadToken => (
            Method::PUT,
            format!("/v1/templates/files/upload/{}", escaped(s)),
            None,
        ),
    }
}

/// The longest URI the client builds (`http` refuses more than 64 KiB).
const MAX_URI: usize = 60_000;

async fn send(app: &TestApp, field: Field, s: &str) -> reqwest::Response {
    let (method, path, body) = request(field, s);
    assert!(
        path.len() <= MAX_URI,
        "{field:?}: a {}-byte URI",
        path.len()
    );
    let mut req = app.request(method.clone(), &path);
    if let Some(body) = body {
        req = req.body(body.to_string());
    }
    // `PUT .../timeout` is the action; `request` builds it as a POST for brevity.
    if matches!(field, Field::SandboxAction) {
        req = app
            .request(Method::PUT, &path)
            .body(json!({"timeout": 60}).to_string());
    }
    req.send().await.expect("an answer")
}

/// The server: builds accepted but no engine to reach (they fail at once), limits high enough for
/// the fuzzing.
async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.runtime.kind = settings::RuntimeKind::Docker;
        s.docker.socket = "unix:///nonexistent/docker.sock".into();
        s.limits.rate_limit = 100_000;
        s.limits.max_live_sandboxes = 100_000;
    })
    .await
}

#[tokio::test]
async fn a_nul_byte_in_any_field_is_400_invalid_request() {
    let app = app().await;
    let mut wrong = Vec::new();
    for field in FIELDS {
        for s in ["\0", "base\0", "a\0b"] {
            let r = send(&app, field, s).await;
            if r.status() != 400 {
                wrong.push(format!("{field:?} {s:?}: {}", r.status()));
                continue;
            }
            assert_error(r, 400, "INVALID_REQUEST").await;
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn long_strings_in_any_field_are_4xx_or_accepted() {
    let app = app().await;
    for field in FIELDS {
        for s in ["x".repeat(300), "é".repeat(5000), "x".repeat(70_000)] {
            if request(field, &s).1.len() > MAX_URI {
                continue;
            }
            let r = send(&app, field, &s).await;
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert!(
                status < 500,
                "{field:?} ({} bytes): {status} {body}",
                s.len()
            );
        }
    }
}

/// Characters a fuzzed string is made of: NULs and other controls, quotes, slashes, and wide unicode.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('\0'),
        Just('\u{1}'),
        Just('\n'),
        Just('"'),
        Just('\\'),
        Just('/'),
        Just('%'),
        Just('é'),
        Just('\u{FFFF}'),
        Just('😀'),
        any::<char>(),
        proptest::char::range('a', 'z'),
    ]
}

#[test]
fn fuzzed_strings_in_any_field_never_get_a_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(app());
    let strings = proptest::collection::vec(hostile_char(), 0..400).prop_map(String::from_iter);
    let cases = (0..FIELDS.len(), strings);
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&cases, |(i, s)| {
            let (status, body) = rt.block_on(async {
                let r = send(&app, FIELDS[i], &s).await;
                (r.status().as_u16(), r.text().await.unwrap_or_default())
            });
            prop_assert!(status < 500, "{:?} {s:?}: {status} {body}", FIELDS[i]);
            Ok(())
        })
        .unwrap();
}
