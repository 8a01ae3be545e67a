//! The agent's side of the desktop (`desktop` crate): programs started through the agent's own
//! spawner, the display stack started with the agent, and the `/desktop/*` routes (`http::desktop`).

pub mod exec;

use std::sync::Arc;
use std::time::Duration;

use desktop::{Desktop, Options};

use crate::procs::spawn::Spawner;

/// How long the agent's start waits for nothing: the display comes up beside the Python kernel; a
/// desktop call that arrives first waits for it this long.
pub const READY_WAIT: Duration = Duration::from_secs(10);

/// The desktop when the image has its programs, else the programs it lacks.
pub fn probe(
    spawner: &Spawner,
    base_env: &std::collections::BTreeMap<String, String>,
    home: std::path::PathBuf,
) -> Result<Desktop, Vec<String>> {
    let exec = exec::SandboxExec::new(spawner.clone(), base_env.clone(), home);
    Desktop::probe(Arc::new(exec), Options::default())
}
