//! The OpenAPI document of `GET /openapi.json`, offline (no Postgres, no Docker): it is a
//! well-formed OpenAPI 3.1 document, and it has every operation of the Hopx public API
//! (`shared/api/openapi_public.json`, copied to `tests/fixtures/`). That it is served, and that each operation it lists is
//! routed, is checked through the real router in `crates/warren/tests/api/openapi.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use control_plane::http::openapi::ApiDoc;
use serde_json::Value;
use utoipa::OpenApi as _;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the document serializes")
}

/// `(METHOD, operation)` of every operation in `doc`.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc["paths"].as_object().expect("paths is an object");
    let mut ops = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("a path item is an object") {
            if METHODS.contains(&method.as_str()) {
                ops.push((method.to_uppercase(), path.clone(), op));
            }
        }
    }
    ops
}

/// The names in `{...}` of a path template, in order.
fn template_params(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// The path without its parameter names, so that `/v1/sandboxes/{id}` and
/// `/v1/sandboxes/{sandbox_id}` are the same route.
fn normalised(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        out.push_str("{}");
        rest = after.split_once('}').map_or("", |(_, tail)| tail);
    }
    out.push_str(rest);
    out
}

/// Every `$ref` in `v`, with where it is.
fn refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(m) => {
            for (k, item) in m {
                match (k.as_str(), item) {
                    ("$ref", Value::String(r)) => out.push((at.clone(), r)),
                    _ => refs(item, format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refs(item, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Where (a JSON pointer) `a` and `b` first differ, if they do.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => first_difference(u, v, format!("{at}/{k}")),
                    (u, v) => Some(format!("{at}/{k} ({u:?} against {v:?})")),
                })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, format!("{at}/{i}"))),
        _ => (a != b).then(|| format!("{at} ({a} against {b})")),
    }
}

