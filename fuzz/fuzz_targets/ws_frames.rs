//! What the agent decodes from WebSocket clients (the terminal's input frames, the first frame of
//! the execute and command streams, file watch requests) and the UTF-8 framing of stream output:
//! never panics; output text is split into frames that rejoin to the lossy decoding of the bytes.
#![no_main]

use api_types::agent::{CommandRequest, ExecuteRequest, TerminalInput, WatchRequest};
use libfuzzer_sys::fuzz_target;
use warren_agent::http::extract::parse_json;
use warren_agent::lang::Language;
use warren_agent::ws::{MAX_FRAME_DATA, Utf8Carry, split_frames};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<TerminalInput>(data);
    let _ = parse_json::<WatchRequest>(data);
    let _ = parse_json::<CommandRequest>(data);
    if let Ok(req) = parse_json::<ExecuteRequest>(data) {
        let _ = Language::parse(&req.language);
    }
    // Output framing: the bytes in two pieces at an arbitrary cut.
    let cut = data
        .first()
        .map_or(0, |b| usize::from(*b) % (data.len() + 1));
    let mut carry = Utf8Carry::default();
    let mut text = carry.push(&data[..cut]);
    text.push_str(&carry.push(&data[cut..]));
    text.push_str(&carry.finish());
    if std::str::from_utf8(data).is_ok() {
        assert_eq!(text.as_bytes(), data);
    }
    let frames = split_frames(&text);
    assert!(
        frames
            .iter()
            .all(|f| !f.is_empty() && f.len() <= MAX_FRAME_DATA)
    );
    assert_eq!(frames.concat(), text);
});
