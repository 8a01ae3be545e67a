//! The images sandboxes run from: [`ImageBuilder`] builds, pulls, inspects and removes them on the
//! backend, so template builds (the `template-builder` crate) need no engine client of their own.

use futures::stream::BoxStream;

use crate::RuntimeError;

/// One image build: a context archive with its `Dockerfile` at the root, built as `tag`.
#[derive(Debug, Clone, Default)]
pub struct ImageBuild {
    pub tag: String,
    /// A tar archive of the build context, `Dockerfile` at its root.
    pub context: Vec<u8>,
    /// Rebuild every step instead of reusing the backend's cache.
    pub no_cache: bool,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// A login for the registry of the image the build starts `FROM`.
    pub registry_login: Option<RegistryLogin>,
}

/// A registry login; the registry is the one `from_image` names (Docker Hub when it names none).
#[derive(Clone, Default)]
pub struct RegistryLogin {
    pub from_image: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("from_image", &self.from_image)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What a running build reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// Log text: whole lines, or the pieces the backend sends.
    Log(String),
    /// The backend failed the build, for this reason; the stream ends after it.
    Failed(String),
}

/// Builds and manages images on a backend.
#[async_trait::async_trait]
pub trait ImageBuilder: Send + Sync + 'static {
    /// Starts `build`; the stream ends when the build does. Whether it produced the image is
    /// [`ImageBuilder::exists`] of its tag afterwards (a build can end without a reported failure
    /// and without an image).
    fn build(&self, build: ImageBuild) -> BoxStream<'static, BuildEvent>;
    /// Whether the backend holds `image`.
    async fn exists(&self, image: &str) -> Result<bool, RuntimeError>;
    /// Pulls `image` from its registry; the backend's reason when it cannot.
    async fn pull(&self, image: &str) -> Result<(), String>;
    /// Removes `image`; one a container still uses stays, and that is not an error.
    async fn remove(&self, image: &str) -> Result<(), RuntimeError>;
}
