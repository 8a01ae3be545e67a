//! Logging setup for the `warren` binary.

use tracing_subscriber::EnvFilter;

use settings::LogSettings;

/// Installs a global subscriber: `RUST_LOG` wins over `log.filter`; logs go to stderr, so that
/// stdout carries only command output (a new API key is its last line).
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.json {
        builder.json().init();
    } else {
        builder.init();
    }
}
