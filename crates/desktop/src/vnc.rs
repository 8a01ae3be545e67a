//! The VNC server and the browser viewer's bridge (being written).

pub struct Vnc;

impl Vnc {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self
    }
}
