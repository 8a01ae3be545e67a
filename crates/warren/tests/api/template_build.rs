//! Custom templates on the real Docker engine (`docs/templates.md`): the official Python SDK's
//! builder end to end, and the rules: failed builds say why, bad input is refused before anything is
//! registered, templates belong to their organization, `update` rebuilds under the same id, and a
//! template in use cannot be deleted.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use std::sync::Arc;

use control_plane::startup::Application;
use reqwest::{Client, Method, RequestBuilder, Response};
use runtime_docker::DockerRuntime;
use secrecy::SecretString;
use serde_json::{Value, json};
use settings::{RuntimeKind, Settings};
use sqlx::PgPool;
use test_support::docker::docker_settings;
use test_support::python::run_pytest;
use test_support::{TestDatabase, test_database};

use crate::helpers::{assert_error, status_json};

/// Local, so builds never reach a registry.
const BASE_IMAGE: &str = "warren/template-python:latest";
const MAX_UPLOAD: u64 = 64 * 1024;

struct DockerApp {
    address: String,
    client: Client,
    key: String,
    other_key: String,
    _db: TestDatabase,
    _uploads: tempfile::TempDir,
}

impl DockerApp {
    fn request(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(key)
    }

    async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(&self.key, Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, key: &str, path: &str) -> Response {
        self.request(key, Method::GET, path).send().await.unwrap()
    }

    async fn delete(&self, path: &str) -> Response {
        self.request(&self.key, Method::DELETE, path)
            .send()
            .await
            .unwrap()
    }

    /// Starts a build; its id.
    async fn build(&self, body: Value) -> String {
        let (status, accepted) = status_json(self.post("/v1/templates/build", &body).await).await;
        assert_eq!(status, 201, "{accepted}");
        assert_eq!(accepted["build_id"], accepted["template_id"]);
        accepted["build_id"].as_str().unwrap().to_owned()
    }

    /// Follows the log from offset 0 until the build completes (each poll waits for the server's
    /// next answer, no sleeps of its own beyond a short pause); the final status and the whole log.
    async fn finish(&self, id: &str) -> (Value, String) {
        let mut offset = 0;
        let mut log = String::new();
        loop {
            let path = format!("/v1/templates/build/{id}/logs?offset={offset}");
            let (status, page) = status_json(self.get(&self.key, &path).await).await;
            assert_eq!(status, 200, "{page}");
            log.push_str(page["logs"].as_str().unwrap());
            offset = page["offset"].as_i64().unwrap();
            if page["complete"] == true {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let path = format!("/v1/templates/build/{id}/status");
        let (code, status) = status_json(self.get(&self.key, &path).await).await;
        assert_eq!(code, 200);
        let keys: Vec<&str> = status
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "build_duration_ms",
                "build_id",
                "completed_at",
                "current_step",
                "error_message",
                "progress",
                "request_id",
                "started_at",
                "status",
                "template_id"
            ]
        );
        (status, log)
    }
}

