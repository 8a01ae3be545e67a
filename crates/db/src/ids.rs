//! Sandbox ids: 12 characters of `[a-z0-9]` starting with a letter, so they are DNS labels and never
//! look like the `{port}-{id}` prefix the router parses. Volume ids are `vol_` and one of those: no
//! volume name has a `_`, so a name never reads as an id. Snapshot ids are `snap_` and one.

use rand::Rng;

const LEN: usize = 12;
const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh random sandbox id (about 60 bits of entropy).
pub fn new_sandbox_id() -> String {
    let mut rng = rand::thread_rng();
    let mut id = String::with_capacity(LEN);
    id.push(FIRST[rng.gen_range(0..FIRST.len())] as char);
    for _ in 1..LEN {
        id.push(REST[rng.gen_range(0..REST.len())] as char);
    }
    id
}

/// A fresh random volume id, `vol_` and a sandbox-id-like label.
pub fn new_volume_id() -> String {
    format!("{VOLUME_PREFIX}{}", new_sandbox_id())
}

/// What every volume id starts with.
pub const VOLUME_PREFIX: &str = "vol_";

/// A fresh random snapshot id, `snap_` and a sandbox-id-like label.
pub fn new_snapshot_id() -> String {
    format!("{SNAPSHOT_PREFIX}{}", new_sandbox_id())
}

/// What every snapshot id starts with.
pub const SNAPSHOT_PREFIX: &str = "snap_";

/// Whether `s` could be a snapshot id; anything else is answered 404 without a lookup.
pub fn is_snapshot_id(s: &str) -> bool {
    s.strip_prefix(SNAPSHOT_PREFIX).is_some_and(is_sandbox_id)
}

/// Whether `s` could be a sandbox id; anything else is answered 404 without a lookup.
pub fn is_sandbox_id(s: &str) -> bool {
    s.len() == LEN
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_labels_never_port_prefixed() {
        for _ in 0..1000 {
            let id = new_sandbox_id();
            assert!(is_sandbox_id(&id), "{id}");
            assert!(!id.as_bytes()[0].is_ascii_digit());
            assert!(!id.contains('-'));
        }
    }

    #[test]
    fn volume_ids_are_prefixed_labels() {
        let id = new_volume_id();
        assert!(
            is_sandbox_id(id.strip_prefix(VOLUME_PREFIX).unwrap()),
            "{id}"
        );
    }

    #[test]
    fn snapshot_ids_are_prefixed_labels() {
        assert!(is_snapshot_id(&new_snapshot_id()));
        for s in [
            "",
            "snap_",
            "snap_Abcdefghijkl",
            "vol_abcdefghijkl",
            "abcdefghijkl",
        ] {
            assert!(!is_snapshot_id(s), "{s}");
        }
    }

    #[test]
    fn refuses_non_ids() {
        for s in [
            "",
            "7777-abcdefgh",
            "Abcdefghijkl",
            "1bcdefghijkl",
            "abcdefghijk",
            "abc/efghijkl",
        ] {
            assert!(!is_sandbox_id(s), "{s}");
        }
    }
}
