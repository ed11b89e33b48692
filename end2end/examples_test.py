"""The examples, end to end, through nothing but Taskwright's public interfaces.

Starts the release server on a free port with a fresh data directory and a
real SMTP server (aiosmtpd), gets a token the way the README shows, loads
the examples with `taskwright examples load`, runs each with the README's
curl commands and checks the real results. Then it restarts the server and
checks that every job, log and output file is still there, unchanged.

Run by `make test`; alone: `.tools/venv/bin/python end2end/examples_test.py`
after `cargo leptos build --release`. Needs curl, and aiosmtpd in the Python
that runs it. Prints one line per check and a summary; exits 1 on a failure.
"""

import csv
import hashlib
import io
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections import defaultdict
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("TASKWRIGHT_BIN", ROOT / "target/release/taskwright"))
UV = os.environ.get("TASKWRIGHT_TEST_UV", str(ROOT / ".tools/venv/bin/uv"))
PASSWORD = "examples-admin-password"
FINAL = ("COMPLETED", "ERROR", "CANCELLED", "SKIPPED")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self):
        self.messages = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


class Server:
    """The release binary, on its own port, data directory and log file."""

    def __init__(self, data_dir, smtp_port):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = dict(
            os.environ,
            TASKWRIGHT_BIND=f"127.0.0.1:{self.port}",
            TASKWRIGHT_DATA_DIR=str(data_dir),
            TASKWRIGHT_ADMIN_PASSWORD=PASSWORD,
            TASKWRIGHT_UV=UV,
            TASKWRIGHT_SITE_ROOT=str(ROOT / "target/site"),
            TASKWRIGHT_SMTP_HOST="127.0.0.1",
            TASKWRIGHT_SMTP_PORT=str(smtp_port),
            TASKWRIGHT_SMTP_TLS="none",
            TASKWRIGHT_MAX_CONCURRENT_JOBS="4",
        )
        self.env.pop("TASKWRIGHT_ADMIN_TOKEN", None)
        self.proc = None

    def start(self):
        log = open(self.data_dir.parent / "server.log", "ab")
        self.proc = subprocess.Popen([str(BIN)], env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}; see {log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not start listening within 60 s")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        assert code == 0, f"the server exited with {code} on SIGTERM"


def curl(*args, ok=True):
    """Runs curl as the README does; returns (HTTP status, body bytes)."""
    cmd = ["curl", "-sS", "-w", "\n%{http_code}", *args]
    out = subprocess.run(cmd, capture_output=True, check=False, timeout=600)
    if out.returncode != 0:
        raise AssertionError(f"{shlex.join(cmd)} failed: {out.stderr.decode()}")
    body, _, code = out.stdout.rpartition(b"\n")
    status = int(code)
    if ok and not 200 <= status < 300:
        raise AssertionError(f"{shlex.join(cmd)} answered {status}: {body.decode(errors='replace')}")
    return status, body


class Suite:
    def __init__(self):
        self.passed = []
        self.failed = []

    def check(self, name, fn):
        t0 = time.monotonic()
        try:
            fn()
        except Exception:  # noqa: BLE001 - every failure is reported, then the run goes on
            self.failed.append(name)
            print(f"FAIL  {name} ({time.monotonic() - t0:.1f} s)")
            traceback.print_exc()
        else:
            self.passed.append(name)
            print(f"ok    {name} ({time.monotonic() - t0:.1f} s)")


def main():
    suite = Suite()
    tmp = Path(tempfile.mkdtemp(prefix="taskwright-examples-"))
    mailbox = Mailbox()
    server = Server(tmp / "data", mailbox.port)
    server.start()
    S = server.url
    st = {}

    def api(path, *args, ok=True):
        return curl("-H", f"x-molgenis-token: {st['token']}", *args, f"{S}{path}", ok=ok)

    def api_json(path, *args):
        return json.loads(api(path, *args)[1])

    def run(script, parameters=None):
        args = ["-X", "POST"] + (["-d", parameters] if parameters is not None else [])
        return api_json(f"/api/scripts/{script}", *args)["id"]

    def wait(job_id, timeout=420):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = api_json(f"/api/tasks/{job_id}")
            if task["status"] in FINAL:
                return task
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not finish within {timeout} s")

    def token_as_readme_shows():
        cookies = tmp / "cookies.txt"
        curl("-c", str(cookies), "-H", "content-type: application/json",
             "-d", json.dumps({"username": "admin", "password": PASSWORD}), f"{S}/api/signin")
        _, body = curl("-b", str(cookies), "-H", "content-type: application/json",
                       "-d", '{"username":"admin","name":"examples"}', f"{S}/api/tokens")
        st["token"] = json.loads(body)["token"]

    def load_examples():
        out = subprocess.run([str(BIN), "examples", "load", "--url", S, "--token", st["token"]],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        for name in ("data-summary", "backup", "submit-job", "nightly-check", "molgenis-client"):
            assert f"created {name}" in out.stdout, out.stdout
        names = sorted(s["name"] for s in api_json("/api/scripts"))
        assert names == ["backup", "data-summary", "molgenis-client", "nightly-check", "submit-job"], names
        # Loading again replaces them and loses nothing.
        again = subprocess.run([str(BIN), "examples", "load", "--url", S, "--token", st["token"]],
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and "replaced data-summary" in again.stdout, again
        bad = subprocess.run([str(BIN), "examples", "load", "--url", S, "--token", "wrong"],
                             capture_output=True, text=True, timeout=120)
        assert bad.returncode != 0 and "401" in bad.stderr, bad

    def expected_summary(column):
        rows = list(csv.DictReader(open(ROOT / "examples/data-summary/bundle/data/measurements.csv")))
        groups = defaultdict(list)
        for r in rows:
            groups[r["species"]].append(float(r[column]))
        return {sp: (len(v), statistics.mean(v), statistics.stdev(v), min(v), max(v))
                for sp, v in groups.items()}

    def check_summary_csv(text, column):
        got = list(csv.DictReader(io.StringIO(text)))
        want = expected_summary(column)
        assert [r["species"] for r in got] == sorted(want), got
        for r in got:
            n, mean, sd, lo, hi = want[r["species"]]
            assert r["column"] == column, r
            assert int(r["count"]) == n, (r, n)
            for key, value in (("mean", mean), ("std", sd), ("min", lo), ("max", hi)):
                assert abs(float(r[key]) - value) <= 0.006, (r, key, value)

    def data_summary():
        job = run("data-summary", "weight_g")
        task = wait(job)
        assert task["status"] == "COMPLETED", task
        assert task["output"]["filename"].endswith(".csv"), task["output"]
        _, csv_bytes = api(f"/api/tasks/{job}/output")
        check_summary_csv(csv_bytes.decode(), "weight_g")
        _, log = api(f"/api/tasks/{job}/log")
        assert b"36 rows, summary of weight_g per species" in log, log
        st["summary_job"] = job

    def data_summary_sync():
        # The README's synchronous call answers with the output file itself.
        _, body = api("/api/script/data-summary", "-X", "GET", "-d", "length_mm")
        check_summary_csv(body.decode(), "length_mm")

    def data_summary_bad_column():
        task = wait(run("data-summary", "colour"))
        assert task["status"] == "ERROR" and task["exitCode"] == 2, task
        _, log = api(f"/api/tasks/{task['id']}/log")
        assert b"'colour' is not a numeric column; choose one of: weight_g, length_mm" in log, log

    def backup():
        src = tmp / "to-back-up"
        (src / "nested/deeper").mkdir(parents=True)
        (src / "a.txt").write_text("first file\n")
        (src / "nested/b.csv").write_text("x,y\n1,2\n")
        (src / "nested/deeper/c.bin").write_bytes(bytes(range(256)) * 40)
        job = run("backup", str(src))
        task = wait(job)
        assert task["status"] == "COMPLETED", task
        assert task["output"]["filename"].endswith(".tar.gz"), task["output"]
        _, archive = api(f"/api/tasks/{job}/output")
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            members = sorted(m.name for m in tar.getmembers())
            c = tar.extractfile("to-back-up/nested/deeper/c.bin").read()
        assert members == ["to-back-up", "to-back-up/a.txt", "to-back-up/nested",
                           "to-back-up/nested/b.csv", "to-back-up/nested/deeper",
                           "to-back-up/nested/deeper/c.bin"], members
        assert c == bytes(range(256)) * 40

    def backup_missing_dir():
        task = wait(run("backup", str(tmp / "no-such-dir")))
        assert task["status"] == "ERROR" and task["exitCode"] == 3, task
        assert "exit code 3" in (task["error"] or ""), task
        lines = [s["description"] for s in task["subTasks"] if s["stream"] == "stderr"]
        assert f"backup: directory not found: {tmp / 'no-such-dir'}" in lines, lines

    def submit_job():
        parent = run("submit-job", "weight_g")
        task = wait(parent)
        assert task["status"] == "COMPLETED", task
        started = [s["description"] for s in task["subTasks"] if s["description"].startswith("started data-summary as job ")]
        assert len(started) == 1, task["subTasks"]
        child_id = started[0].rsplit(" ", 1)[1]
        child = api_json(f"/api/tasks/{child_id}")
        assert child["script"] == "data-summary" and child["status"] == "COMPLETED", child
        assert child["submitUser"] == task["submitUser"] == "admin", (child, task)
        assert child["parameters"] == "weight_g", child
        assert child["submitTimeMilliseconds"] >= task["startTimeMilliseconds"], (child, task)
        _, mine = api(f"/api/tasks/{parent}/output")
        _, theirs = api(f"/api/tasks/{child_id}/output")
        assert mine == theirs and mine.startswith(b"species,column,count"), (mine, theirs)

    def nightly_check_failure_mail():
        task = wait(run("nightly-check", "999999999"))
        assert task["status"] == "ERROR" and task["exitCode"] == 1, task
        deadline = time.monotonic() + 30
        while not mailbox.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        assert mailbox.messages, "no failure mail arrived"
        rcpt, text = mailbox.messages[-1]
        assert rcpt == ["admin@example.org"], rcpt
        assert "nightly-check" in text and "below the minimum of 999999999 MB" in text, text
        assert wait(task["id"])["mail"]["status"] == "sent"

    def nightly_check_cron():
        definition = api_json("/api/scripts/nightly-check/definition")
        assert definition["cron"] == "0 0 2 * * ?", definition
        scheduled = api_json("/api/tasks/scheduled")["scheduled"]
        nightly = [s for s in scheduled if s["name"] == "nightly-check"]
        assert nightly and nightly[0]["next"][0].endswith("T02:00:00+00:00"), scheduled
        # Every 2 seconds for a while, as the README shows, then back to nightly.
        every_2s = dict(definition, cron="*/2 * * * * *")
        api("/api/scripts/nightly-check", "-X", "PUT", "-H", "content-type: application/json",
            "-d", json.dumps(every_2s))
        deadline = time.monotonic() + 60
        runs = []
        while time.monotonic() < deadline:
            jobs = api_json("/api/tasks?script=nightly-check&limit=50")["tasks"]
            runs = [j for j in jobs if j["trigger"] == "cron" and j["status"] == "COMPLETED"]
            if len(runs) >= 2:
                break
            time.sleep(0.5)
        api("/api/scripts/nightly-check", "-X", "PUT", "-H", "content-type: application/json",
            "-d", json.dumps(definition))
        assert len(runs) >= 2, jobs
        for j in runs[:2]:
            full = api_json(f"/api/tasks/{j['id']}")
            assert full["submitUser"] == "admin", full
            _, report = api(f"/api/tasks/{j['id']}/output")
            assert b"free space on" in report and b"(minimum 500 MB)" in report, report
        # Let a slot that had already fired finish, so nothing is running at the restart.
        time.sleep(3)

    def molgenis_client():
        task = wait(run("molgenis-client"))
        assert task["status"] == "COMPLETED", task
        _, out = api(f"/api/tasks/{task['id']}/output")
        assert out.startswith(b"server version: ") and b"schemas: \n" in out, out
        _, log = api(f"/api/tasks/{task['id']}/log")
        assert b"Taskwright" in log, log

    def snapshot():
        page = api_json("/api/tasks?limit=1000")
        assert all(j["status"] in FINAL for j in page["tasks"]), page
        snap = {}
        for j in page["tasks"]:
            task = api_json(f"/api/tasks/{j['id']}")
            _, log = api(f"/api/tasks/{j['id']}/log")
            out = api(f"/api/tasks/{j['id']}/output", ok=False)
            snap[j["id"]] = (task, hashlib.sha256(log).hexdigest(),
                             hashlib.sha256(out[1]).hexdigest() if out[0] == 200 else out[0])
        return snap

    def restart_keeps_everything():
        before = snapshot()
        assert len(before) >= 10, len(before)
        server.stop()
        server.start()
        after = snapshot()
        assert sorted(after) == sorted(before), (sorted(before), sorted(after))
        for job_id, b in before.items():
            assert after[job_id] == b, (job_id, b, after[job_id])
        definition = api_json("/api/scripts/nightly-check/definition")
        assert definition["cron"] == "0 0 2 * * ?", definition
        # The token made before the restart still works; the schedule is back.
        scheduled = api_json("/api/tasks/scheduled")["scheduled"]
        nightly = [s for s in scheduled if s["name"] == "nightly-check"]
        assert nightly and nightly[0]["next"][0].endswith("T02:00:00+00:00"), scheduled

    try:
        for name, fn in [
            ("token as the README shows", token_as_readme_shows),
            ("taskwright examples load", load_examples),
            ("1 data-summary: summary CSV rows", data_summary),
            ("1 data-summary: synchronous run answers the CSV", data_summary_sync),
            ("1 data-summary: unknown column fails with exit 2", data_summary_bad_column),
            ("2 backup: archive members", backup),
            ("2 backup: missing directory fails with exit 3", backup_missing_dir),
            ("3 submit-job: starts data-summary with its token", submit_job),
            ("4 nightly-check: failure mail", nightly_check_failure_mail),
            ("4 nightly-check: cron runs", nightly_check_cron),
            ("5 molgenis-client: the Python client signs in", molgenis_client),
            ("restart keeps every job, log and output", restart_keeps_everything),
        ]:
            if "token" not in st and name != "token as the README shows":
                suite.failed.append(name)
                print(f"skip  {name} (no token)")
                continue
            suite.check(name, fn)
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
        mailbox.controller.stop()
    print(f"\nexamples: {len(suite.passed)} passed, {len(suite.failed)} failed"
          f" (server log: {tmp / 'server.log'})")
    if not suite.failed:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
