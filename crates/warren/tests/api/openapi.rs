//! `GET /openapi.json` through the real router: served without a key, and every operation it lists
//! is a route the router has (the offline checks of the document are in
//! `crates/control-plane/tests/openapi.rs`).

use reqwest::Method;
use serde_json::Value;
use test_support::spawn_app;

use crate::helpers::status_json;

#[tokio::test]
async fn the_document_is_served_without_a_key() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    let (status, doc) = status_json(r).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Warren control plane API");
    assert!(doc["paths"]["/v1/sandboxes"]["post"].is_object(), "{doc}");
}

/// Each documented operation, sent with made-up ids and an empty JSON body, reaches a handler:
/// whatever it answers (404 for the unknown sandbox, 400 for the missing fields, ...), it is not
/// the router's `ROUTE_NOT_FOUND` or `METHOD_NOT_ALLOWED`. Nothing is created.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut unrouted = Vec::new();
    let mut count = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "zzzzzzzzzzzz"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let m = match method.as_str() {
                "get" => Method::GET,
                "put" => Method::PUT,
                "post" => Method::POST,
                "delete" => Method::DELETE,
                "patch" => Method::PATCH,
                _ => continue,
            };
            count += 1;
            let r = app.request(m, &concrete).body("{}").send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or_default();
            if status == 405 || body["code"] == "ROUTE_NOT_FOUND" {
                unrouted.push(format!("{method} {path}: {status} {body}"));
            }
        }
    }
    assert!(count >= 20, "only {count} operations documented");
    assert!(
        unrouted.is_empty(),
        "documented, not routed:\n{}",
        unrouted.join("\n")
    );
}
