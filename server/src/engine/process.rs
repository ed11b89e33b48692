//! Process-group plumbing: killing a job's whole tree, naming signals, and
//! finding a crashed server's leftover job processes.

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

/// Kills every process whose environment carries `MOLGENIS_JOB_ID=<job_id>`:
/// the leftovers of a job whose server died. Matching on the job id rather
/// than a stored pid means a reused pid is never hit, and a child that left
/// the process group is still found. Returns how many were killed.
pub fn kill_leftovers(job_id: &str) -> usize {
    let needle = format!("MOLGENIS_JOB_ID={job_id}");
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
        if environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
        {
            // SAFETY: kill(2) on a pid we just found carrying this job's id.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            killed += 1;
        }
    }
    killed
}
