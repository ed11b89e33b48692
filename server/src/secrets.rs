//! Keeping the server's own secrets away from the scripts it runs.
//!
//! A job's environment is built from nothing (see `engine::run`), but a job
//! is a process of the server's own OS user, and such a process can read
//! `/proc/<server pid>/environ`: the environment the server was started
//! with, admin token and SMTP password included. [`protect`] closes that:
//!
//! - it marks the server non-dumpable, so processes of the same user that
//!   are not root can no longer read its `/proc` files or attach to it;
//! - it overwrites the secret values in the server's original environment
//!   block, so even a root job reading `environ` finds only asterisks.
//!
//! Call it once in `main`, after the configuration has been read and before
//! any job starts. What stays true: a job runs with the server's user's
//! rights on files, so it can read the data directory; run Taskwright as a
//! user of its own (README, "Security").

use std::ffi::{c_char, CStr};

/// The environment variables whose values are secrets.
pub const SECRET_VARS: [&str; 3] = [
    "TASKWRIGHT_ADMIN_PASSWORD",
    "TASKWRIGHT_ADMIN_TOKEN",
    "TASKWRIGHT_SMTP_PASSWORD",
];

/// The flags that carry the same secrets; visible in `ps` to every user.
pub const SECRET_FLAGS: [&str; 3] = ["--admin-password", "--admin-token", "--smtp-password"];

extern "C" {
    static mut environ: *mut *mut c_char;
}

/// Hides the server's secrets from its jobs (see the module docs). Returns
/// the secret flags given on the command line, which other users can see in
/// the process list, so the caller can warn about them.
pub fn protect() -> Vec<&'static str> {
    // SAFETY: prctl(PR_SET_DUMPABLE) only changes this process's flag.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    // SAFETY: called from `main` before the runtime starts other threads
    // that read the environment; each entry is a NUL-terminated string
    // whose bytes after `=` are overwritten in place, never past its end.
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let bytes = CStr::from_ptr(*entry).to_bytes();
            let secret = SECRET_VARS.iter().any(|name| {
                bytes.len() > name.len()
                    && bytes.starts_with(name.as_bytes())
                    && bytes[name.len()] == b'='
            });
            if secret {
                let eq = bytes.iter().position(|b| *b == b'=').unwrap_or(bytes.len());
                let value = (*entry).add(eq + 1) as *mut u8;
                std::ptr::write_bytes(value, b'*', bytes.len() - eq - 1);
            }
            entry = entry.add(1);
        }
    }
    SECRET_FLAGS
        .into_iter()
        .filter(|flag| std::env::args().any(|a| a == *flag || a.starts_with(&format!("{flag}="))))
        .collect()
}
