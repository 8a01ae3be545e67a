//! The built-in template images (`warren/template-{base,python,nodejs,code-interpreter,desktop}:latest`), built
//! through the runtime's [`ImageBuilder`] from the Dockerfiles of `docker/templates/`, embedded in
//! the binary: the `images` subcommand, and `templates.ensure_builtin_images` at `serve`.

use anyhow::Context as _;
use futures::StreamExt as _;
use runtime::{BuildEvent, ImageBuild, ImageBuilder};

use crate::context::build_context;

/// What `base` is built `FROM`: pulled when a registry has it, else made by `scripts/base-image.sh`.
pub const BASE_IMAGE: &str = "debian:bookworm-slim";

/// The built-in templates with their Dockerfiles, each after the one it is built `FROM`: `base`
/// first, `desktop` after `code-interpreter`.
pub const BUILTIN: [(&str, &str); 5] = [
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
    (
        "desktop",
        include_str!("../../../docker/templates/desktop.Dockerfile"),
    ),
];

/// Lines of a failed build's log quoted in the error.
const TAIL_LINES: usize = 20;

pub fn image_of(name: &str) -> String {
    format!("warren/template-{name}:latest")
}

/// Builds each built-in template image `images` lacks; returns the images built. Existing images
/// are left as they are (remove one to have it rebuilt).
pub async fn ensure_builtin(images: &dyn ImageBuilder) -> anyhow::Result<Vec<String>> {
    let mut built = Vec::new();
    for (name, dockerfile) in BUILTIN {
        let image = image_of(name);
        if exists(images, &image).await? {
            continue;
        }
        if name == "base" {
            ensure_base(images, BASE_IMAGE).await?;
        }
        tracing::info!(
            image,
            "building a built-in template image (this takes minutes)"
        );
        build(images, &image, dockerfile)
            .await
            .with_context(|| format!("building {image} failed"))?;
        tracing::info!(image, "built");
        built.push(image);
    }
    Ok(built)
}

async fn exists(images: &dyn ImageBuilder, image: &str) -> anyhow::Result<bool> {
    images
        .exists(image)
        .await
        .with_context(|| format!("the image store does not answer (looking for {image})"))
}

/// The base image (`BASE_IMAGE`) exists, or is pulled; else an error saying how to make it here.
async fn ensure_base(images: &dyn ImageBuilder, image: &str) -> anyhow::Result<()> {
    if exists(images, image).await? {
        return Ok(());
    }
    tracing::info!(image, "pulling");
    let pulled = images.pull(image).await;
    outcome(images, image, pulled.err()).await.map_err(|reason| {
        anyhow::anyhow!(
            "the base image {image} is missing and cannot be pulled ({reason}); build it locally \
             with scripts/base-image.sh (debootstrap, needs root), then start again"
        )
    })
}

/// `docker build -t image` of a context holding only `dockerfile`; the log's tail on failure.
async fn build(images: &dyn ImageBuilder, image: &str, dockerfile: &str) -> anyhow::Result<()> {
    let context = build_context(dockerfile, &[])?;
    let mut events = images.build(ImageBuild {
        tag: image.to_owned(),
        context,
        ..ImageBuild::default()
    });
    let mut log = String::new();
    let mut failure = None;
    while let Some(event) = events.next().await {
        match event {
            BuildEvent::Log(text) => log.push_str(&text),
            BuildEvent::Failed(reason) => failure = Some(reason),
        }
    }
    outcome(images, image, failure).await.map_err(|reason| {
        anyhow::anyhow!(
            "{reason}\n--- last lines of the build log ---\n{}",
            tail(&log)
        )
    })
}

/// `image` exists after a pull or build that reported `failure`; else why not.
async fn outcome(
    images: &dyn ImageBuilder,
    image: &str,
    failure: Option<String>,
) -> Result<(), String> {
    match failure {
        None if images.exists(image).await.unwrap_or(false) => Ok(()),
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
    fn base_is_first_and_built_from_the_base_image_the_others_from_an_earlier_one() {
        let from = |dockerfile: &str| {
            dockerfile
                .lines()
                .find_map(|l| l.strip_prefix("FROM "))
                .map(str::to_owned)
        };
        assert_eq!(BUILTIN[0].0, "base");
        assert_eq!(from(BUILTIN[0].1).as_deref(), Some(BASE_IMAGE));
        for (i, (name, dockerfile)) in BUILTIN.iter().enumerate().skip(1) {
            assert!(
                BUILTIN[..i]
                    .iter()
                    .any(|(earlier, _)| dockerfile
                        .contains(&format!("ARG BASE={}", image_of(earlier)))),
                "{name} builds on a built-in template built before it"
            );
        }
        let desktop = BUILTIN.iter().find(|(n, _)| *n == "desktop").unwrap().1;
        assert!(desktop.contains(&format!("ARG BASE={}", image_of("code-interpreter"))));
    }

    /// On the engine (the `docker-engine` test group): a pull from a registry that does not answer.
    #[tokio::test]
    async fn a_base_image_that_cannot_be_pulled_names_the_script_that_makes_it() {
        let images = runtime_docker::DockerImages::new("unix:///var/run/docker.sock").unwrap();
        let missing = "127.0.0.1:1/warren-tests/no-such-base:latest";
        let err = ensure_base(&images, missing).await.unwrap_err().to_string();
        assert!(
            err.contains(missing) && err.contains("scripts/base-image.sh"),
            "{err}"
        );
        ensure_base(&images, BASE_IMAGE)
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
