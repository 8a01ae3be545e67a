//! The built-in template images (`warren/template-{base,python,nodejs,code-interpreter}:latest`), built
//! through the engine from the Dockerfiles of `docker/templates/`, embedded in the binary: the
//! `images` subcommand, and `templates.ensure_builtin_images` at `serve`.

use anyhow::Context as _;
use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use futures::{Stream, StreamExt as _};

use crate::context::build_context;

/// What `base` is built `FROM`: pulled when a registry has it, else made by `scripts/base-image.sh`.
pub const BASE_IMAGE: &str = "debian:bookworm-slim";

/// The built-in templates, `base` first (the others are built `FROM` it), with their Dockerfiles.
pub const BUILTIN: [(&str, &str); 4] = [
    (
        "base",
        include_str!("../../../docker/templates/base.Dockerfile"),
    ),
    (
        "python",
        include_str!("../../../docker/templates/python.Dockerfile"),
    ),
    (
        "nodejs",
        include_str!("../../../docker/templates/nodejs.Dockerfile"),
    ),
    (
        "code-interpreter",
        include_str!("../../../docker/templates/code-interpreter.Dockerfile"),
    ),
];

/// Lines of a failed build's log quoted in the error.
const TAIL_LINES: usize = 20;

pub fn image_of(name: &str) -> String {
    format!("warren/template-{name}:latest")
}

/// Builds each built-in template image the engine at `socket` lacks; returns the images built.
/// Existing images are left as they are (remove one to have it rebuilt).
pub async fn ensure_builtin(socket: &str, timeout_seconds: u64) -> anyhow::Result<Vec<String>> {
    let docker = Docker::connect_with_unix(socket, timeout_seconds, bollard::API_DEFAULT_VERSION)
        .with_context(|| format!("the Docker engine at {socket} is unreachable"))?
        .negotiate_version()
        .await
        .with_context(|| format!("the Docker engine at {socket} does not answer"))?;
    let mut built = Vec::new();
    for (name, dockerfile) in BUILTIN {
        let image = image_of(name);
        if docker.inspect_image(&image).await.is_ok() {
            continue;
        }
        if name == "base" {
            ensure_base(&docker, BASE_IMAGE).await?;
        }
        tracing::info!(
            image,
            "building a built-in template image (this takes minutes)"
        );
        build(&docker, &image, dockerfile)
            .await
            .with_context(|| format!("building {image} failed"))?;
        tracing::info!(image, "built");
        built.push(image);
    }
    Ok(built)
}

/// The base image (`BASE_IMAGE`) exists, or is pulled; else an error saying how to make it here.
async fn ensure_base(docker: &Docker, image: &str) -> anyhow::Result<()> {
    if docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    tracing::info!(image, "pulling");
    let options = CreateImageOptionsBuilder::new().from_image(image).build();
    let pull = docker.create_image(Some(options), None, None);
    let failure = first_error(pull, |info| info.error_detail.and_then(|d| d.message)).await;
    outcome(docker, image, failure).await.map_err(|reason| {
        anyhow::anyhow!(
            "the base image {image} is missing and cannot be pulled ({reason}); build it locally \
             with scripts/base-image.sh (debootstrap, needs root), then start again"
        )
    })
}

/// `docker build -t image` of a context holding only `dockerfile`; the log's tail on failure.
async fn build(docker: &Docker, image: &str, dockerfile: &str) -> anyhow::Result<()> {
    let context = build_context(dockerfile, &[])?;
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(image)
        .rm(true)
        .forcerm(true)
        .build();
    let stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut log = String::new();
    let failure = first_error(stream, |info| {
        log.extend(info.stream);
        info.error_detail.and_then(|d| d.message)
    })
    .await;
    outcome(docker, image, failure).await.map_err(|reason| {
        anyhow::anyhow!(
            "{reason}\n--- last lines of the build log ---\n{}",
            tail(&log)
        )
    })
}

/// Reads an engine progress stream to its end; the first error it reported (`error_of` an item).
async fn first_error<T>(
    stream: impl Stream<Item = Result<T, bollard::errors::Error>>,
    mut error_of: impl FnMut(T) -> Option<String>,
) -> Option<String> {
    let mut stream = std::pin::pin!(stream);
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => failure = failure.or(error_of(info)),
            Err(e) => return failure.or(Some(e.to_string())),
        }
    }
    failure
}

/// `image` exists after a stream that reported `failure`; else why not.
async fn outcome(docker: &Docker, image: &str, failure: Option<String>) -> Result<(), String> {
    match failure {
        None if docker.inspect_image(image).await.is_ok() => Ok(()),
        failure => Err(failure
            .unwrap_or_else(|| format!("it ended without {image}"))
            .trim()
            .to_owned()),
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_is_first_and_built_from_the_base_image_the_others_from_base() {
        let from = |dockerfile: &str| {
            dockerfile
                .lines()
                .find_map(|l| l.strip_prefix("FROM "))
                .map(str::to_owned)
        };
        assert_eq!(BUILTIN[0].0, "base");
        assert_eq!(from(BUILTIN[0].1).as_deref(), Some(BASE_IMAGE));
        for (name, dockerfile) in &BUILTIN[1..] {
            assert!(
                dockerfile.contains(&format!("ARG BASE={}", image_of("base"))),
                "{name} builds on base"
            );
        }
    }

    /// On the engine (the `docker-engine` test group): a pull from a registry that does not answer.
    #[tokio::test]
    async fn a_base_image_that_cannot_be_pulled_names_the_script_that_makes_it() {
        let docker = Docker::connect_with_unix_defaults().expect("the engine");
        let missing = "127.0.0.1:1/warren-tests/no-such-base:latest";
        let err = ensure_base(&docker, missing).await.unwrap_err().to_string();
        assert!(
            err.contains(missing) && err.contains("scripts/base-image.sh"),
            "{err}"
        );
        ensure_base(&docker, BASE_IMAGE)
            .await
            .expect("an existing base image is used as it is");
    }

    #[test]
    fn the_tail_keeps_the_last_non_empty_lines() {
        let log: String = (0..30).map(|i| format!("line {i}\n\n")).collect();
        let t = tail(&log);
        assert!(t.starts_with("line 10\n") && t.ends_with("line 29"), "{t}");
    }
}
