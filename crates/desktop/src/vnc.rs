//! The VNC server and the browser viewer's bridge (being written).

pub struct Vnc;

impl Vnc {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self
    }
}

impl Vnc {
    /// Where a browser reaches the viewer (`http://6080-{id}.{domain}`) and the preview epoch its
    /// links are signed with, as the control plane said at create or at the configure step.
    pub fn set_link(&self, _viewer_base: Option<String>, _preview_epoch: i64) {}
}
