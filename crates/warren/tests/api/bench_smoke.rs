//! The smoke run of `warren-bench` (crates/bench, issue 8), so the bench never rots: every scenario
//! with a few iterations against one real `warren serve` with the Docker runtime. Asserts that each
//! scenario produced its figures (not the targets: speed belongs in the real run) and that nothing
//! the bench created is left: no sandbox, no container of its own.
//!
//! In the `docker-engine` test group (`.config/nextest.toml`).

use bollard::query_parameters::ListContainersOptionsBuilder;
use clap::Parser as _;
use runtime_docker::DockerRuntime;
use serde_json::Value;
use test_support::docker::docker_settings;

use crate::docker::{clean_up, db_with_key, serve_docker};

/// An instance of its own: other test runs on this engine reconcile `warren-tests` containers.
const INSTANCE: &str = "warren-bench-smoke";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_produces_its_figures_and_leaves_nothing() {
    let (db, pool, key) = db_with_key().await;
    let mut settings = docker_settings();
    settings.instance = INSTANCE.into();
    let engine = DockerRuntime::connect(&settings).await.unwrap();
    let server = serve_docker(
        &db,
        &[
            ("WARREN_DOCKER__INSTANCE", INSTANCE),
            ("WARREN_POOL__TEMPLATES", "{python=1}"),
            ("WARREN_LIMITS__RATE_LIMIT", "100000000"),
        ],
    )
    .await;
    let json = tempfile::NamedTempFile::new().unwrap();
    let json_path = json.path().display().to_string();
    let options = bench::Options::try_parse_from([
        "warren-bench",
        "--smoke",
        "--url",
        &server.base,
        "--api-key",
        &key,
        "--json",
        &json_path,
    ])
    .unwrap();
    let outcome = bench::run(options).await;

    let client = reqwest::Client::new();
    let listed: Value = client
        .get(format!("{}/v1/sandboxes", server.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    drop(server);
    clean_up(&pool, &engine).await;
    outcome.expect("the smoke run");

    assert_eq!(listed["data"], Value::Array(vec![]), "left: {listed}");
    let docker = bollard::Docker::connect_with_local_defaults().unwrap();
    let own = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&[("label", vec!["warren.bench"])].into())
        .build();
    let left = docker.list_containers(Some(own)).await.unwrap();
    assert!(left.is_empty(), "bench containers left: {left:?}");

    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(json.path()).unwrap()).unwrap();
    let tables = results["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 8, "{results}");
    for table in tables {
        let rows = table["rows"].as_array().expect("rows");
        assert!(!rows.is_empty(), "{table}");
        for row in rows {
            // A measured figure is never all zeros (an empty series prints "0.00 ms").
            let value = row["warren"].as_str().unwrap_or_default();
            assert!(
                value.contains(|c: char| ('1'..='9').contains(&c)) && !value.contains("NaN"),
                "no figure in {row} of {}",
                table["title"]
            );
        }
        let notes = table["notes"].to_string();
        assert!(!notes.contains("failed"), "{notes}");
    }
}
