//! The job engine with real bash and python3 processes, a real SQLite file
//! and real package installs. Each test says what it proves.

mod common;

use common::{test_config, ServerProcess, TestServer};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn bash(script: &str) -> Value {
    json!({"type": "bash", "script": script})
}

/// Parameters with quotes, spaces and newlines reach bash and python as argv[1]
/// and MOLGENIS_PARAMETERS byte for byte.
#[tokio::test]
async fn parameters_arrive_intact() {
    let s = TestServer::start().await;
    let params = "a 'quoted' \"double\" $HOME `x`\nsecond line\\n; rm -rf /";
    s.put_script(
        "echo bash",
        bash(r#"printf '%s' "$1" > "$OUTPUT_FILE"; [ "$1" = "$MOLGENIS_PARAMETERS" ] || exit 3"#),
    )
    .await;
    let id = s.submit("echo bash", Some(params)).await;
    assert_eq!(s.wait_done(&id, 30).await["status"], "COMPLETED");
    let out = s
        .get(&format!("/api/tasks/{id}/output"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(out, params);

    s.put_script("echo py", json!({"type": "python", "outputFileExtension": "txt", "script":
        "import os, sys\nassert sys.argv[1] == os.environ['MOLGENIS_PARAMETERS']\nopen(os.environ['OUTPUT_FILE'], 'w').write(sys.argv[1])"})).await;
    let id = s.submit("echo py", Some(params)).await;
    let t = s.wait_done(&id, 60).await;
    assert_eq!(t["status"], "COMPLETED", "{}", s.log(&id).await);
    let out = s
        .get(&format!("/api/tasks/{id}/output"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(out, params);
}

/// No parameters means no argv[1] and no MOLGENIS_PARAMETERS, never "null";
/// standard input is at EOF at once.
#[tokio::test]
async fn no_parameters_and_empty_stdin() {
    let s = TestServer::start().await;
    s.put_script("argc", bash(r#"echo "argc=$# param=${MOLGENIS_PARAMETERS-unset}"; if read -r line; then echo "read: $line"; else echo "stdin EOF"; fi"#)).await;
    let id = s.submit("argc", None).await;
    assert_eq!(s.wait_done(&id, 30).await["status"], "COMPLETED");
    let log = s.log(&id).await;
    assert!(log.contains("argc=0 param=unset"), "{log}");
    assert!(log.contains("stdin EOF"), "{log}");
}

/// The script sees only PATH, HOME, LANG, TZ and the MOLGENIS_/OUTPUT_FILE
/// variables: no server secret leaks into it.
#[tokio::test]
async fn environment_is_clean() {
    let s = TestServer::start().await;
    std::env::set_var("TASKWRIGHT_SMTP_PASSWORD", "leak-me-not");
    s.put_script(
        "env",
        bash("env | cut -d= -f1 | sort | tr '\\n' ' '; echo; env"),
    )
    .await;
    let id = s.submit("env", None).await;
    assert_eq!(s.wait_done(&id, 30).await["status"], "COMPLETED");
    let log = s.log(&id).await;
    let names = log.lines().next().unwrap();
    let mut got: Vec<&str> = names
        .split_whitespace()
        .filter(|n| *n != "PWD" && *n != "SHLVL" && *n != "_")
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "HOME",
            "LANG",
            "MOLGENIS_JOB_ID",
            "MOLGENIS_SERVER_URL",
            "MOLGENIS_TOKEN",
            "OUTPUT_FILE",
            "PATH",
            "TZ"
        ]
    );
    assert!(!log.contains("leak-me-not"));
    assert!(!log.contains("test-admin-token"));
    assert!(!log.contains(common::ADMIN_PASSWORD));
}

/// The job's MOLGENIS_TOKEN works against the API while the job runs and is
/// refused after it ends.
#[tokio::test]
async fn job_token_lives_exactly_as_long_as_its_job() {
    let s = TestServer::start().await;
    s.put_script("token", json!({"type": "python", "script": r#"
import os, sys, urllib.request
req = urllib.request.Request(os.environ["MOLGENIS_SERVER_URL"] + "/api/tasks/" + os.environ["MOLGENIS_JOB_ID"],
                             headers={"x-molgenis-token": os.environ["MOLGENIS_TOKEN"]})
body = urllib.request.urlopen(req).read().decode()
print("during:", "RUNNING" in body)
open(os.environ["OUTPUT_FILE"], "w").write(os.environ["MOLGENIS_TOKEN"])
"#})).await;
    let id = s.submit("token", None).await;
    let t = s.wait_done(&id, 60).await;
    assert_eq!(t["status"], "COMPLETED", "{}", s.log(&id).await);
    assert!(s.log(&id).await.contains("during: True"));
    let token = std::fs::read_to_string(s.state.engine.output_path(&id)).unwrap();
    assert!(token.starts_with("twj_"));
    let r = s
        .http
        .get(format!("{}/api/tasks/{id}", s.url))
        .header("x-molgenis-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// A ZIP extra file is unpacked with its folders; an entry with `../` makes
/// the job ERROR with a message naming it, and nothing lands outside.
#[tokio::test]
async fn zip_extra_files_unpack_and_escapes_are_refused() {
    use std::io::Write;
    let s = TestServer::start().await;
    let mut good = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    good.start_file("data/values.csv", opts).unwrap();
    good.write_all(b"a,b\n1,2\n").unwrap();
    good.start_file("helper.py", opts).unwrap();
    good.write_all(b"def twice(x):\n    return 2 * x\n")
        .unwrap();
    let good = good.finish().unwrap().into_inner();
    s.put_script(
        "zip",
        json!({"type": "python", "script":
        "import helper\nprint(open('data/values.csv').read().strip(), helper.twice(21))"}),
    )
    .await;
    let r = s
        .put("/api/scripts/zip/extra-file?filename=Bundle.ZIP")
        .body(good)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let id = s.submit("zip", None).await;
    assert_eq!(
        s.wait_done(&id, 60).await["status"],
        "COMPLETED",
        "{}",
        s.log(&id).await
    );
    assert!(s.log(&id).await.contains("1,2 42"));

    let mut bad = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    bad.start_file("ok.txt", opts).unwrap();
    bad.start_file("../escaped.txt", opts).unwrap();
    bad.write_all(b"x").unwrap();
    let bad = bad.finish().unwrap().into_inner();
    s.put_script("badzip", bash("echo should not run")).await;
    s.put("/api/scripts/badzip/extra-file?filename=evil.zip")
        .body(bad)
        .send()
        .await
        .unwrap();
    let id = s.submit("badzip", None).await;
    let t = s.wait_done(&id, 30).await;
    assert_eq!(t["status"], "ERROR");
    assert!(
        t["error"].as_str().unwrap().contains("../escaped.txt"),
        "{t}"
    );
    assert!(!s.data_dir.join("jobs/escaped.txt").exists());
    assert!(!s.log(&id).await.contains("should not run"));
}

/// A script that writes megabytes to stderr before stdout does not deadlock,
/// and both streams are kept, marked.
#[tokio::test]
async fn heavy_stderr_does_not_deadlock() {
    let s = TestServer::start().await;
    s.put_script(
        "stderr",
        bash("head -c 3000000 /dev/zero | tr '\\0' 'e' | fold -w 100 >&2; echo done-stdout"),
    )
    .await;
    let id = s.submit("stderr", None).await;
    let t = s.wait_done(&id, 60).await;
    assert_eq!(t["status"], "COMPLETED");
    assert!(s.log(&id).await.contains("done-stdout"));
    let lines = s.store_lines(&id).await;
    assert!(lines
        .iter()
        .any(|l| l.stream == app::model::LogStream::Stderr));
}

/// Exit codes and signals become truthful statuses.
#[tokio::test]
async fn exit_codes_and_signals() {
    let s = TestServer::start().await;
    s.put_script("exit7", bash("echo failing; exit 7")).await;
    s.put_script("segv", bash("kill -SEGV $$")).await;
    let a = s.submit("exit7", None).await;
    let b = s.submit("segv", None).await;
    let ta = s.wait_done(&a, 30).await;
    assert_eq!(
        (ta["status"].as_str(), ta["exitCode"].as_i64()),
        (Some("ERROR"), Some(7))
    );
    assert_eq!(ta["error"], "exit code 7");
    let tb = s.wait_done(&b, 30).await;
    assert_eq!(tb["status"], "ERROR");
    assert!(tb["error"].as_str().unwrap().contains("SIGSEGV"), "{tb}");
}

/// A cancelled WAITING job never starts.
#[tokio::test]
async fn cancelled_waiting_job_never_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = test_config(tmp.path());
    cfg.max_concurrent_jobs = Some(1);
    let s = TestServer::start_with(cfg).await;
    s.put_script("slow", bash("sleep 2")).await;
    s.put_script(
        "marker",
        bash(&format!("touch {}/ran", tmp.path().display())),
    )
    .await;
    let first = s.submit("slow", None).await;
    let second = s.submit("marker", None).await;
    assert_eq!(s.task(&second).await["status"], "WAITING");
    let r = s
        .post(&format!("/api/tasks/{second}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.task(&second).await["status"], "CANCELLED");
    s.wait_done(&first, 30).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.task(&second).await["status"], "CANCELLED");
    assert!(!tmp.path().join("ran").exists());
    let r = s
        .post(&format!("/api/tasks/{second}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "cancelling a finished job is a conflict");
}

/// Whether a process exists and is not a zombie (in a container the
/// orphaned, killed child may wait unreaped).
fn alive(pid: i32) -> bool {
    let exists = unsafe { libc::kill(pid, 0) == 0 };
    exists && !is_zombie(pid)
}

/// Cancel kills the whole tree, a backgrounded `sleep 600 &` included, and
/// the job ends CANCELLED, not ERROR.
#[tokio::test]
async fn cancel_kills_background_children() {
    let s = TestServer::start().await;
    s.put_script(
        "bg",
        bash("sleep 600 & echo $! > \"$HOME/../child.pid\"; echo started; wait"),
    )
    .await;
    let id = s.submit("bg", None).await;
    let pidfile = s.data_dir.join(format!("jobs/{id}/child.pid"));
    let t0 = Instant::now();
    while !pidfile.exists() && t0.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    let r = s
        .post(&format!("/api/tasks/{id}/cancel"))
        .send()
        .await
        .unwrap();
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["status"], "CANCELLED");
    assert!(!alive(pid), "the background sleep survived the cancel");
}

/// A script that ends normally leaves no background process behind.
#[tokio::test]
async fn finished_job_leaves_no_background_process() {
    let s = TestServer::start().await;
    s.put_script("leaver", bash("sleep 600 & echo $! > \"$OUTPUT_FILE\""))
        .await;
    let id = s.submit("leaver", None).await;
    assert_eq!(s.wait_done(&id, 30).await["status"], "COMPLETED");
    let pid: i32 = std::fs::read_to_string(s.state.engine.output_path(&id))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!alive(pid));
}

/// A process that left the job's process group with `setsid` is killed
/// shortly after the job ends, found by the job id in its environment.
#[tokio::test]
async fn setsid_escapee_is_killed_after_the_job() {
    let s = TestServer::start().await;
    s.put_script(
        "escaper",
        // Waits until the child leads its own session, so the job ends
        // with the escape done (field 6 of /proc/PID/stat is the session).
        bash(
            "setsid sleep 600 > /dev/null 2>&1 < /dev/null & pid=$!\n\
             while [ \"$(cut -d' ' -f6 /proc/$pid/stat)\" != \"$pid\" ]; do sleep 0.01; done\n\
             echo $pid > \"$OUTPUT_FILE\"",
        ),
    )
    .await;
    let id = s.submit("escaper", None).await;
    assert_eq!(s.wait_done(&id, 30).await["status"], "COMPLETED");
    let pid: i32 = std::fs::read_to_string(s.state.engine.output_path(&id))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let t0 = Instant::now();
    while alive(pid) && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "the setsid process outlived its job");
}

/// Regression: a `setsid` child holding the job's stdout open kept the job
/// RUNNING (and its token valid) until the child ended.
#[tokio::test]
async fn setsid_child_holding_stdout_does_not_keep_the_job_running() {
    let s = TestServer::start().await;
    s.put_script(
        "holder",
        bash(
            "setsid sleep 600 & pid=$!\n\
             while [ \"$(cut -d' ' -f6 /proc/$pid/stat)\" != \"$pid\" ]; do sleep 0.01; done\n\
             echo main-done",
        ),
    )
    .await;
    let t0 = Instant::now();
    let id = s.submit("holder", None).await;
    let t = s.wait_done(&id, 30).await;
    assert_eq!(t["status"], "COMPLETED");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the job waited {:?} for its escaped child",
        t0.elapsed()
    );
    assert!(s.log(&id).await.contains("main-done"));
}

/// A timeout kills the process tree and the job ends ERROR "timed out after N s".
#[tokio::test]
async fn timeout_kills_the_tree() {
    let s = TestServer::start().await;
    s.put_script(
        "forever",
        json!({"type": "bash", "timeoutSeconds": 1, "script": "sleep 600 & sleep 600"}),
    )
    .await;
    let id = s.submit("forever", None).await;
    let t = s.wait_done(&id, 30).await;
    assert_eq!(t["status"], "ERROR");
    assert_eq!(t["error"], "timed out after 1 s");
}

/// After a crash (the server process SIGKILLed), jobs left RUNNING end ERROR
/// "interrupted by server restart", their processes are killed, and waiting
/// jobs run after the restart.
#[tokio::test]
async fn restart_after_crash_leaves_no_running_job() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = ServerProcess::start(tmp.path(), &[("TASKWRIGHT_MAX_CONCURRENT_JOBS", "1")]).await;
    p.put_script("long", bash("sleep 600")).await;
    p.put_script("after", bash("echo ran after restart")).await;
    let running = p.submit("long").await;
    let waiting = p.submit("after").await;
    let t0 = Instant::now();
    while pids_of_job(&running).is_empty() && t0.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pids = pids_of_job(&running);
    assert!(!pids.is_empty());
    p.child.start_kill().unwrap();
    p.child.wait().await.unwrap();
    assert!(
        pids.iter().all(|p| alive(*p)),
        "the job's process outlives the crash, as in a real one"
    );

    let s2 = TestServer::start_with(test_config(tmp.path())).await;
    let t = s2.task(&running).await;
    assert_eq!(t["status"], "ERROR");
    assert_eq!(t["error"], "interrupted by server restart");
    tokio::time::sleep(Duration::from_millis(100)).await;
    for p in pids {
        assert!(
            !alive(p) || is_zombie(p),
            "process {p} of the crashed job survived"
        );
    }
    let t = s2.wait_done(&waiting, 30).await;
    assert_eq!(t["status"], "COMPLETED");
    assert!(s2.log(&waiting).await.contains("ran after restart"));
}

fn pids_of_job(id: &str) -> Vec<i32> {
    let needle = format!("MOLGENIS_JOB_ID={id}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let env = std::fs::read(e.path().join("environ")).ok()?;
            env.split(|b| *b == 0)
                .any(|v| v == needle.as_bytes())
                .then_some(pid)
        })
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}

/// A graceful stop (SIGTERM) stops running jobs' processes, ends those jobs
/// ERROR "interrupted by server shutdown" and leaves waiting jobs to run
/// after the next start.
#[tokio::test]
async fn shutdown_stops_running_jobs_and_keeps_waiting_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = ServerProcess::start(tmp.path(), &[("TASKWRIGHT_MAX_CONCURRENT_JOBS", "1")]).await;
    p.put_script("long", bash("sleep 600 & sleep 601")).await;
    p.put_script("after", bash("echo ran after restart")).await;
    let running = p.submit("long").await;
    let waiting = p.submit("after").await;
    let t0 = Instant::now();
    while pids_of_job(&running).len() < 3 && t0.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pids = pids_of_job(&running);
    assert_eq!(pids.len(), 3, "bash and its two sleeps");
    unsafe { libc::kill(p.pid(), libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(30), p.child.wait())
        .await
        .expect("the server stops within the grace period")
        .unwrap();
    assert!(status.success(), "{status:?}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived the shutdown");
    }

    let s2 = TestServer::start_with(test_config(tmp.path())).await;
    let t = s2.task(&running).await;
    assert_eq!(t["status"], "ERROR");
    assert_eq!(t["error"], "interrupted by server shutdown");
    let t = s2.wait_done(&waiting, 30).await;
    assert_eq!(t["status"], "COMPLETED");
}

/// A job cannot read the server's secrets from the server's own
/// `/proc/<pid>/environ` (its parent), even as root.
#[tokio::test]
async fn jobs_cannot_read_the_servers_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let p = ServerProcess::start(
        tmp.path(),
        &[
            ("TASKWRIGHT_ADMIN_PASSWORD", "secret-admin-password"),
            ("TASKWRIGHT_SMTP_PASSWORD", "secret-smtp-password"),
        ],
    )
    .await;
    p.put_script(
        "peek",
        bash("tr '\\0' '\\n' < /proc/$PPID/environ | grep TASKWRIGHT_ || echo unreadable"),
    )
    .await;
    let r = p
        .http
        .get(format!("{}/api/scripts/peek", p.url))
        .header("x-molgenis-token", "test-admin-token")
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(
        body.contains("TASKWRIGHT_ADMIN_TOKEN") || body.contains("unreadable"),
        "the job did not get to look: {body}"
    );
    for secret in [
        "test-admin-token",
        "secret-admin-password",
        "secret-smtp-password",
    ] {
        assert!(!body.contains(secret), "{secret} leaked to a job: {body}");
    }
    // The server still knows its token.
    let r = p
        .http
        .get(format!("{}/api/me", p.url))
        .header("x-molgenis-token", "test-admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Cancel works while dependencies are still installing (here: a package
/// server that never answers): the job ends CANCELLED at once.
#[tokio::test]
async fn cancel_during_dependency_install() {
    let s = TestServer::start().await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            held.push(c);
        }
    });
    s.put_script(
        "stuck",
        json!({"type": "python", "script": "print(1)", "dependencies":
            format!("slowpkg @ http://127.0.0.1:{port}/slowpkg-1.0-py3-none-any.whl")}),
    )
    .await;
    let id = s.submit("stuck", None).await;
    let t0 = Instant::now();
    while !s.log(&id).await.contains("installing dependencies") {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{}",
            s.log(&id).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t0 = Instant::now();
    let t: Value = s
        .post(&format!("/api/tasks/{id}/cancel"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["status"], "CANCELLED", "{t}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    hold.abort();
}

/// An OUTPUT_FILE replaced by a symbolic link is not kept (downloads would
/// read wherever it points); a hard-linked one is kept as a copy.
#[tokio::test]
async fn output_links_are_not_followed() {
    let s = TestServer::start().await;
    s.put_script(
        "linker",
        bash("rm \"$OUTPUT_FILE\"; ln -s /etc/hostname \"$OUTPUT_FILE\""),
    )
    .await;
    let id = s.submit("linker", None).await;
    let t = s.wait_done(&id, 30).await;
    assert_eq!(t["status"], "COMPLETED");
    assert!(t["output"].is_null(), "{t}");
    assert!(s.log(&id).await.contains("no output is kept"));
    assert!(!s.state.engine.output_path(&id).exists());

    s.put_script(
        "hardlinker",
        bash("echo kept > \"$HOME/../other\"; rm \"$OUTPUT_FILE\"; ln \"$HOME/../other\" \"$OUTPUT_FILE\""),
    )
    .await;
    let id = s.submit("hardlinker", None).await;
    assert_eq!(s.wait_done(&id, 30).await["status"], "COMPLETED");
    let kept = s.state.engine.output_path(&id);
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "kept\n");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&kept).unwrap().nlink(), 1);
}

/// Past the cap, the log keeps its head and tail and says how much was left out.
#[tokio::test]
async fn log_cap_keeps_head_and_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = test_config(tmp.path());
    cfg.log_max_bytes = 20_000;
    let s = TestServer::start_with(cfg).await;
    s.put_script(
        "chatty",
        bash("for i in $(seq 1 20000); do echo \"line $i\"; done"),
    )
    .await;
    let id = s.submit("chatty", None).await;
    let t = s.wait_done(&id, 60).await;
    assert_eq!(t["status"], "COMPLETED");
    assert_eq!(t["logTruncated"], true);
    let log = s.log(&id).await;
    assert!(log.starts_with("line 1\nline 2\n"), "{}", &log[..100]);
    assert!(log.ends_with("line 20000\n"));
    assert!(log.contains("bytes of log left out"));
    assert!(log.len() < 25_000, "log kept {} bytes", log.len());
    let total: i64 = (1..=20000)
        .map(|i: i64| format!("line {i}\n").len() as i64)
        .sum();
    let omitted = t["logOmittedBytes"].as_i64().unwrap();
    let kept: i64 = log
        .lines()
        .filter(|l| l.starts_with("line "))
        .map(|l| l.len() as i64 + 1)
        .sum();
    assert_eq!(
        kept + omitted,
        total,
        "kept + omitted must be everything printed"
    );
}

/// A python script with dependencies installs them once; the second run
/// reuses the environment and installs nothing.
#[tokio::test]
async fn second_python_run_installs_nothing() {
    let s = TestServer::start().await;
    s.put_script(
        "deps",
        json!({"type": "python", "dependencies": "six==1.16.0\n",
        "script": "import six\nprint('six', six.__version__)"}),
    )
    .await;
    let a = s.submit("deps", None).await;
    let t = s.wait_done(&a, 180).await;
    assert_eq!(t["status"], "COMPLETED", "{}", s.log(&a).await);
    assert!(s
        .log(&a)
        .await
        .contains("installing dependencies: six==1.16.0"));
    let b = s.submit("deps", None).await;
    assert_eq!(s.wait_done(&b, 60).await["status"], "COMPLETED");
    let log = s.log(&b).await;
    assert!(!log.contains("installing"), "{log}");
    assert!(log.contains("six 1.16.0"));
}

/// A failed install fails the job with the installer's message and leaves
/// no half-built environment to be reused.
#[tokio::test]
async fn failed_install_leaves_nothing_behind() {
    let s = TestServer::start().await;
    s.put_script(
        "baddeps",
        json!({"type": "python", "dependencies": "this-package-does-not-exist-taskwright==0.0.1",
        "script": "print('never')"}),
    )
    .await;
    let id = s.submit("baddeps", None).await;
    let t = s.wait_done(&id, 180).await;
    assert_eq!(t["status"], "ERROR");
    assert!(
        t["error"]
            .as_str()
            .unwrap()
            .contains("installing dependencies failed"),
        "{t}"
    );
    let venvs: Vec<_> = std::fs::read_dir(s.data_dir.join("venvs"))
        .unwrap()
        .flatten()
        .collect();
    for v in venvs {
        assert!(
            v.path().join(".taskwright-ready").exists(),
            "half-built {:?}",
            v.path()
        );
    }
}

/// Two jobs that need the same new environment build it once.
#[tokio::test]
async fn concurrent_jobs_build_one_environment() {
    let s = TestServer::start().await;
    s.put_script(
        "shared env",
        json!({"type": "python", "dependencies": "six==1.16.0",
        "script": "import six"}),
    )
    .await;
    let a = s.submit("shared env", None).await;
    let b = s.submit("shared env", None).await;
    assert_eq!(s.wait_done(&a, 180).await["status"], "COMPLETED");
    assert_eq!(s.wait_done(&b, 180).await["status"], "COMPLETED");
    let installs = [s.log(&a).await, s.log(&b).await]
        .iter()
        .filter(|l| l.contains("installing dependencies"))
        .count();
    assert_eq!(installs, 1);
}

/// `${jobId}` in the script text becomes the job id; the output file gets
/// the extension's content type.
#[tokio::test]
async fn job_id_placeholder_and_output_type() {
    let s = TestServer::start().await;
    s.put_script(
        "jid",
        json!({"type": "bash", "outputFileExtension": "json",
        "script": "echo '{\"job\": \"${jobId}\"}' > \"$OUTPUT_FILE\""}),
    )
    .await;
    let id = s.submit("jid", None).await;
    let t = s.wait_done(&id, 30).await;
    assert_eq!(t["output"]["contentType"], "application/json");
    let r = s
        .get(&format!("/api/tasks/{id}/output"))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["job"], id.as_str());
}

/// Retention deletes finished jobs beyond the configured count, with their outputs.
#[tokio::test]
async fn retention_keeps_the_newest() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = test_config(tmp.path());
    cfg.retention_max_jobs = 2;
    let s = TestServer::start_with(cfg).await;
    s.put_script("out", bash("echo x > \"$OUTPUT_FILE\"")).await;
    let mut ids = vec![];
    for _ in 0..4 {
        let id = s.submit("out", None).await;
        s.wait_done(&id, 30).await;
        ids.push(id);
    }
    assert_eq!(s.state.engine.sweep().await.unwrap(), 2);
    assert_eq!(
        s.get(&format!("/api/tasks/{}", ids[0]))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert!(!s.state.engine.output_path(&ids[0]).exists());
    assert_eq!(s.task(&ids[3]).await["status"], "COMPLETED");
}

/// An empty script is refused when saved; one stored anyway ends ERROR
/// with a message, never stuck WAITING.
#[tokio::test]
async fn empty_script_is_an_error() {
    let s = TestServer::start().await;
    let r = s
        .put("/api/scripts/empty")
        .json(&bash("   \n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "script");
    // Stored some other way (an older version, a hand-edited database), it
    // still cannot run.
    let script: app::model::Script =
        serde_json::from_value(json!({"name": "empty", "type": "bash", "script": "   \n"}))
            .unwrap();
    s.state
        .engine
        .store()
        .save_script(&script, "admin")
        .await
        .unwrap();
    let id = s.submit("empty", None).await;
    let t = s.wait_done(&id, 30).await;
    assert_eq!(t["status"], "ERROR");
    assert!(t["error"].as_str().unwrap().contains("empty"));
}

trait Lines {
    async fn store_lines(&self, id: &str) -> Vec<app::model::LogLine>;
}

impl Lines for TestServer {
    async fn store_lines(&self, id: &str) -> Vec<app::model::LogLine> {
        self.state
            .engine
            .store()
            .log_lines_from(id, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|(l, _)| l)
            .collect()
    }
}
