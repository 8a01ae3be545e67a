//! Small helpers shared by the handlers: timestamps and ids.

use chrono::Utc;

/// Now as a second-precision `Z` timestamp.
pub fn now_ts() -> String {
    api_types::timestamp::format(&Utc::now())
}

/// Unix time in seconds.
pub fn unix_now() -> i64 {
    Utc::now().timestamp()
}

/// A short random id with a prefix, e.g. `proc_3f2a…`.
pub fn new_id(prefix: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &u[..16])
}

/// Cuts `s` to at most `max` bytes on a char boundary; returns whether it cut.
pub fn truncate_utf8(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}
