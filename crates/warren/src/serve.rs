//! `warren serve`: what happens before the server listens (migrations in the embedded mode, the
//! built-in template images, the agent binary, the first-start bootstrap), then serving until
//! SIGINT/SIGTERM.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use control_plane::bootstrap::{self, Outcome};
use control_plane::startup::Application;
use settings::{RuntimeKind, Settings};
use template_builder::images;

use crate::runtime::runtime_from_settings;

/// Prepares, then serves until stopped; `embedded`: the database is the embedded mode's own, so
/// it is migrated here.
pub async fn run(mut settings: Settings, embedded: bool) -> anyhow::Result<()> {
    let pool = db::pool(&settings.database).context("invalid database settings")?;
    if embedded {
        db::MIGRATOR
            .run(&pool)
            .await
            .context("migrating the embedded database failed")?;
    }
    if settings.templates.ensure_builtin_images {
        ensure_images(&settings).await?;
    }
    // Sandboxes mount the agent from a volume when one is named (docker-compose.yml), not the file.
    if settings.runtime.kind == RuntimeKind::Docker && settings.docker.agent_volume.is_none() {
        let exe = std::env::current_exe().context("cannot find the warren executable")?;
        settings.docker.agent_binary = agent_binary(&settings.docker.agent_binary, &exe)?;
    }
    let bootstrapped = match &settings.bootstrap.organization {
        Some(org) => Some((
            org.clone(),
            bootstrap::run(&pool, org, settings.bootstrap.api_key.as_ref()).await?,
        )),
        None => None,
    };
    let runtime = runtime_from_settings(&settings).await?;
    let app = Application::build(settings, runtime).await?;
    if let Some((org, outcome)) = bootstrapped {
        println!("{}", guide(app.port(), &org, &outcome));
    }
    app.run_until_stopped().await?;
    Ok(())
}

/// `warren images`, and `templates.ensure_builtin_images` at `serve`.
pub async fn ensure_images(settings: &Settings) -> anyhow::Result<()> {
    let engine = runtime_docker::DockerImages::new(&settings.docker.socket).with_context(|| {
        format!(
            "the Docker engine at {} is unusable",
            settings.docker.socket
        )
    })?;
    let built = images::ensure_builtin(&engine).await?;
    if built.is_empty() {
        println!("the built-in template images exist");
    } else {
        println!("built {}", built.join(", "));
    }
    Ok(())
}

/// `configured` if it exists, else a `warren-agent` next to the `warren` executable `exe`.
fn agent_binary(configured: &Path, exe: &Path) -> anyhow::Result<PathBuf> {
    if configured.is_file() {
        return Ok(configured.to_owned());
    }
    let beside = exe.with_file_name("warren-agent");
    if beside.is_file() {
        return Ok(beside);
    }
    bail!(
        "no agent binary: {} does not exist, nor does {}. Build the static agent with \
         scripts/build-agent.sh (it prints where it put it) and copy it to either place, or set \
         docker.agent_binary",
        configured.display(),
        beside.display()
    )
}

/// What to do next, printed once the server listens on `port`.
fn guide(port: u16, org: &str, outcome: &Outcome) -> String {
    let base = format!("http://localhost:{port}");
    let mut out = format!(
        "Warren is serving at {base} (sandboxes at http://<sandbox id>.sandbox.localhost:{port}).\n"
    );
    let key = match outcome {
        Outcome::CreatedWithNewKey(key) => {
            out.push_str(&format!(
                "Created organization {org:?}. Its API key, shown only this once:\n{key}\n"
            ));
            key.as_str()
        }
        Outcome::CreatedWithGivenKey => {
            out.push_str(&format!(
                "Created organization {org:?} with the API key of bootstrap.api_key.\n"
            ));
            "$WARREN_API_KEY"
        }
        Outcome::Existed => {
            out.push_str(&format!(
                "The API key of organization {org:?} was printed when it was created; make another \
                 with `warren key create --org {org}` (same settings).\n"
            ));
            "$WARREN_API_KEY"
        }
    };
    out.push_str(&format!(
        "Create a sandbox:\n  curl -s -X POST {base}/v1/sandboxes -H \"X-API-Key: {key}\" \
         -H 'Content-Type: application/json' -d '{{\"template_name\": \"code-interpreter\"}}'"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_is_the_configured_one_else_the_one_beside_warren() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("warren");
        let configured = dir.path().join("configured-agent");
        let err = agent_binary(&configured, &exe).unwrap_err().to_string();
        assert!(err.contains("scripts/build-agent.sh"), "{err}");
        std::fs::write(dir.path().join("warren-agent"), "").unwrap();
        assert_eq!(
            agent_binary(&configured, &exe).unwrap(),
            dir.path().join("warren-agent")
        );
        std::fs::write(&configured, "").unwrap();
        assert_eq!(agent_binary(&configured, &exe).unwrap(), configured);
    }

    #[test]
    fn the_guide_shows_a_new_key_once_and_later_says_how_to_make_another() {
        let first = guide(8080, "dev", &Outcome::CreatedWithNewKey("wrn_k".into()));
        assert_eq!(
            first.lines().filter(|l| *l == "wrn_k").count(),
            1,
            "{first}"
        );
        assert!(first.contains(
            "curl -s -X POST http://localhost:8080/v1/sandboxes -H \"X-API-Key: wrn_k\""
        ));
        let later = guide(8080, "dev", &Outcome::Existed);
        assert!(later.contains("warren key create --org dev"), "{later}");
        assert!(!later.contains("wrn_"), "{later}");
    }
}
