//! The names clients choose: of volumes (`[a-z0-9.-]`, never an id: ids have a `_`), of
//! sandboxes and of snapshots (`[A-Za-z0-9._-]`), all 1–63 bytes starting with a letter or digit.

use api_error::ApiError;

/// Longest name, in bytes.
pub const MAX_NAME: usize = 63;

/// `Ok` when `name` can name a volume.
pub fn check_volume_name(name: &str) -> Result<(), ApiError> {
    check(name, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
    })
    .map_err(|why| ApiError::InvalidRequest(format!("volume name {why}: 1–63 of a-z 0-9 . -")))
}

/// `Ok` when `name` can name a sandbox.
pub fn check_sandbox_name(name: &str) -> Result<(), ApiError> {
    check_label("sandbox", name)
}

/// `Ok` when `name` can label a snapshot (the characters of a sandbox name; not unique).
pub fn check_snapshot_name(name: &str) -> Result<(), ApiError> {
    check_label("snapshot", name)
}

/// A sandbox's or snapshot's name: `[A-Za-z0-9._-]`.
fn check_label(kind: &str, name: &str) -> Result<(), ApiError> {
    check(name, |b| b.is_ascii_alphanumeric() || b"._-".contains(&b)).map_err(|why| {
        ApiError::InvalidRequest(format!("{kind} name {why}: 1–63 of A-Z a-z 0-9 . _ -"))
    })
}

/// Whether `s` could name or identify a volume; anything else is answered 404 without a lookup.
pub fn could_be_volume(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME + db::ids::VOLUME_PREFIX.len()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn check(name: &str, allowed: impl Fn(u8) -> bool) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err("must have 1 to 63 characters");
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("must start with a letter or digit");
    }
    if !name.bytes().all(allowed) {
        return Err("has a character it may not have");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_are_lowercase_labels_never_ids() {
        for ok in ["data", "a", "my-vol.2", &"a".repeat(63)] {
            assert!(check_volume_name(ok).is_ok(), "{ok}");
        }
        let id = db::ids::new_volume_id();
        for bad in [
            "",
            "-a",
            ".a",
            "Data",
            "a_b",
            "a b",
            "a/b",
            &"a".repeat(64),
            &id,
        ] {
            assert!(check_volume_name(bad).is_err(), "{bad:?}");
        }
        assert!(could_be_volume(&id) && could_be_volume("data"));
        assert!(!could_be_volume("a/b") && !could_be_volume(""));
    }

    #[test]
    fn sandbox_names_allow_case_and_underscores() {
        for ok in ["web_1", "My.App-2", "x"] {
            assert!(check_sandbox_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "_a", "a b", "a/b", "a\0", "é", &"a".repeat(64)] {
            assert!(check_sandbox_name(bad).is_err(), "{bad:?}");
            assert!(check_snapshot_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_snapshot_name("before-upgrade_2.1").is_ok());
        let Err(ApiError::InvalidRequest(why)) = check_snapshot_name("a b") else {
            panic!("refused");
        };
        assert!(why.starts_with("snapshot name"), "{why}");
    }
}
