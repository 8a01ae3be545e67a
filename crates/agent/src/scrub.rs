//! Blanks the environment block the kernel gave the agent once its configuration is read.
//!
//! `/proc/<pid>/environ` reads that block from the process's memory. Under runc user code cannot
//! open the agent's (another uid, no `CAP_SYS_PTRACE`); gVisor (runsc 20221219) lets it, with no
//! ptrace-access check. Nothing secret is in it (secrets come from the secrets file), but the
//! agent's settings are nobody's business: after the scrub it reads as NUL bytes. The agent needs
//! no variable afterwards (user processes get the environment the configuration holds).

use std::ffi::c_char;

unsafe extern "C" {
    static mut environ: *mut *mut c_char;
}

/// Overwrites every string of the initial environment with NUL bytes.
///
/// # Safety
/// No other thread may run (or read the environment) while it does, and nothing may read the
/// process environment afterwards expecting the agent's variables.
pub unsafe fn initial_environment() {
    // SAFETY: the caller guarantees no concurrent access; `environ` is the C runtime's NULL-
    // terminated array of NUL-terminated strings, each writable (on the initial stack or the heap).
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let s = *entry;
            std::ptr::write_bytes(s, 0, libc::strlen(s));
            entry = entry.add(1);
        }
    }
}
