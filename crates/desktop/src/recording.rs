//! (being written)
use std::path::PathBuf;

pub struct Recordings {
    pub dir: PathBuf,
}

impl Recordings {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn stop_all(&self, _desktop: &crate::Desktop) {}
}
