//! Where a volume may be mounted in a sandbox: the rules every backend relies on, checked by the
//! scheduler before a create is admitted.

/// Longest mount path accepted, in bytes.
pub const MAX_MOUNT_PATH: usize = 256;

/// Trees no volume may be mounted in or over: the kernel's interfaces and the agent's own mounts
/// (everything of the agent is under `/.warren`).
pub const RESERVED_TREES: [&str; 4] = ["/proc", "/sys", "/dev", "/.warren"];

/// Paths a sandbox mounts its own disk at: a volume may go below them, not over them.
pub const SANDBOX_MOUNTS: [&str; 5] = ["/workspace", "/home/user", "/tmp", "/var/tmp", "/run/lock"];

/// Why `path` cannot be a volume's mount path, or `None` when it can: an absolute, normalized
/// path (no empty, `.` or `..` component, no trailing `/`) of `[A-Za-z0-9._@+=-]` components, not
/// `/`, not in a [`RESERVED_TREES`] tree and not one of the [`SANDBOX_MOUNTS`].
pub fn mount_path_refusal(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("must be an absolute path");
    }
    if path.len() > MAX_MOUNT_PATH {
        return Some("is too long (at most 256 bytes)");
    }
    if path == "/" {
        return Some("cannot be the root directory");
    }
    let components = path[1..].split('/');
    for c in components {
        if c.is_empty() {
            return Some("must not contain an empty component (`//` or a trailing `/`)");
        }
        if c == "." || c == ".." {
            return Some("must not contain `.` or `..` components");
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"._@+=-".contains(&b);
        if !c.bytes().all(allowed) {
            return Some("may only contain letters, digits and . _ @ + = -");
        }
    }
    let within =
        |tree: &str| path == tree || path.strip_prefix(tree).is_some_and(|r| r.starts_with('/'));
    if RESERVED_TREES.iter().any(|t| within(t)) {
        return Some("is reserved (/proc, /sys, /dev and the agent's /.warren)");
    }
    if SANDBOX_MOUNTS.contains(&path) {
        return Some("is already a mount of the sandbox's own disk; mount below it instead");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_normal_absolute_paths() {
        for ok in [
            "/data",
            "/workspace/data",
            "/mnt/v-1.2",
            "/home/user/cache",
            "/opt/a@b+c=d",
        ] {
            assert_eq!(mount_path_refusal(ok), None, "{ok}");
        }
    }

    #[test]
    fn refuses_relative_dotted_reserved_and_own_mounts() {
        let long = format!("/{}", "a".repeat(MAX_MOUNT_PATH));
        for bad in [
            "",
            "data",
            "./data",
            "/",
            "/data/",
            "//data",
            "/a/../etc",
            "/a/./b",
            "/..",
            "/proc",
            "/proc/self",
            "/sys/fs/cgroup",
            "/dev/shm",
            "/.warren",
            "/.warren/agent",
            "/workspace",
            "/tmp",
            "/home/user",
            "/data:ro",
            "/da ta",
            "/data,readonly",
            "/d\0",
            long.as_str(),
        ] {
            assert!(mount_path_refusal(bad).is_some(), "{bad:?} accepted");
        }
        // Near misses of the reserved trees are ordinary paths.
        assert_eq!(mount_path_refusal("/procedures"), None);
        assert_eq!(mount_path_refusal("/devices"), None);
    }
}
