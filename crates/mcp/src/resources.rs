//! A sandbox's files as resources: `warren://sandboxes/{sandbox_id}/files/{path}` (the path without
//! its leading slash). The list holds the top of `/workspace` of each running sandbox (a few
//! sandboxes, a bounded number of files); any file can be read by its URI.

use std::time::Duration;

use reqwest::Method;
use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceTemplate,
};
use rmcp::service::RequestContext;
use serde_json::Value;

use crate::api::encode;
use crate::server::WarrenMcp;
use crate::tools::files::{contents, mime_of};

const PREFIX: &str = "warren://sandboxes/";
const LISTED_SANDBOXES: usize = 10;
const LISTED_FILES: usize = 100;

pub fn file_uri(sandbox_id: &str, path: &str) -> String {
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/workspace/{path}")
    };
    format!("{PREFIX}{sandbox_id}/files{path}")
}

/// `(sandbox id, absolute path)` of a file URI.
fn parse(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix(PREFIX)?;
    let (id, path) = rest.split_once("/files/")?;
    (!id.is_empty() && !path.is_empty()).then(|| (id, &rest[id.len() + "/files".len()..]))
}

pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(
            format!("{PREFIX}{{sandbox_id}}/files/{{+path}}"),
            "sandbox-file",
        )
        .with_description(
            "A file of a sandbox, by absolute path (e.g. .../files/workspace/data.csv)",
        ),
    ])
}

pub async fn list(
    server: &WarrenMcp,
    ctx: &RequestContext<RoleServer>,
) -> Result<ListResourcesResult, ErrorData> {
    let Ok(caller) = server.caller(ctx) else {
        return Ok(ListResourcesResult::default());
    };
    let path = format!("/v1/sandboxes?status=running&limit={LISTED_SANDBOXES}");
    let sandboxes = caller
        .control(Method::GET, &path, None)
        .await
        .unwrap_or(Value::Null);
    let mut resources = Vec::new();
    for s in sandboxes["data"].as_array().into_iter().flatten() {
        let Some(id) = s["id"].as_str() else { continue };
        let listing = caller
            .agent_json(
                id,
                Method::GET,
                "/files/list?path=%2Fworkspace",
                None,
                Duration::from_secs(10),
            )
            .await;
        let Ok(listing) = listing else { continue };
        for f in listing["files"]
            .as_array()
            .into_iter()
            .flatten()
            .take(LISTED_FILES)
        {
            if f["is_dir"].as_bool() == Some(true) {
                continue;
            }
            let Some(path) = f["path"].as_str() else {
                continue;
            };
            let mut r = Resource::new(file_uri(id, path), format!("{id}:{path}"))
                .with_mime_type(mime_of(path));
            if let Some(size) = f["size"].as_u64() {
                r = r.with_size(size);
            }
            resources.push(r);
        }
    }
    Ok(ListResourcesResult::with_all_items(resources))
}

pub async fn read(
    server: &WarrenMcp,
    uri: &str,
    ctx: &RequestContext<RoleServer>,
) -> Result<ReadResourceResponse, ErrorData> {
    let Some((id, path)) = parse(uri) else {
        return Err(ErrorData::resource_not_found(
            format!("not a Warren file URI: {uri}"),
            None,
        ));
    };
    let caller = server
        .caller(ctx)
        .map_err(|e| ErrorData::invalid_request(e.0, None))?;
    let download = format!("/files/download?path={}", encode(path));
    let bytes = caller
        .agent_bytes(id, &download, Duration::from_secs(120))
        .await
        .map_err(|e| ErrorData::resource_not_found(e.0, None))?;
    Ok(ReadResourceResult::new(vec![contents(uri.to_owned(), path, bytes)]).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip() {
        let uri = file_uri("abc", "/workspace/a b.txt");
        assert_eq!(uri, "warren://sandboxes/abc/files/workspace/a b.txt");
        assert_eq!(parse(&uri), Some(("abc", "/workspace/a b.txt")));
        assert_eq!(
            file_uri("abc", "x.py"),
            "warren://sandboxes/abc/files/workspace/x.py"
        );
        assert_eq!(parse("warren://sandboxes//files/x"), None);
        assert_eq!(parse("file:///etc/passwd"), None);
    }
}
