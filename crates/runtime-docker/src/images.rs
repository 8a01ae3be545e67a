//! [`DockerImages`]: the [`ImageBuilder`] of the Docker backend (`POST /build`, `/images/create`,
//! inspect and remove), with the engine's progress stream turned into [`BuildEvent`]s.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use runtime::{BuildEvent, ImageBuild, ImageBuilder, RegistryLogin, RuntimeError};

use crate::engine::{map_transport, status_of};

/// How long one build or pull may stream. Callers bound builds more tightly themselves
/// (`templates.build_timeout_seconds`); this only keeps a dead stream from being held forever.
const STREAM_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// How long an inspect or remove may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Images on the engine at one socket.
#[derive(Clone, Debug)]
pub struct DockerImages {
    docker: Docker,
}

impl DockerImages {
    /// A client of the engine at `socket`; nothing is sent until the first call.
    pub fn new(socket: &str) -> Result<Self, RuntimeError> {
        let docker = Docker::connect_with_unix(
            socket,
            STREAM_TIMEOUT.as_secs(),
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(map_transport)?;
        Ok(Self { docker })
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, BollardError>>,
    ) -> Result<T, BollardError> {
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .unwrap_or(Err(BollardError::RequestTimeoutError))
    }
}

/// The registry part of an image reference, as the engine keys credentials.
fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_owned(),
        _ => "https://index.docker.io/v1/".to_owned(),
    }
}

fn credentials(login: &RegistryLogin) -> HashMap<String, DockerCredentials> {
    let registry = registry_of(&login.from_image);
    HashMap::from([(
        registry.clone(),
        DockerCredentials {
            username: Some(login.username.clone()),
            password: Some(login.password.clone()),
            serveraddress: Some(registry),
            ..Default::default()
        },
    )])
}

/// The events of one item of the engine's build stream.
fn events(item: Result<bollard::models::BuildInfo, BollardError>) -> Vec<BuildEvent> {
    match item {
        Ok(info) => {
            let mut out = Vec::new();
            if let Some(text) = info.stream {
                out.push(BuildEvent::Log(text));
            }
            if let Some(status) = info.status
                && info.progress_detail.is_none_or(|p| p.total.is_none())
            {
                out.push(BuildEvent::Log(format!("{status}\n")));
            }
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                out.push(BuildEvent::Failed(err));
            }
            out
        }
        Err(BollardError::DockerStreamError { error }) => vec![BuildEvent::Failed(error)],
        Err(e) => vec![BuildEvent::Failed(format!(
            "the Docker engine failed the build: {e}"
        ))],
    }
}

#[async_trait]
impl ImageBuilder for DockerImages {
    fn build(&self, build: ImageBuild) -> BoxStream<'static, BuildEvent> {
        let build_args: HashMap<String, String> = build.build_args.into_iter().collect();
        let labels: HashMap<String, String> = build.labels.into_iter().collect();
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(&build.tag)
            .nocache(build.no_cache)
            .rm(true)
            .forcerm(true)
            .buildargs(&build_args)
            .labels(&labels)
            .build();
        let creds = build.registry_login.as_ref().map(credentials);
        let docker = self.docker.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        // The engine's stream borrows its client: a task owns both and forwards the events, and
        // stops (dropping the request) when the caller drops the stream.
        tokio::spawn(async move {
            let mut stream = docker.build_image(
                options,
                creds,
                Some(bollard::body_full(build.context.into())),
            );
            while let Some(item) = stream.next().await {
                for event in events(item) {
                    let failed = matches!(event, BuildEvent::Failed(_));
                    if tx.send(event).await.is_err() || failed {
                        return;
                    }
                }
            }
        });
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })
            .boxed()
    }

    async fn exists(&self, image: &str) -> Result<bool, RuntimeError> {
        match self.bounded(self.docker.inspect_image(image)).await {
            Ok(_) => Ok(true),
            Err(e) if status_of(&e) == Some(404) => Ok(false),
            Err(e) => Err(map_transport(e)),
        }
    }

    async fn pull(&self, image: &str) -> Result<(), String> {
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let mut pull = self.docker.create_image(Some(options), None, None);
        while let Some(item) = pull.next().await {
            match item {
                Ok(info) => {
                    if let Some(message) = info.error_detail.and_then(|d| d.message) {
                        return Err(message);
                    }
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }

    async fn remove(&self, image: &str) -> Result<(), RuntimeError> {
        let options = RemoveImageOptionsBuilder::new().noprune(false).build();
        match self
            .bounded(self.docker.remove_image(image, Some(options), None))
            .await
        {
            Ok(_) => Ok(()),
            // Gone already, or still used by a container: it stays, as documented.
            Err(e) if matches!(status_of(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(map_transport(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_keyed_by_registry() {
        assert_eq!(registry_of("127.0.0.1:5000/img:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/x"), "localhost");
        assert_eq!(registry_of("library/debian"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("debian"), "https://index.docker.io/v1/");
        let login = RegistryLogin {
            from_image: "127.0.0.1:5000/img:1".into(),
            username: "u".into(),
            password: "p".into(),
        };
        let creds = credentials(&login);
        let c = &creds["127.0.0.1:5000"];
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.serveraddress.as_deref(), Some("127.0.0.1:5000"));
        assert!(
            !format!("{login:?}").contains("\"p\""),
            "the password is never shown"
        );
    }

    #[test]
    fn engine_items_become_events_and_errors_failures() {
        let item = bollard::models::BuildInfo {
            stream: Some("Step 1/2 : FROM x\n".into()),
            ..Default::default()
        };
        assert_eq!(
            events(Ok(item)),
            vec![BuildEvent::Log("Step 1/2 : FROM x\n".into())]
        );
        let failed = events(Err(BollardError::DockerStreamError {
            error: "no such image".into(),
        }));
        assert_eq!(failed, vec![BuildEvent::Failed("no such image".into())]);
    }
}
