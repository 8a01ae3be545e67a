//! An engine that does not answer is `Unavailable` at once, never a hang. Tested with socket paths
//! where nothing listens; the shared engine is never touched.

use runtime::RuntimeError;
use runtime_docker::{DockerRuntime, DockerSettings};

#[tokio::test]
async fn no_engine_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // A socket file nobody listens on (connection refused), and a path with no socket at all.
    let bound = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&bound).unwrap());
    for socket in [bound, dir.path().join("missing.sock")] {
        let settings = DockerSettings {
            socket: format!("unix://{}", socket.display()),
            ..DockerSettings::default()
        };
        let err = DockerRuntime::connect(&settings).await.unwrap_err();
        assert!(matches!(err, RuntimeError::Unavailable(_)), "{err:?}");
    }
}
