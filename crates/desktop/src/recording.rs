//! Screen recordings: ffmpeg grabbing the display (x11grab) into H.264 mp4, one at a time. A
//! recording is stopped with SIGINT so that ffmpeg finishes the file (the moov atom) and exits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::Desktop;
use crate::error::{DesktopError, DesktopResult};

/// How long ffmpeg gets to finish the file after SIGINT before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Finished recordings kept (the oldest file is deleted beyond this).
const KEPT: usize = 20;

/// `POST /desktop/recording/start`: the Python SDK's `{fps, format, quality}`; the TypeScript SDK's
/// `{output_file}` is ignored (recordings are kept by the agent and downloaded by id).
#[derive(Debug, Default, Deserialize)]
pub struct Start {
    pub fps: Option<u32>,
    pub format: Option<String>,
    pub quality: Option<String>,
}

/// `POST /desktop/recording/stop`: `{recording_id}`, or nothing for the one running.
#[derive(Debug, Default, Deserialize)]
pub struct Stop {
    pub recording_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Recording,
    Stopped,
    Failed,
}

/// A recording, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub recording_id: String,
    pub status: Status,
    /// Seconds recorded so far.
    pub duration: f64,
    pub file_size: u64,
    pub format: &'static str,
    pub fps: u32,
    /// Unix seconds.
    pub started_at: u64,
}

struct Rec {
    info: Info,
    file: PathBuf,
    started: Instant,
    pid: u32,
    stopping: bool,
}

/// Every recording of this sandbox.
pub struct Recordings {
    dir: PathBuf,
    all: Arc<Mutex<BTreeMap<String, Rec>>>,
}

impl Recordings {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            all: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Rec>> {
        self.all.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn running(&self) -> Option<String> {
        self.lock()
            .values()
            .find(|r| r.info.status == Status::Recording)
            .map(|r| r.info.recording_id.clone())
    }