#[test]
fn the_document_is_well_formed_openapi_3_1() {
    let doc = document();
    let mut problems = Vec::new();

    // It reads back as an OpenAPI document, unchanged.
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_value(doc.clone()).expect("the document parses as OpenAPI");
    let again = serde_json::to_value(&parsed).expect("the parsed document serializes");
    if let Some(at) = first_difference(&doc, &again, String::new()) {
        panic!("the document reads back differently at {at}");
    }

    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "openapi: {}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Warren control plane API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    // Every reference resolves to a component that exists.
    let mut all = Vec::new();
    refs(&doc, String::new(), &mut all);
    assert!(
        !all.is_empty(),
        "no $ref at all: the schemas are not shared"
    );
    for (at, r) in all {
        let target = r
            .strip_prefix("#/")
            .map(|p| p.split('/').fold(&doc, |v, key| &v[key]));
        if !r.starts_with("#/components/") || target.is_none_or(Value::is_null) {
            problems.push(format!("{at}: $ref {r} resolves to nothing"));
        }
    }

    let schemes = doc["components"]["securitySchemes"].as_object();
    let scheme_names: BTreeSet<&str> = schemes
        .iter()
        .flat_map(|m| m.keys())
        .map(|k| &**k)
        .collect();
    assert!(
        scheme_names.contains("api_key") && scheme_names.contains("bearer"),
        "security schemes: {scheme_names:?}"
    );
    let apikey = &doc["components"]["securitySchemes"]["api_key"];
    assert_eq!(
        (&apikey["type"], &apikey["in"], &apikey["name"]),
        (&"apiKey".into(), &"header".into(), &"X-API-Key".into())
    );
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (&bearer["type"], &bearer["scheme"]),
        (&"http".into(), &"bearer".into())
    );
    let mut requirements: Vec<(String, &Value)> = vec![("/security".into(), &doc["security"])];

    let mut operation_ids = BTreeMap::new();
    for (method, path, op) in operations(&doc) {
        let here = format!("{method} {path}");
        if !path.starts_with('/') {
            problems.push(format!("{here}: the path does not start with /"));
        }
        match op["operationId"].as_str() {
            Some(id) => {
                if let Some(other) = operation_ids.insert(id.to_owned(), here.clone()) {
                    problems.push(format!("{here}: operationId {id} is also {other}'s"));
                }
            }
            None => problems.push(format!("{here}: no operationId")),
        }

        // Each `{x}` of the path is a required path parameter of the operation (or of its path
        // item), and each path parameter is in the path.
        let declared: Vec<&Value> = [&doc["paths"][&path]["parameters"], &op["parameters"]]
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .filter(|p| p["in"] == "path")
            .collect();
        let in_path = template_params(&path);
        for name in &in_path {
            match declared.iter().find(|p| p["name"] == *name) {
                None => problems.push(format!("{here}: path parameter {{{name}}} is not declared")),
                Some(p) if p["required"] != true => {
                    problems.push(format!("{here}: path parameter {name} is not required"))
                }
                Some(_) => {}
            }
        }
        for p in &declared {
            if !p["name"].as_str().is_some_and(|n| in_path.contains(&n)) {
                problems.push(format!(
                    "{here}: path parameter {} is not in the path",
                    p["name"]
                ));
            }
        }

        // Responses: at least one success, status codes well formed, each with a description.
        let responses = op["responses"]
            .as_object()
            .map(|m| m.iter().collect::<Vec<_>>());
        let responses = responses.unwrap_or_default();
        if !responses.iter().any(|(s, _)| s.starts_with('2')) {
            problems.push(format!("{here}: no 2xx response"));
        }
        for (status, response) in responses {
            let valid =
                status.len() == 3 && status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s));
            if !valid && status != "default" {
                problems.push(format!("{here}: response status {status:?}"));
            }
            if !response["description"].is_string() && response["$ref"].is_null() {
                problems.push(format!("{here}: the {status} response has no description"));
            }
        }
        requirements.push((format!("{here} security"), &op["security"]));
    }

    // Security requirements name schemes that exist.
    for (at, list) in requirements {
        for requirement in list.as_array().into_iter().flatten() {
            for name in requirement.as_object().into_iter().flat_map(|m| m.keys()) {
                if !scheme_names.contains(name.as_str()) {
                    problems.push(format!("{at}: unknown security scheme {name}"));
                }
            }
        }
    }

    assert!(
        problems.is_empty(),
        "the document:\n{}",
        problems.join("\n")
    );
}

/// The Hopx public API: `tests/fixtures/openapi_public.json`, a copy of the published
/// `shared/api/openapi_public.json` kept in the repository so the test needs nothing beside it (copy
/// the file again when the published one changes).
fn public_api() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openapi_public.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading the Hopx public API at {}: {e}", path.display()));
    serde_json::from_str(&text).expect("openapi_public.json is JSON")
}

#[test]
fn every_operation_of_the_hopx_public_api_is_in_the_document() {
    let ours: BTreeSet<(String, String)> = operations(&document())
        .into_iter()
        .map(|(method, path, _)| (method, normalised(&path)))
        .collect();
    let public = public_api();
    let theirs = operations(&public);
    assert!(
        theirs.len() >= 10,
        "the public API has only {} operations",
        theirs.len()
    );
    let missing: Vec<String> = theirs
        .iter()
        .filter(|(method, path, _)| !ours.contains(&(method.clone(), normalised(path))))
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of the public API's {} operations are not in Warren's document:\n{}",
        missing.len(),
        theirs.len(),
        missing.join("\n")
    );
}

#[test]
fn parameter_names_are_normalised() {
    assert_eq!(
        normalised("/v1/sandboxes/{sandbox_id}"),
        normalised("/v1/sandboxes/{id}")
    );
    assert_eq!(
        normalised("/v1/templates/build/{buildID}/logs"),
        "/v1/templates/build/{}/logs"
    );
    assert_eq!(normalised("/health"), "/health");
    assert_eq!(template_params("/a/{x}/b/{y}"), ["x", "y"]);
}
