//! Process-group plumbing: killing a job's whole tree, naming signals, and
//! finding a crashed server's leftover job processes.

use std::collections::HashSet;
use std::time::Duration;

/// Sends `signal` to every process in the group led by `pgid`.
pub fn signal_group(pgid: u32, signal: i32) {
    // SAFETY: kill(2) has no memory effects; a negative pid addresses the group.
    // The group id is one we created with process_group(0), never 0 or 1.
    if pgid > 1 {
        unsafe {
            libc::kill(-(pgid as i32), signal);
        }
    }
}

/// SIGTERM to the group, then SIGKILL after `grace` if anything is left.
/// `exited` resolves when the job's main process has ended.
pub async fn terminate_group<F: std::future::Future>(pgid: u32, grace: Duration, exited: F) {
    signal_group(pgid, libc::SIGTERM);
    let _ = tokio::time::timeout(grace, exited).await;
    signal_group(pgid, libc::SIGKILL);
}

/// The conventional name of a signal number.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {sig}"),
    };
    format!("{name} (signal {sig})")
}

/// Kills every process whose environment carries `MOLGENIS_JOB_ID=<id>` for
/// one of `job_ids`: what is left of jobs that have ended, including
/// processes that left the job's process group with `setsid`, and the
/// leftovers of jobs whose server died. Matching on job ids we know have
/// ended, rather than on stored pids, means a reused pid is never hit and
/// another server's jobs on the same machine are never touched. One pass
/// over `/proc` serves any number of ids. Returns how many were killed.
///
/// A process that replaced its whole environment (`env -i`) is not found.
pub fn kill_leftovers(job_ids: &HashSet<String>) -> usize {
    if job_ids.is_empty() {
        return 0;
    }
    const KEY: &[u8] = b"MOLGENIS_JOB_ID=";
    let mut killed = 0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let hit = environ.split(|b| *b == 0).any(|var| {
            var.strip_prefix(KEY)
                .and_then(|id| std::str::from_utf8(id).ok())
                .is_some_and(|id| job_ids.contains(id))
        });
        if hit {
            // SAFETY: kill(2) on a pid we just found carrying an ended job's id.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            killed += 1;
        }
    }
    killed
}