    /// Stops the running recording at once (the agent is stopping).
    pub fn stop_all(&self, desktop: &Desktop) {
        for r in self
            .lock()
            .values()
            .filter(|r| r.info.status == Status::Recording)
        {
            desktop.exec.signal(r.pid, 2);
        }
    }
}

fn unknown(id: &str) -> DesktopError {
    DesktopError::new(404, "RECORDING_NOT_FOUND", format!("No recording {id:?}"))
        .with_detail("recording_id", id)
}

fn snapshot(r: &Rec) -> Info {
    let mut info = r.info.clone();
    if info.status == Status::Recording {
        info.duration = r.started.elapsed().as_secs_f64();
    }
    info.file_size = std::fs::metadata(&r.file).map_or(0, |m| m.len());
    info
}

impl Desktop {
    pub async fn start_recording(&self, req: &Start) -> DesktopResult<Info> {
        self.require("ffmpeg")?;
        let fps = req.fps.unwrap_or(10);
        if !(1..=60).contains(&fps) {
            return Err(DesktopError::invalid("fps must be between 1 and 60"));
        }
        if !matches!(req.format.as_deref(), None | Some("mp4")) {
            return Err(DesktopError::invalid("format must be mp4"));
        }
        let crf = match req.quality.as_deref().unwrap_or("medium") {
            "low" => "35",
            "medium" => "28",
            "high" => "20",
            _ => return Err(DesktopError::invalid("quality must be low, medium or high")),
        };
        if let Some(id) = self.recordings.running() {
            return Err(DesktopError::new(
                409,
                "RECORDING_IN_PROGRESS",
                format!("Recording {id} is running; stop it first"),
            )
            .with_detail("recording_id", id));
        }
        let (w, h) = self.x.size().await?;
        let dir = &self.recordings.dir;
        std::fs::create_dir_all(dir)
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))
            })
            .map_err(|e| {
                DesktopError::failed(format!("cannot make the recordings directory: {e}"))
            })?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let file = dir.join(format!("{id}.mp4"));
        let args = crate::args(&[
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-f",
            "x11grab",
            "-draw_mouse",
            "1",
            "-framerate",
            &fps.to_string(),
            "-video_size",
            &format!("{w}x{h}"),
            "-i",
            &format!("{}.0+0,0", self.display()),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            crf,
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            "-y",
            &file.display().to_string(),
        ]);
        let started = self
            .exec
            .start("ffmpeg", &args, &self.env())
            .map_err(|e| DesktopError::failed(format!("ffmpeg did not start: {e}")))?;
        self.logs.follow("ffmpeg", started.stderr);
        let info = Info {
            recording_id: id.clone(),
            status: Status::Recording,
            duration: 0.0,
            file_size: 0,
            format: "mp4",
            fps,
            started_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        self.recordings.lock().insert(
            id.clone(),
            Rec {
                info: info.clone(),
                file,
                started: Instant::now(),
                pid: started.pid,
                stopping: false,
            },
        );
        let all = self.recordings.all.clone();
        let logs = self.logs.clone();
        let exit = started.exit;
        tokio::spawn(async move {
            let code = exit.await.unwrap_or(-1);
            let mut all = all.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = all.get_mut(&id) {
                r.info.duration = r.started.elapsed().as_secs_f64();
                // ffmpeg ends a SIGINT-ed recording with 255 (or 0): the file is complete.
                r.info.status = if r.stopping && matches!(code, 0 | 255) {
                    Status::Stopped
                } else {
                    logs.push("ffmpeg", &format!("recording {id} ended with code {code}"));
                    Status::Failed
                };
            }
            prune(&mut all);
        });
        Ok(info)
    }

    pub async fn stop_recording(&self, req: &Stop) -> DesktopResult<Info> {
        let id = match &req.recording_id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => self.recordings.running().ok_or_else(|| {
                DesktopError::new(404, "RECORDING_NOT_FOUND", "No recording is running")
            })?,
        };
        let pid = {
            let mut all = self.recordings.lock();
            let r = all.get_mut(&id).ok_or_else(|| unknown(&id))?;
            if r.info.status != Status::Recording {
                return Ok(snapshot(r));
            }
            r.stopping = true;
            r.pid
        };
        self.exec.signal(pid, 2);
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            let info = self.recording(Some(&id))?;
            if info.status != Status::Recording {
                return Ok(info);
            }
            if Instant::now() >= deadline {
                self.exec.signal(pid, 9);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Recording `id`; without one, the running recording, else the latest, else 404.
    pub fn recording(&self, id: Option<&str>) -> DesktopResult<Info> {
        let all = self.recordings.lock();
        let r = match id.filter(|s| !s.is_empty()) {
            Some(id) => all.get(id).ok_or_else(|| unknown(id))?,
            None => all
                .values()
                .max_by_key(|r| r.started)
                .ok_or_else(|| DesktopError::new(404, "RECORDING_NOT_FOUND", "No recording yet"))?,
        };
        Ok(snapshot(r))
    }

    /// The mp4 of a finished recording.
    pub async fn recording_file(&self, id: &str) -> DesktopResult<Vec<u8>> {
        let (status, file) = {
            let all = self.recordings.lock();
            let r = all.get(id).ok_or_else(|| unknown(id))?;
            (r.info.status, r.file.clone())
        };
        if status == Status::Recording {
            return Err(DesktopError::new(
                409,
                "RECORDING_IN_PROGRESS",
                format!("Recording {id} is still running; stop it first"),
            ));
        }
        tokio::fs::read(&file).await.map_err(|_| {
            DesktopError::new(
                404,
                "RECORDING_NOT_FOUND",
                format!("Recording {id} has no file"),
            )
        })
    }
}

/// Keeps the newest [`KEPT`] finished recordings.
fn prune(all: &mut BTreeMap<String, Rec>) {
    let mut done: Vec<(Instant, String)> = all
        .values()
        .filter(|r| r.info.status != Status::Recording)
        .map(|r| (r.started, r.info.recording_id.clone()))
        .collect();
    if done.len() <= KEPT {
        return;
    }
    done.sort();
    for (_, id) in done.iter().take(done.len() - KEPT) {
        if let Some(r) = all.remove(id) {
            let _ = std::fs::remove_file(r.file);
        }
    }
}
