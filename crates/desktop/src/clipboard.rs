//! The clipboard (the CLIPBOARD selection, through xclip) and its history: what the API set and what
//! it read, newest last.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use crate::Desktop;
use crate::error::{DesktopError, DesktopResult};

/// Entries kept in the history.
const HISTORY: usize = 50;
/// Largest clipboard text taken.
const MAX_TEXT: usize = 1 << 20;
const XCLIP: Duration = Duration::from_secs(5);

/// `POST /desktop/clipboard/set`: `{text}` (Python) or `{content}` (TypeScript).
#[derive(Debug, Deserialize)]
pub struct SetClipboard {
    pub text: Option<String>,
    pub content: Option<String>,
}

/// The history.
#[derive(Default)]
pub struct Clipboard(Mutex<VecDeque<String>>);

impl Clipboard {
    fn remember(&self, text: &str) {
        let mut h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if h.back().map(String::as_str) == Some(text) {
            return;
        }
        if h.len() == HISTORY {
            h.pop_front();
        }
        h.push_back(text.to_owned());
    }

    pub fn history(&self) -> Vec<String> {
        let h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        h.iter().cloned().collect()
    }
}

impl Desktop {
    pub async fn set_clipboard(&self, req: SetClipboard) -> DesktopResult<()> {
        let text = req
            .text
            .or(req.content)
            .ok_or_else(|| DesktopError::invalid("Missing text (or content)"))?;
        if text.len() > MAX_TEXT {
            return Err(DesktopError::invalid("clipboard text is larger than 1 MiB"));
        }
        // xclip stays in the background to serve the selection; its output goes to /dev/null so the
        // call returns as soon as it has forked.
        self.require("xclip")?;
        let args = [
            "-c".to_owned(),
            "exec xclip -selection clipboard -i >/dev/null 2>&1".to_owned(),
        ];
        self.run_ok("sh", &args, Some(text.clone().into_bytes()), XCLIP)
            .await?;
        self.clipboard.remember(&text);
        Ok(())
    }

    /// The clipboard's text; empty when it holds none.
    pub async fn get_clipboard(&self) -> DesktopResult<String> {
        let args = crate::args(&["-selection", "clipboard", "-o"]);
        let out = self.run("xclip", &args, None, XCLIP).await?;
        if !out.success() {
            // "target STRING not available": nothing on the clipboard.
            return Ok(String::new());
        }
        if !out.stdout.is_empty() {
            self.clipboard.remember(&out.stdout);
        }
        Ok(out.stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_bounded_and_skips_repeats() {
        let c = Clipboard::default();
        c.remember("a");
        c.remember("a");
        c.remember("b");
        assert_eq!(c.history(), ["a", "b"]);
        for i in 0..HISTORY {
            c.remember(&i.to_string());
        }
        assert_eq!(c.history().len(), HISTORY);
        assert_eq!(c.history().last().unwrap(), &(HISTORY - 1).to_string());
    }
}