/// `warren` with the Docker runtime in this process, two organizations, small upload limits.
async fn spawn_docker_app() -> DockerApp {
    let db = test_database().await;
    let uploads = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.database.url = SecretString::from(db.url.clone());
    settings.database.max_connections = 5;
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.runtime.kind = RuntimeKind::Docker;
    settings.docker = docker_settings();
    settings.capacity.vcpu = Some(64);
    settings.capacity.memory_mb = Some(65536);
    settings.templates.upload_dir = uploads.path().to_owned();
    settings.templates.max_upload_bytes = MAX_UPLOAD;
    let runtime = DockerRuntime::connect(&settings.docker)
        .await
        .expect("connect to the Docker engine");
    let app = Application::build(settings, Some(Arc::new(runtime)))
        .await
        .expect("build the app")
        .without_background_tasks();
    let port = app.port();
    let pool: PgPool = app.state().pool.clone();
    tokio::spawn(app.run_until_stopped());
    let mut keys = Vec::new();
    for org in ["builders", "others"] {
        control_plane::admin::create_org(&pool, org, None, None)
            .await
            .unwrap();
        let (_, key) = control_plane::admin::create_key(&pool, org, None)
            .await
            .unwrap();
        keys.push(key);
    }
    let other_key = keys.pop().unwrap();
    DockerApp {
        address: format!("http://127.0.0.1:{port}"),
        client: Client::builder().no_proxy().build().unwrap(),
        key: keys.pop().unwrap(),
        other_key,
        _db: db,
        _uploads: uploads,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_builds_a_template() {
    let app = spawn_docker_app().await;
    let stdout = run_pytest(
        "tests/template_sdk",
        &[("WARREN_URL", &app.address), ("HOPX_API_KEY", &app.key)],
    )
    .await;
    assert!(stdout.contains("1 passed"), "{stdout}");
    // The template's image goes with it.
    let (_, list) = status_json(app.get(&app.key, "/v1/templates").await).await;
    for t in list["data"].as_array().unwrap() {
        if t["organization_id"].is_string() {
            let r = app
                .delete(&format!("/v1/templates/{}", t["id"].as_str().unwrap()))
                .await;
            assert_eq!(r.status(), 200);
        }
    }
}

/// A gzip tar of `(name, content)` files.
fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, *content).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_fail_with_reasons_and_templates_follow_the_rules() {
    let app = spawn_docker_app().await;

    // Uploads: too large announced, too large sent, then a good one (then `present`).
    let link = |hash: &str, len: usize| json!({"files_hash": hash, "content_length": len});
    let huge = app
        .post("/v1/templates/files/upload-link", &link("big", 1 << 20))
        .await;
    assert_error(huge, 413, "PAYLOAD_TOO_LARGE").await;
    let tar = archive(&[("data.txt", b"from an upload")]);
    let (_, offer) = status_json(
        app.post("/v1/templates/files/upload-link", &link("h1", tar.len()))
            .await,
    )
    .await;
    assert_eq!(offer["present"], false);
    let url = offer["upload_url"].as_str().unwrap().to_owned();
    let mut longer = tar.clone();
    longer.extend_from_slice(&[0; 16]);
    let r = app.client.put(&url).body(longer).send().await.unwrap();
    assert_error(r, 413, "PAYLOAD_TOO_LARGE").await;
    let r = app.client.put(&url).body(tar.clone()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, again) = status_json(
        app.post("/v1/templates/files/upload-link", &link("h1", tar.len()))
            .await,
    )
    .await;
    assert_eq!(
        again.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "expires_at",
            "files_hash",
            "present",
            "request_id",
            "upload_url"
        ]
    );
    assert_eq!(
        (&again["present"], &again["upload_url"]),
        (&json!(true), &Value::Null)
    );
    let r = app.client.put(&url).body(tar.clone()).send().await.unwrap();
    assert_error(r, 404, "UPLOAD_NOT_FOUND").await;

    // Refused before anything is registered: a COPY whose upload never came, a taken name.
    let copy_missing = json!({"name": "never", "from_image": BASE_IMAGE, "steps": [
        {"type": "COPY", "args": ["x", "/x"], "filesHash": "not-uploaded"}]});
    let r = app.post("/v1/templates/build", &copy_missing).await;
    assert_error(r, 400, "INVALID_REQUEST").await;
    let unknown_isolation = json!({"name": "never", "from_image": BASE_IMAGE, "isolation": "vm",
        "steps": [{"type": "RUN", "args": ["true"]}]});
    let r = app.post("/v1/templates/build", &unknown_isolation).await;
    let err = assert_error(r, 400, "INVALID_REQUEST").await;
    assert!(err.to_string().contains("unknown isolation"), "{err}");
    assert_error(
        app.get(&app.key, "/v1/templates/never").await,
        404,
        "TEMPLATE_NOT_FOUND",
    )
    .await;
    let builtin = json!({"name": "python", "from_image": BASE_IMAGE, "steps": [{"type": "RUN", "args": ["true"]}]});
    assert_error(
        app.post("/v1/templates/build", &builtin).await,
        409,
        "TEMPLATE_EXISTS",
    )
    .await;

    // A failing RUN and a base image that does not exist: `failed`, with the reason and log tail.
    let id = app
        .build(
            json!({"name": "bad-run", "from_image": BASE_IMAGE, "steps": [
            {"type": "RUN", "args": ["echo about-to-fail; exit 3"]}]}),
        )
        .await;
    let (status, log) = app.finish(&id).await;
    assert_eq!(status["status"], "failed");
    let error = status["error_message"].as_str().unwrap();
    assert!(
        error.contains("returned a non-zero code: 3") && error.contains("about-to-fail"),
        "{error}"
    );
    assert!(log.contains("about-to-fail"), "{log}");
    let (_, t) = status_json(app.get(&app.key, &format!("/v1/templates/{id}")).await).await;
    assert_eq!(
        (&t["status"], &t["is_active"]),
        (&json!("failed"), &json!(false))
    );
    let r = app.post("/v1/sandboxes", &json!({"template_id": id})).await;
    assert_error(r, 409, "TEMPLATE_NOT_READY").await;

    let id = app
        .build(
            json!({"name": "no-base", "from_image": "127.0.0.1:9/warren/none:1",
                      "steps": [{"type": "RUN", "args": ["true"]}]}),
        )
        .await;
    let (status, _) = app.finish(&id).await;
    assert_eq!(status["status"], "failed");
    assert!(
        status["error_message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:9"),
        "{status}"
    );

    // A good build (COPY of the upload, ENV, a ready file), in the JS SDK's step shapes.
    let good = json!({"name": "good", "fromImage": BASE_IMAGE, "steps": [
        {"type": "COPY", "args": ["data.txt", "/opt/data.txt"], "filesHash": "h1"},
        {"type": "env", "key": "MODE", "value": "v1"},
        {"type": "workdir", "path": "/opt"}],
        "startCmd": "echo $MODE > /tmp/ready; exec sleep infinity",
        "readyCmd": {"type": "file", "path": "/tmp/ready"}, "cpu": 1, "memory": 256, "diskGB": 1});
    let id = app.build(good.clone()).await;
    let (status, _) = app.finish(&id).await;
    assert_eq!(
        (&status["status"], &status["progress"]),
        (&json!("active"), &json!(100)),
        "{status}"
    );

    // Another organization neither sees nor uses it.
    let other = &app.other_key;
    for path in [
        format!("/v1/templates/{id}"),
        format!("/v1/templates/build/{id}/status"),
    ] {
        assert_error(app.get(other, &path).await, 404, "TEMPLATE_NOT_FOUND").await;
    }
    let r = app
        .request(other, Method::POST, "/v1/sandboxes")
        .json(&json!({"template_id": id}))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "TEMPLATE_NOT_FOUND").await;

    // Without `update` the name is taken; with it, the same id is rebuilt.
    assert_error(
        app.post("/v1/templates/build", &good).await,
        409,
        "TEMPLATE_EXISTS",
    )
    .await;
    let mut update = good.clone();
    update["update"] = json!(true);
    update["steps"][1]["value"] = json!("v2");
    assert_eq!(app.build(update).await, id);
    let (status, _) = app.finish(&id).await;
    assert_eq!(status["status"], "active");

    // A sandbox of it runs the start command with the template's ENV; the template cannot be deleted
    // while the sandbox lives.
    let (code, sandbox) =
        status_json(app.post("/v1/sandboxes", &json!({"template_id": id})).await).await;
    assert_eq!(code, 201, "{sandbox}");
    let sandbox_id = sandbox["id"].as_str().unwrap().to_owned();
    let r = app.delete(&format!("/v1/templates/{id}")).await;
    assert_error(r, 409, "TEMPLATE_IN_USE").await;
    assert_eq!(
        app.delete(&format!("/v1/sandboxes/{sandbox_id}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.delete(&format!("/v1/templates/{id}")).await.status(),
        200
    );
    assert_error(
        app.get(&app.key, &format!("/v1/templates/{id}")).await,
        404,
        "TEMPLATE_NOT_FOUND",
    )
    .await;
}

/// Debian's `docker-registry` on a free loopback port with basic auth (htpasswd, bcrypt); the engine
/// talks plain HTTP to registries on 127.0.0.0/8, so no TLS is needed.
struct Registry {
    address: String,
    _process: tokio::process::Child,
    _dir: tempfile::TempDir,
}

async fn start_registry(user: &str, password: &str) -> Registry {
    let binary = "/usr/bin/docker-registry";
    assert!(
        std::path::Path::new(binary).exists(),
        "install Debian's docker-registry package (.ci/run does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let hash = std::process::Command::new("python3")
        .args(["-c", "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", password])
        .output()
        .unwrap();
    let hash = String::from_utf8(hash.stdout).unwrap();
    std::fs::write(
        dir.path().join("htpasswd"),
        format!("{user}:{}", hash.trim()),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let config = format!(
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\nhttp:\n  addr: {address}\n\
         auth:\n  htpasswd:\n    realm: warren-test\n    path: {root}/htpasswd\n",
        root = dir.path().display()
    );
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let process = tokio::process::Command::new(binary)
        .arg("serve")
        .arg(dir.path().join("config.yml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Listening once `/v2/` asks for credentials.
    let client = Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{address}/v2/");
    while !client
        .get(&url)
        .send()
        .await
        .is_ok_and(|r| r.status() == 401)
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Registry {
        address,
        _process: process,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_credentials_pull_a_private_base_image() {
    use bollard::auth::DockerCredentials;
    use bollard::query_parameters::{BuildImageOptionsBuilder, PushImageOptionsBuilder};
    use futures::StreamExt as _;

    let registry = start_registry("warren", "s3cret").await;
    let app = spawn_docker_app().await;
    // A tiny private base image: built here, pushed with the credentials, removed locally so the
    // template build has to pull it.
    let docker = bollard::Docker::connect_with_unix_defaults().unwrap();
    let base = format!("{}/warren-tests/base", registry.address);
    let context = archive(&[
        ("Dockerfile", b"FROM scratch\nCOPY hello /hello\n"),
        ("hello", b"hi"),
    ]);
    let options = BuildImageOptionsBuilder::new()
        .t(&format!("{base}:1"))
        .rm(true)
        .build();
    let built: Vec<_> = docker
        .build_image(options, None, Some(bollard::body_full(context.into())))
        .collect()
        .await;
    assert!(built.iter().all(Result::is_ok), "{built:?}");
    let creds = DockerCredentials {
        username: Some("warren".into()),
        password: Some("s3cret".into()),
        serveraddress: Some(registry.address.clone()),
        ..Default::default()
    };
    let pushed: Vec<_> = docker
        .push_image(
            &base,
            Some(PushImageOptionsBuilder::new().tag("1").build()),
            Some(creds),
        )
        .collect()
        .await;
    assert!(pushed.iter().all(Result::is_ok), "{pushed:?}");
    // The pushed image is only in the registry: the builds must pull it (and not find it locally).
    let remove_local = async || {
        docker
            .remove_image(
                &format!("{base}:1"),
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
            .unwrap();
    };
    remove_local().await;

    let body = |name: &str| {
        json!({"name": name, "from_image": format!("{base}:1"),
        "steps": [{"type": "ENV", "args": ["A", "1"]}]})
    };
    let id = app.build(body("no-credentials")).await;
    let (status, _) = app.finish(&id).await;
    assert_eq!(status["status"], "failed");
    assert!(
        status["error_message"]
            .as_str()
            .unwrap()
            .contains("no basic auth credentials"),
        "{status}"
    );

    let mut with = body("with-credentials");
    with["registry_credentials"] =
        json!({"type": "basic", "username": "warren", "password": "s3cret"});
    let id = app.build(with).await;
    let (status, log) = app.finish(&id).await;
    assert_eq!(status["status"], "active", "{status} {log}");
    assert_eq!(
        app.delete(&format!("/v1/templates/{id}")).await.status(),
        200
    );
    remove_local().await;
}
