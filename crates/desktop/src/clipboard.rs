//! (being written)

/// Clipboard history.
#[derive(Default)]
pub struct Clipboard;
