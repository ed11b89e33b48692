//! Failure mail against a real SMTP server: aiosmtpd, started by the test on
//! a free port, writes every message it receives to a directory.

mod common;

use common::TestServer;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use taskwright::config::SmtpTls;

/// A Python with aiosmtpd: `TASKWRIGHT_TEST_SMTPD`, else the one `make test` installs.
fn smtpd_python() -> String {
    std::env::var("TASKWRIGHT_TEST_SMTPD").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../.tools/venv/bin/python")
            .to_string_lossy()
            .into_owned()
    })
}

/// Handler that stores each message as `<n>.eml`, recipients in an `X-Rcpt-To` header first.
const SMTPD: &str = r#"
import asyncio, itertools, os, sys
from aiosmtpd.controller import Controller

out = sys.argv[2]
counter = itertools.count()

class Store:
    async def handle_DATA(self, server, session, envelope):
        path = os.path.join(out, "%d.eml" % next(counter))
        with open(path + ".tmp", "wb") as f:
            f.write(("X-Rcpt-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 OK"

controller = Controller(Store(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"#;

/// A running aiosmtpd; killed when dropped.
struct Smtpd {
    port: u16,
    dir: tempfile::TempDir,
    child: tokio::process::Child,
}

impl Smtpd {
    async fn start() -> Smtpd {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(smtpd_python())
            .arg("-c")
            .arg(SMTPD)
            .arg(port.to_string())
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("aiosmtpd's python starts (run `bash scripts/setup.sh test`)");
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let read = tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line);
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line.trim(), "ready", "aiosmtpd did not start");
        Smtpd { port, dir, child }
    }

    fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// Waits until `n` messages have arrived.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..300 {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} messages, got {}", self.messages().len());
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server that mails through 127.0.0.1:`port` without TLS.
async fn server_mailing_to(port: u16) -> (TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config(tmp.path());
    cfg.smtp_host = Some("127.0.0.1".into());
    cfg.smtp_port = Some(port);
    cfg.smtp_tls = SmtpTls::None;
    cfg.mail_from = "taskwright@example.org".into();
    cfg.public_url = Some("https://tasks.example.org/".into());
    (TestServer::start_with(cfg).await, tmp)
}

/// Waits until the job's JSON shows a mail outcome.
async fn mail_outcome(server: &TestServer, id: &str, secs: u64) -> Value {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        let task = server.task(id).await;
        if !task["mail"].is_null() {
            return task["mail"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} has no mail outcome after {secs} s");
}

/// A failing job mails its script's failureAddress: subject with script, status and server; body with exit code, log tail and link.
#[tokio::test]
async fn failed_job_sends_mail_with_log_tail() {
    let smtpd = Smtpd::start().await;
    let (server, _tmp) = server_mailing_to(smtpd.port).await;
    server
        .put_script(
            "nightly-export",
            json!({
                "type": "bash",
                "script": "for i in $(seq 1 60); do echo \"line $i\"; done; echo boom >&2; exit 3",
                "failureAddress": "ops@example.org",
            }),
        )
        .await;
    let id = server.submit("nightly-export", None).await;
    let job = server.wait_done(&id, 20).await;
    assert_eq!(job["status"], "ERROR");

    let mail = smtpd.wait_for(1).await.remove(0);
    assert!(mail.starts_with("X-Rcpt-To: ops@example.org\r\n"), "{mail}");
    assert!(mail.contains("From: taskwright@example.org"), "{mail}");
    let subject = mail.lines().find(|l| l.starts_with("Subject: ")).unwrap();
    assert_eq!(
        subject,
        "Subject: [Taskwright tasks.example.org] nightly-export ended ERROR"
    );
    let body = mail.replace("=\r\n", "").replace("\r\n", "\n");
    assert!(body.contains("exit code 3"), "{body}");
    assert!(body.contains("Trigger:   api"), "{body}");
    assert!(body.contains("line 60\nboom"), "{body}");
    assert!(
        body.contains("\nline 12\n"),
        "the tail keeps the last 50 lines: {body}"
    );
    assert!(
        !body.contains("\nline 11\n"),
        "the tail has only 50 lines: {body}"
    );
    assert!(
        body.contains(&format!("https://tasks.example.org/apps/tasks/jobs/{id}")),
        "{body}"
    );
    assert_eq!(
        mail_outcome(&server, &id, 10).await,
        json!({"status": "sent", "error": null})
    );
}

/// Successful and cancelled jobs send no mail; a failure without an address sends none either.
#[tokio::test]
async fn no_mail_for_success_cancel_or_missing_address() {
    let smtpd = Smtpd::start().await;
    let (server, _tmp) = server_mailing_to(smtpd.port).await;
    let def =
        |body: &str| json!({"type": "bash", "script": body, "failureAddress": "ops@example.org"});
    server.put_script("ok", def("echo fine")).await;
    server.put_script("slow", def("sleep 30")).await;
    server.put_script("fail", def("exit 1")).await;
    server
        .put_script("quiet", json!({"type": "bash", "script": "exit 1"}))
        .await;

    let ok = server.submit("ok", None).await;
    assert_eq!(server.wait_done(&ok, 20).await["status"], "COMPLETED");
    let slow = server.submit("slow", None).await;
    for _ in 0..200 {
        if server.task(&slow).await["status"] == "RUNNING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let r = server
        .post(&format!("/api/tasks/{slow}/cancel"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "cancel: {}", r.status());
    assert_eq!(server.wait_done(&slow, 20).await["status"], "CANCELLED");
    let quiet = server.submit("quiet", None).await;
    assert_eq!(server.wait_done(&quiet, 20).await["status"], "ERROR");

    // A failure afterwards is the marker: once its mail is in, the others would be too.
    let fail = server.submit("fail", None).await;
    server.wait_done(&fail, 20).await;
    assert_eq!(mail_outcome(&server, &fail, 15).await["status"], "sent");
    let mails = smtpd.wait_for(1).await;
    assert_eq!(mails.len(), 1, "only the failure mails: {mails:?}");
    assert!(mails[0].contains("fail ended ERROR"));
    for id in [&ok, &slow, &quiet] {
        assert!(
            server.task(id).await["mail"].is_null(),
            "job {id} has a mail outcome"
        );
    }
}

/// With the SMTP port dead the job still finishes at once, and the send error ends up on the job.
#[tokio::test]
async fn dead_smtp_port_does_not_delay_the_job() {
    let (server, _tmp) = server_mailing_to(free_port()).await;
    server
        .put_script(
            "fail",
            json!({"type": "bash", "script": "exit 2", "failureAddress": "ops@example.org"}),
        )
        .await;
    let started = Instant::now();
    let id = server.submit("fail", None).await;
    let job = server.wait_done(&id, 20).await;
    let done_ms = started.elapsed().as_millis();
    assert_eq!(job["status"], "ERROR");
    assert!(
        job["mail"].is_null(),
        "the job is done before mail is tried to the end"
    );
    assert!(done_ms < 2000, "the job took {done_ms} ms");

    let mail = mail_outcome(&server, &id, 30).await;
    let failed_ms = started.elapsed().as_millis();
    assert_eq!(mail["status"], "failed");
    let error = mail["error"].as_str().unwrap();
    assert!(error.contains("after 3 attempts"), "{error}");
    assert!(error.contains("127.0.0.1"), "{error}");
    eprintln!("job done after {done_ms} ms; mail given up after {failed_ms} ms");
}

/// Without an SMTP server configured, a failed job whose script has a
/// failure address says its mail is off and why, instead of showing nothing.
#[tokio::test]
async fn mail_off_is_recorded_on_the_job() {
    let s = TestServer::start().await;
    s.put_script(
        "fails",
        json!({"type": "bash", "script": "exit 4", "failureAddress": "ops@example.org"}),
    )
    .await;
    let id = s.submit("fails", None).await;
    assert_eq!(s.wait_done(&id, 30).await["status"], "ERROR");
    let mail = mail_outcome(&s, &id, 10).await;
    assert_eq!(mail["status"], "off", "{mail}");
    assert!(mail["error"]
        .as_str()
        .unwrap()
        .contains("TASKWRIGHT_SMTP_HOST"));
}
