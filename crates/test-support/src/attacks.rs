//! The resource attacks of the exhaustion suites (`runtime-docker`'s, on the engine alone, and the
//! control plane's, through `warren serve` and its router): bash scripts run as user code in the
//! attacked sandbox, each printing what stopped it.

/// Allocates until killed: prints `exit=137` (the memory limit's OOM kill) or Python's `MemoryError`.
pub const MEMORY_HOG: &str =
    "python3 -c 'b = []\nwhile True: b.append(bytearray(1 << 24))'; echo exit=$?";

/// Writes up to 2000 MiB to `/workspace/fill`; its last line is the size the file reached.
pub const DISK_FILL: &str = "dd if=/dev/zero of=/workspace/fill bs=1M count=2000 2>&1 | tail -1; stat -c %s /workspace/fill";

/// Removes the disk fill's file and writes 1 MiB: the space came back.
pub const DISK_FILL_UNDONE: &str = "rm /workspace/fill && head -c 1M /dev/zero > /workspace/again";

/// Empty files in `/workspace/i` until an error or 20 s: prints `N files, stopped by WHY`.
pub const INODES: &str = "python3 - <<'EOF'\nimport os, time\nos.makedirs('/workspace/i', exist_ok=True)\nn, end, why = 0, time.time() + 20, 'time'\nwhile time.time() < end:\n    try:\n        open(f'/workspace/i/{n}', 'w').close(); n += 1\n    except OSError as e:\n        why = e.strerror; break\nprint(n, 'files, stopped by', why)\nEOF";

/// Removes the inode attack's files.
pub const INODES_UNDONE: &str = "rm -rf /workspace/i";

/// One process opens files until its limit and holds them 5 s: prints `N open files, then WHY`.
pub const OPEN_FILES: &str = "python3 - <<'EOF'\nimport time\nfds = []\ntry:\n    while True: fds.append(open('/dev/null'))\nexcept OSError as e:\n    print(len(fds), 'open files, then', e.strerror)\ntime.sleep(5)\nEOF";

/// A fork bomb under `timeout 10`; its leftovers stay until the agent's kill-all.
pub const FORK_BOMB: &str = "timeout 10 bash -c 'b() { b | b & }; b' ; echo timed-out";

/// How many disk-fill bytes `out` (the output of [`DISK_FILL`]) reports (`u64::MAX` if none).
pub fn disk_fill_bytes(out: &str) -> u64 {
    out.lines()
        .last()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or(u64::MAX)
}
