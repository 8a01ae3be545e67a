//! `GET /v1/templates`, `GET /v1/templates/{name or id}`, `DELETE /v1/templates/{id}`.

use serde_json::json;
use test_support::{TestApp, spawn_app};

use crate::helpers::{assert_error, redacted, status_json};

async fn own_template(app: &TestApp, org_id: i64, name: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO templates (name, display_name, image, vcpu, memory_mb, disk_gb, organization_id)
         VALUES ($1, $1, 'img:latest', 1, 256, 1, $2) RETURNING id",
    )
    .bind(name)
    .bind(org_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn built_in_templates_are_listed_with_their_resources() {
    let app = spawn_app().await;
    let (status, body) = status_json(app.get("/v1/templates").await).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["code-interpreter", "python", "nodejs", "base", "desktop"]
    );
    insta::assert_json_snapshot!("template_list", redacted(&body));
    let (_, filtered) = status_json(
        app.get("/v1/templates?language=javascript&category=development")
            .await,
    )
    .await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn get_by_name_or_id() {
    let app = spawn_app().await;
    let (status, by_name) = status_json(app.get("/v1/templates/code-interpreter").await).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("template", redacted(&by_name));
    let id = by_name["id"].as_str().unwrap();
    let (_, by_id) = status_json(app.get(&format!("/v1/templates/{id}")).await).await;
    assert_eq!(by_id, by_name);
    assert!(by_name["organization_id"].is_null());
    for missing in ["nope", "999", "99999999999999999999999", &"x".repeat(300)] {
        assert_error(
            app.get(&format!("/v1/templates/{missing}")).await,
            404,
            "TEMPLATE_NOT_FOUND",
        )
        .await;
    }
}

#[tokio::test]
async fn built_in_templates_cannot_be_deleted() {
    let app = spawn_app().await;
    let body = assert_error(
        app.delete("/v1/templates/1").await,
        403,
        "TEMPLATE_PROTECTED",
    )
    .await;
    assert!(
        !body["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("limit")
    );
    insta::assert_json_snapshot!("error_template_protected", redacted(&body));
    let (status, _) = status_json(app.get("/v1/templates/1").await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn own_templates_are_private_deletable_and_usable() {
    let app = spawn_app().await;
    let (other_org, other_key) = app.other_org("other").await;
    let mine = own_template(&app, app.org_id, "mine").await;
    let theirs = own_template(&app, other_org, "theirs").await;

    let (_, list) = status_json(app.get("/v1/templates").await).await;
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"mine") && !names.contains(&"theirs"),
        "{names:?}"
    );
    let (_, t) = status_json(app.get("/v1/templates/mine").await).await;
    assert_eq!(t["organization_id"], app.org_id.to_string());

    // Another organization's template is invisible: 404 for get, delete and create.
    assert_error(
        app.get(&format!("/v1/templates/{theirs}")).await,
        404,
        "TEMPLATE_NOT_FOUND",
    )
    .await;
    assert_error(
        app.delete(&format!("/v1/templates/{theirs}")).await,
        404,
        "TEMPLATE_NOT_FOUND",
    )
    .await;
    let r = app
        .post_json("/v1/sandboxes", &json!({"template_id": theirs.to_string()}))
        .await;
    assert_error(r, 404, "TEMPLATE_NOT_FOUND").await;
    let r = app
        .request_as(
            &other_key,
            reqwest::Method::DELETE,
            &format!("/v1/templates/{mine}"),
        )
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "TEMPLATE_NOT_FOUND").await;

    // Refused while a live sandbox uses it; the sandbox is untouched.
    let sandbox = app.create_sandbox("mine").await;
    assert_eq!(sandbox["template_id"], mine.to_string());
    let sandbox_path = format!("/v1/sandboxes/{}", sandbox["id"].as_str().unwrap());
    let r = app.delete(&format!("/v1/templates/{mine}")).await;
    assert_error(r, 409, "TEMPLATE_IN_USE").await;
    let (_, still) = status_json(app.get(&sandbox_path).await).await;
    assert_eq!(still["status"], "running");
    assert_eq!(app.delete(&sandbox_path).await.status(), 200);
    let (status, body) = status_json(app.delete(&format!("/v1/templates/{mine}")).await).await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!("template_deleted", redacted(&body));
    assert_error(
        app.get("/v1/templates/mine").await,
        404,
        "TEMPLATE_NOT_FOUND",
    )
    .await;
}
