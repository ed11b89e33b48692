//! The real MOLGENIS Python client (`molgenis-emx2-pyclient` from PyPI)
//! against a real Taskwright: inside a job with the job's token, and from
//! outside with a password or a token. Needs network access to PyPI the
//! first time; later runs reuse the uv cache under the target directory.

mod common;

use common::{uv_path, TestServer, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

/// A venv with the client installed, built once per test run (and kept
/// between runs) under the target directory. Returns its python.
async fn client_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    tokio::task::spawn_blocking(|| PYTHON.get_or_init(build_client_venv).clone())
        .await
        .unwrap()
}

fn build_client_venv() -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let venv = base.join("pyclient-venv");
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import molgenis_emx2_pyclient"])
        .status()
        .is_ok_and(|s| s.success());
    if ready {
        return python;
    }
    let started = Instant::now();
    let uv = |args: &[&str]| {
        let out = Command::new(uv_path())
            .args(args)
            .env("UV_CACHE_DIR", base.join("uv-cache"))
            .output()
            .expect("uv runs");
        assert!(
            out.status.success(),
            "uv {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let venv_str = venv.to_str().unwrap();
    uv(&[
        "venv", "--quiet", "--clear", "--python", "python3", venv_str,
    ]);
    uv(&[
        "pip",
        "install",
        "--quiet",
        "--python",
        python.to_str().unwrap(),
        "molgenis-emx2-pyclient",
    ]);
    eprintln!(
        "built the client venv in {} ms",
        started.elapsed().as_millis()
    );
    python
}

/// Runs `code` with the client's python; `URL` and the given variables are
/// in its environment. Returns (stdout, stderr); panics when it fails.
async fn run_client(code: &str, url: &str, vars: &[(&str, &str)]) -> (String, String) {
    let python = client_python().await;
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg("-c").arg(code).env("URL", url);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("python runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "the client script failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

const JOB_SCRIPT: &str = r#"
import os
from molgenis_emx2_pyclient import Client

client = Client(os.environ["MOLGENIS_SERVER_URL"], token=os.environ["MOLGENIS_TOKEN"])
print(client.status)
answer = client.session.post(client.api_graphql, json={"query": "{ _session { email roles } }"})
print("session:", answer.json()["data"]["_session"])
with open(os.environ["OUTPUT_FILE"], "w") as out:
    out.write("schemas: " + ",".join(client.schema_names) + "\n")
"#;

/// A job whose script depends on the client starts it with the job's token,
/// prints its status and writes the (empty) schema list; the second run
/// reuses the environment. The real client then follows the task to its end.
#[tokio::test]
async fn job_uses_pyclient_with_its_token() {
    let s = TestServer::start().await;
    s.put_script(
        "pyclient job",
        json!({"type": "python", "dependencies": "molgenis-emx2-pyclient\n",
               "outputFileExtension": "txt", "script": JOB_SCRIPT}),
    )
    .await;

    let started = Instant::now();
    let first = s.submit("pyclient job", None).await;
    let task = s.wait_done(&first, 600).await;
    let first_ms = started.elapsed().as_millis();
    let log = s.log(&first).await;
    assert_eq!(task["status"], "COMPLETED", "{log}");
    assert!(log.contains("installing dependencies"), "{log}");
    assert!(log.contains("User: token"), "{log}");
    assert!(log.contains("Status: session-less"), "{log}");
    assert!(log.contains("Version: Taskwright "), "{log}");
    assert!(
        log.contains("session: {'email': 'admin', 'roles': ['admin']}"),
        "{log}"
    );
    let output = s
        .get(&format!("/api/tasks/{first}/output"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(output, "schemas: \n");

    let started = Instant::now();
    let second = s.submit("pyclient job", None).await;
    let task = s.wait_done(&second, 120).await;
    let second_ms = started.elapsed().as_millis();
    let log = s.log(&second).await;
    assert_eq!(task["status"], "COMPLETED", "{log}");
    assert!(!log.contains("installing"), "{log}");
    eprintln!(
        "pyclient job: first run {first_ms} ms (builds the environment), second {second_ms} ms"
    );

    // The client's own task follower queries `_tasks` with nested subTasks.
    let follow = r#"
import asyncio, logging, os
from molgenis_emx2_pyclient import Client
logging.basicConfig(level=logging.INFO, format="%(message)s")
client = Client(os.environ["URL"], token=os.environ["TOKEN"])
asyncio.run(client._report_task_progress(os.environ["TASK"]))
"#;
    let (_, stderr) = run_client(
        follow,
        &s.url,
        &[("TOKEN", &s.admin_token), ("TASK", &first)],
    )
    .await;
    assert!(
        stderr.contains("Completed task: script \"pyclient job\" completed"),
        "{stderr}"
    );
}

const SIGNIN_SCRIPT: &str = r#"
import os, sys
from molgenis_emx2_pyclient import Client
from molgenis_emx2_pyclient.exceptions import SigninError

def one_line(text):
    return text.strip().replace("\n", " | ")

def session(client):
    answer = client.session.post(client.api_graphql, json={"query": "{ _session { email roles } }"})
    return answer.json()["data"]["_session"]

with Client(os.environ["URL"]) as client:
    print("anonymous:", one_line(client.status))
    try:
        client.signin("admin", "not the password")
        print("the wrong password was accepted")
        sys.exit(1)
    except SigninError as e:
        print("wrong password:", one_line(e.msg))
    client.signin("admin", os.environ["PASSWORD"])
    print("signed in:", one_line(client.status))
    print("session:", session(client))
    client.signout()
    print("signed out:", client.signin_status)
    print("session after:", session(client))
"#;

/// From outside a job, `with Client(url)`: a wrong password raises the
/// client's `SigninError`; the right one signs in, `status` says so, and
/// `signout` ends the session.
#[tokio::test]
async fn client_signs_in_and_out_with_a_password() {
    let s = TestServer::start().await;
    let (out, _) = run_client(SIGNIN_SCRIPT, &s.url, &[("PASSWORD", ADMIN_PASSWORD)]).await;
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"))
            .to_string()
    };
    assert!(
        line("anonymous:").contains("User: anonymous | Status: signed out"),
        "{out}"
    );
    assert!(
        line("wrong password:").contains("unknown user or wrong password"),
        "{out}"
    );
    let signed_in = line("signed in:");
    assert!(
        signed_in.contains("User: admin | Status: signed in"),
        "{out}"
    );
    assert!(signed_in.contains("Version: Taskwright "), "{out}");
    assert_eq!(
        line("session:"),
        "session: {'email': 'admin', 'roles': ['admin']}"
    );
    assert_eq!(line("signed out:"), "signed out: signed out");
    assert_eq!(
        line("session after:"),
        "session after: {'email': 'anonymous', 'roles': []}"
    );
}

const TOKEN_SCRIPT: &str = r#"
import os
from molgenis_emx2_pyclient import Client
from molgenis_emx2_pyclient.exceptions import InvalidTokenException
try:
    Client(os.environ["URL"], token=os.environ["TOKEN"])
    print("accepted")
except InvalidTokenException as e:
    print("refused:", e.msg)
"#;

/// A job's token stops working when the job ends: the client's constructor
/// (its first call) raises `InvalidTokenException`, while a live token works.
#[tokio::test]
async fn ended_job_token_is_refused_by_the_client() {
    let s = TestServer::start().await;
    s.put_script(
        "leak token",
        json!({"type": "bash", "outputFileExtension": "txt",
               "script": "printf %s \"$MOLGENIS_TOKEN\" > \"$OUTPUT_FILE\""}),
    )
    .await;
    let id = s.submit("leak token", None).await;
    assert_eq!(s.wait_done(&id, 30).await["status"], "COMPLETED");
    let token = s
        .get(&format!("/api/tasks/{id}/output"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!token.is_empty(), "the job had no token");

    let (out, _) = run_client(TOKEN_SCRIPT, &s.url, &[("TOKEN", &token)]).await;
    assert_eq!(out.trim(), "refused: Invalid token or token expired.");

    let r = s
        .http
        .post(format!("{}/api/graphql", s.url))
        .header("x-molgenis-token", &token)
        .json(&json!({"query": "{ _schemas { name } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("belonged to a job that has ended"),
        "{body}"
    );

    let (out, _) = run_client(TOKEN_SCRIPT, &s.url, &[("TOKEN", &s.admin_token)]).await;
    assert_eq!(out.trim(), "accepted");
}
