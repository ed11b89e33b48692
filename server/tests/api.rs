//! The REST API over real HTTP: every endpoint, status code and role.

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

async fn token_for(s: &TestServer, username: &str, role: &str) -> String {
    let r = s
        .post("/api/users")
        .json(&json!({"username": username, "password": "a-long-password", "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .post("/api/tokens")
        .json(&json!({"username": username}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// POST on both the singular and plural path starts a job and answers with
/// its id and url at once; `+` and `%20` both mean a space.
#[tokio::test]
async fn run_async_on_both_paths() {
    let s = TestServer::start().await;
    s.put_script(
        "hello world",
        json!({"type": "bash", "script": "echo \"hi $1\""}),
    )
    .await;
    for path in ["/api/script/hello%20world", "/api/scripts/hello+world"] {
        let r = s
            .post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("there")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        let id = v["id"].as_str().unwrap();
        assert_eq!(v["url"], format!("/api/tasks/{id}"));
        let t = s.wait_done(id, 30).await;
        assert_eq!(t["status"], "COMPLETED");
        assert_eq!(t["parameters"], "there");
        assert!(t["subTasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["description"] == "hi there"));
    }
}

/// GET runs synchronously: the output file, the task JSON, a non-2xx error
/// with the log tail, or 202 with a Location when it outlives the wait.
#[tokio::test]
async fn run_sync_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config(tmp.path());
    cfg.sync_wait_seconds = 1;
    let s = TestServer::start_with(cfg).await;
    s.put_script("csv", json!({"type": "bash", "outputFileExtension": "csv", "script": "printf 'a,b\\n%s,2\\n' \"$1\" > \"$OUTPUT_FILE\""})).await;
    let r = s.get("/api/script/csv?parameters=7").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv\""));
    assert_eq!(r.text().await.unwrap(), "a,b\n7,2\n");
    // Parameters in the body, as the seed's curl example sends them.
    let r = s.get("/api/scripts/csv").body("9").send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "a,b\n9,2\n");

    s.put_script("plain", json!({"type": "bash", "script": "echo plain"}))
        .await;
    let r = s.get("/api/scripts/plain").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "COMPLETED");

    s.put_script(
        "fails",
        json!({"type": "bash", "script": "echo about to fail; exit 4"}),
    )
    .await;
    let r = s.get("/api/scripts/fails").send().await.unwrap();
    assert_eq!(r.status(), 500);
    let v: Value = r.json().await.unwrap();
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("exit code 4"));
    assert_eq!(v["status"], "ERROR");
    assert!(v["log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "about to fail"));

    s.put_script("slow", json!({"type": "bash", "script": "sleep 3"}))
        .await;
    let r = s.get("/api/scripts/slow").send().await.unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with("/api/tasks/"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "RUNNING");
}

/// Task endpoints: log with offset, events stream, cancel, delete, list, clear.
#[tokio::test]
async fn task_endpoints() {
    let s = TestServer::start().await;
    s.put_script(
        "lines",
        json!({"type": "bash", "script": "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three"}),
    )
    .await;
    let id = s.submit("lines", None).await;
    s.wait_done(&id, 30).await;
    let r = s.get(&format!("/api/tasks/{id}/log")).send().await.unwrap();
    let next: usize = r.headers()["x-log-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let full = r.text().await.unwrap();
    assert_eq!(full, "one\ntwo\nthree\n");
    assert_eq!(next, full.len());
    let part = s
        .get(&format!("/api/tasks/{id}/log?offset=4"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(part, "two\nthree\n");
    let part = s
        .get(&format!("/api/tasks/{id}/log?offset=5"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(part, "wo\nthree\n");

    let events = s
        .get(&format!("/api/tasks/{id}/events"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events.contains("event: status\ndata: COMPLETED"));
    assert!(events.contains("\"text\":\"two\"") && events.contains("\"stream\":\"stderr\""));

    assert_eq!(
        s.get(&format!("/api/tasks/{id}/output"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(s.get("/api/tasks/nope").send().await.unwrap().status(), 404);

    s.put_script("sleeper", json!({"type": "bash", "script": "sleep 30"}))
        .await;
    let running = s.submit("sleeper", None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s.delete(&format!("/api/tasks/{running}"))
            .send()
            .await
            .unwrap()
            .status(),
        409
    );
    let list: Value = s
        .get("/api/tasks?limit=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(list["tasks"][0]["id"], running.as_str(), "newest first");
    assert_eq!(list["clearUrl"], "/api/tasks/clear");
    let list: Value = s
        .get("/api/tasks?status=COMPLETED")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(
        s.get("/api/tasks?status=BOGUS")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        s.get("/api/tasks?limit=5000")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    let cleared: Value = s
        .post("/api/tasks/clear")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["deleted"], 1);
    assert_eq!(
        s.task(&running).await["status"],
        "RUNNING",
        "clear leaves running jobs"
    );
    let r = s
        .post(&format!("/api/tasks/{running}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "CANCELLED");
    assert_eq!(
        s.delete(&format!("/api/tasks/{running}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        s.get(&format!("/api/tasks/{running}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// Script definitions: create 201, replace 200, read, list, invalid fields
/// named in a 400, extra file upload and removal, delete.
#[tokio::test]
async fn script_definitions() {
    let s = TestServer::start().await;
    let def = json!({"type": "python", "script": "print(1)", "outputFileExtension": "txt", "failureAddress": "ops@example.org"});
    assert_eq!(
        s.put("/api/scripts/report")
            .json(&def)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        s.put("/api/scripts/report")
            .json(&def)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let got: Value = s
        .get("/api/scripts/report/definition")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["outputFileExtension"], "txt");
    assert_eq!(got["savedBy"], "admin");
    let list: Value = s
        .get("/api/scripts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    let bad = json!({"type": "python", "script": "x", "outputFileExtension": ".csv", "failureAddress": "nobody", "cron": "not a cron"});
    let r = s
        .put("/api/scripts/report")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    let fields: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["outputFileExtension", "failureAddress", "cron"]);
    let got: Value = s
        .get("/api/scripts/report/definition")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        got["outputFileExtension"], "txt",
        "a refused save changes nothing"
    );

    let r = s
        .put("/api/scripts/bad%2Fname")
        .json(&def)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("'/'"));
    let r = s
        .put("/api/scripts/x")
        .json(&json!({"type": "perl", "script": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .put("/api/scripts/x")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name("data.txt"),
    );
    let r = s
        .put("/api/scripts/report/extra-file")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got: Value = s
        .get("/api/scripts/report/definition")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["extraFile"], json!({"name": "data.txt", "size": 3}));
    assert_eq!(
        s.delete("/api/scripts/report/extra-file")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        s.delete("/api/scripts/report")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        s.get("/api/scripts/report/definition")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        s.post("/api/scripts/report").send().await.unwrap().status(),
        404
    );
}

/// Bodies over the limits get 413 with a message.
#[tokio::test]
async fn body_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config(tmp.path());
    cfg.max_parameters_bytes = 1000;
    cfg.max_extra_file_bytes = 2000;
    let s = TestServer::start_with(cfg).await;
    s.put_script("p", json!({"type": "bash", "script": "true"}))
        .await;
    let r = s
        .post("/api/scripts/p")
        .body("x".repeat(1001))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("limit of 1000 bytes"));
    let r = s
        .put("/api/scripts/p/extra-file?filename=a.bin")
        .body(vec![0u8; 3000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

/// Parameters are capped by what Linux can pass (one argument or variable is
/// at most 128 KiB): the largest allowed arrives whole, one byte more is a
/// 413, and a NUL byte is a 400, all before any job is queued.
#[tokio::test]
async fn parameters_are_refused_before_a_job_when_no_process_could_get_them() {
    let s = TestServer::start().await;
    s.put_script(
        "size",
        json!({"type": "bash", "script": "printf '%s' \"$1\" | wc -c; echo -n \"$MOLGENIS_PARAMETERS\" | wc -c"}),
    )
    .await;
    let max = taskwright::engine::MAX_PARAMETERS_BYTES;
    let r = s
        .get("/api/scripts/size")
        .body("x".repeat(max))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: serde_json::Value = r.json().await.unwrap();
    assert_eq!(t["status"], "COMPLETED", "{t}");
    let id = t["id"].as_str().unwrap();
    assert_eq!(s.log(id).await.matches(&max.to_string()).count(), 2);

    let r = s
        .post("/api/scripts/size")
        .body("x".repeat(max + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = s
        .post("/api/scripts/size")
        .body("a\0b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("NUL"));
    let jobs: serde_json::Value = s
        .get("/api/tasks")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs["tasks"].as_array().unwrap().len(), 1, "{jobs}");
}

/// Every role against every endpoint: viewer reads, runner also runs and
/// cancels, admin does everything; no credentials → 401, bad token → 401.
#[tokio::test]
async fn roles_against_endpoints() {
    let s = TestServer::start().await;
    s.put_script("r", json!({"type": "bash", "script": "sleep 20"}))
        .await;
    let viewer = token_for(&s, "vera", "viewer").await;
    let runner = token_for(&s, "rune", "runner").await;
    let job = s.submit("r", None).await;

    // (method, path, body, lowest role allowed)
    let cases: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", "/api/scripts".into(), None, "viewer"),
        ("GET", "/api/scripts/r/definition".into(), None, "viewer"),
        ("GET", "/api/tasks".into(), None, "viewer"),
        ("GET", format!("/api/tasks/{job}"), None, "viewer"),
        ("GET", format!("/api/tasks/{job}/log"), None, "viewer"),
        ("GET", "/api/tasks/scheduled".into(), None, "viewer"),
        ("POST", "/api/scripts/r".into(), None, "runner"),
        ("POST", "/api/script/r".into(), None, "runner"),
        (
            "PUT",
            "/api/scripts/new".into(),
            Some(json!({"type": "bash", "script": "true"})),
            "admin",
        ),
        ("DELETE", "/api/scripts/nonexistent".into(), None, "admin"),
        ("POST", "/api/tasks/clear".into(), None, "admin"),
        ("GET", "/api/users".into(), None, "admin"),
        (
            "POST",
            "/api/tokens".into(),
            Some(json!({"username": "vera"})),
            "admin",
        ),
        ("GET", "/api/tokens".into(), None, "admin"),
    ];
    let rank = |r: &str| {
        ["viewer", "runner", "admin"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };
    for (method, path, body, lowest) in &cases {
        for (who, token) in [
            ("none", None),
            ("bad", Some("twt_bad")),
            ("viewer", Some(viewer.as_str())),
            ("runner", Some(runner.as_str())),
            ("admin", Some("test-admin-token")),
        ] {
            let mut req = s
                .http
                .request(method.parse().unwrap(), format!("{}{path}", s.url));
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let status = req.send().await.unwrap().status();
            let expected_ok =
                matches!(who, "viewer" | "runner" | "admin") && rank(who) >= rank(lowest);
            match who {
                "none" | "bad" => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{who} {method} {path}")
                }
                _ if expected_ok => assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{who} {method} {path}: {status}"
                ),
                _ => assert_eq!(status, StatusCode::FORBIDDEN, "{who} {method} {path}"),
            }
        }
    }
    // Cancel is a runner's right; deleting a job is an admin's.
    let r = s
        .http
        .post(format!("{}/api/tasks/{job}/cancel", s.url))
        .header("x-molgenis-token", &viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .http
        .post(format!("{}/api/tasks/{job}/cancel", s.url))
        .header("x-molgenis-token", &runner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .http
        .delete(format!("{}/api/tasks/{job}", s.url))
        .header("x-molgenis-token", &runner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The health check is open.
    assert_eq!(
        s.http
            .get(format!("{}/api/health", s.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// A token's last use is recorded; tokens can be revoked; a revoked token is refused.
#[tokio::test]
async fn revoked_tokens_are_refused() {
    let s = TestServer::start().await;
    let t = token_for(&s, "tom", "viewer").await;
    let list: Value = s
        .get("/api/tokens?username=tom")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list[0]["id"].as_i64().unwrap();
    assert!(
        list.to_string().find(&t).is_none(),
        "the token itself is never listed"
    );
    let ok = s
        .http
        .get(format!("{}/api/scripts", s.url))
        .header("x-molgenis-token", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(list[0]["lastUsedMs"].is_null(), "{list}");
    // The use is recorded in the background, so look again for a moment.
    let t0 = std::time::Instant::now();
    loop {
        let list: Value = s
            .get("/api/tokens?username=tom")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if list[0]["lastUsedMs"].as_i64().is_some() {
            break;
        }
        assert!(t0.elapsed().as_secs() < 10, "lastUsedMs never set: {list}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        s.delete(&format!("/api/tokens/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = s
        .http
        .get(format!("{}/api/scripts", s.url))
        .header("x-molgenis-token", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Sessions: sign in sets an HttpOnly SameSite=Lax cookie; a state change
/// with the cookie from another origin is refused, from our own accepted.
#[tokio::test]
async fn session_cookie_and_origin_check() {
    let s = TestServer::start().await;
    s.put_script("c", json!({"type": "bash", "script": "true"}))
        .await;
    let r = s
        .http
        .post(format!("{}/api/signin", s.url))
        .json(&json!({"username": "admin", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .http
        .post(format!("{}/api/signin", s.url))
        .json(&json!({"email": "admin", "password": common::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"));
    let cookie = set.split(';').next().unwrap().to_string();
    let evil = s
        .http
        .post(format!("{}/api/scripts/c", s.url))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    let own = s
        .http
        .post(format!("{}/api/scripts/c", s.url))
        .header("cookie", &cookie)
        .header("origin", &s.url)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    // The GET that runs a job: a link on another site carries the Lax
    // cookie, and the browser says so in Sec-Fetch-Site.
    let linked = s
        .http
        .get(format!("{}/api/scripts/c", s.url))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 403);
    let typed = s
        .http
        .get(format!("{}/api/scripts/c", s.url))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "none")
        .send()
        .await
        .unwrap();
    assert_eq!(typed.status(), 200);
    // Login and logout CSRF: another site's page can do neither.
    for path in ["/api/signin", "/apps/tasks/fn/sign_in"] {
        let req = s
            .http
            .post(format!("{}{path}", s.url))
            .header("origin", "https://evil.example");
        let req = if path.starts_with("/api/") {
            req.json(&json!({"username": "admin", "password": common::ADMIN_PASSWORD}))
        } else {
            req.form(&[("username", "admin"), ("password", common::ADMIN_PASSWORD)])
        };
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
        assert!(!r.headers().contains_key("set-cookie"), "{path}");
    }
    let r = s
        .http
        .post(format!("{}/api/signout", s.url))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .http
        .post(format!("{}/api/signout", s.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .http
        .get(format!("{}/api/scripts", s.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// The EMX2 documentation's own curl commands, run as written with the
/// server and token filled in.
#[tokio::test]
async fn seed_curl_commands_work() {
    let s = TestServer::start().await;
    s.put_script("seed", json!({"type": "bash", "outputFileExtension": "txt", "script": "echo \"params: $1\" | tee \"$OUTPUT_FILE\""})).await;
    let script = format!(
        r#"set -euo pipefail
SERVER={url}
T="x-molgenis-token: {token}"
id=$(curl -sf -X POST   -H "$T"   $SERVER/api/script/seed | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -sf -X POST -H "$T"  -d 'params'   $SERVER/api/script/seed > /dev/null
sync_out=$(curl -sf -X GET -H "$T"  -d 'params'   $SERVER/api/script/seed)
[ "$sync_out" = "params: params" ] || {{ echo "sync: $sync_out"; exit 1; }}
for i in $(seq 1 100); do
  st=$(curl -sf -X GET -H "$T"   $SERVER/api/tasks/$id | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ "$st" = COMPLETED ] && break; sleep 0.1
done
[ "$st" = COMPLETED ]
[ "$(curl -sf -X GET -H "$T"   $SERVER/api/tasks/$id/output)" = "params: " ]
curl -sf -X GET -H "$T"   $SERVER/api/tasks | grep -q "$id"
curl -sf -X GET -H "$T"   $SERVER/api/tasks/scheduled > /dev/null
curl -sf -X DELETE -H "$T"   $SERVER/api/tasks/$id > /dev/null
curl -sf -X POST -H "$T"  $SERVER/api/tasks/clear | grep -q deleted
echo SEED-OK"#,
        url = s.url,
        token = s.admin_token
    );
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("SEED-OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Malformed bodies, queries and ids get EMX2's error shape with a message
/// that names the problem, never axum's plain-text rejection.
#[tokio::test]
async fn malformed_input_gets_json_errors() {
    let s = TestServer::start().await;
    async fn error_of(r: reqwest::Response) -> (StatusCode, String) {
        let status = r.status();
        let body: Value = r.json().await.expect("a JSON error body");
        (
            status,
            body["errors"][0]["message"].as_str().unwrap().to_string(),
        )
    }
    let (st, msg) = error_of(
        s.http
            .post(format!("{}/api/signin", s.url))
            .body(r#"{"username":"admin","password":"x"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(msg.contains("content-type: application/json"), "{msg}");

    let (st, msg) = error_of(
        s.post("/api/users")
            .header("content-type", "application/json")
            .body(r#"{"username":"bob"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(msg.contains("missing field `password`"), "{msg}");

    let (st, msg) = error_of(
        s.post("/api/tokens")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(msg.to_lowercase().contains("json"), "{msg}");

    let (st, msg) = error_of(s.get("/api/tasks?limit=many").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(msg.contains("limit"), "{msg}");

    let (st, msg) = error_of(s.delete("/api/tokens/abc").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(msg.contains("\"abc\" is not a token id"), "{msg}");
}

/// Every answer under /api has the error shape: an unknown path (not the
/// app's page), a method the path does not take, a definition over its size
/// limit; and HEAD on a run path answers 405 without starting a job.
#[tokio::test]
async fn api_errors_keep_their_shape() {
    let s = TestServer::start().await;
    s.put_script("h", json!({"type": "bash", "script": "true"}))
        .await;
    let expect = |r: reqwest::Response, status: u16| async move {
        assert_eq!(r.status(), status);
        let body: serde_json::Value = r.json().await.expect("a JSON body");
        body["errors"][0]["message"].as_str().unwrap().to_string()
    };
    let m = expect(s.get("/api/nonexistent").send().await.unwrap(), 404).await;
    assert!(m.contains("/api/nonexistent"), "{m}");
    let patch = s
        .http
        .patch(format!("{}/api/scripts/h", s.url))
        .header("x-molgenis-token", &s.admin_token)
        .send()
        .await
        .unwrap();
    let m = expect(patch, 405).await;
    assert!(m.contains("PATCH"), "{m}");
    let big = json!({"type": "bash", "script": "#".repeat(3 * 1024 * 1024)});
    let m = expect(
        s.put("/api/scripts/big").json(&big).send().await.unwrap(),
        413,
    )
    .await;
    assert!(m.contains("script definition"), "{m}");
    let head = s
        .http
        .head(format!("{}/api/scripts/h", s.url))
        .header("x-molgenis-token", &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 405);
    let jobs: serde_json::Value = s
        .get("/api/tasks")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jobs["tasks"].as_array().unwrap().len(),
        0,
        "HEAD started a job: {jobs}"
    );
}

/// Extra-file names with control characters or over 255 bytes are refused
/// with a 400 naming the field; any other name downloads under its exact
/// name (RFC 6266 `filename*`) with a plain ASCII fallback.
#[tokio::test]
async fn extra_file_names_are_checked_and_downloaded_exactly() {
    let s = TestServer::start().await;
    s.put_script("f", json!({"type": "bash", "script": "true"}))
        .await;
    let long = "a".repeat(256);
    for bad in ["a%0Ab.txt", "a%0D%0Ab.txt", "a%00b.txt", long.as_str()] {
        let r = s
            .put(&format!("/api/scripts/f/extra-file?filename={bad}"))
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "extraFile", "{body}");
    }
    let r = s
        .put("/api/scripts/f/extra-file?filename=r%C3%A9sum%C3%A9%20%22v2%22.txt")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s.get("/api/scripts/f/extra-file").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        cd,
        "attachment; filename=\"r_sum_ _v2_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22%2Etxt"
    );
    assert_eq!(r.text().await.unwrap(), "hello");
}

/// The last admin can be neither demoted nor deleted (nobody could manage
/// users after); a new password signs out the user's existing sessions.
#[tokio::test]
async fn last_admin_stays_and_new_password_ends_sessions() {
    let s = TestServer::start().await;
    let r = s
        .put("/api/users/admin")
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("only admin"));
    let r = s.delete("/api/users/admin").send().await.unwrap();
    assert_eq!(r.status(), 409);

    let r = s
        .post("/api/users")
        .json(&json!({"username": "ann", "password": "first-password", "role": "runner"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let signin = s
        .http
        .post(format!("{}/api/signin", s.url))
        .json(&json!({"username": "ann", "password": "first-password"}))
        .send()
        .await
        .unwrap();
    let cookie = signin.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let me = |cookie: String| {
        s.http
            .get(format!("{}/api/me", s.url))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(me(cookie.clone()).await.unwrap().status(), 200);
    let r = s
        .put("/api/users/ann")
        .json(&json!({"password": "second-password", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(me(cookie).await.unwrap().status(), 401);
    // With a second admin, the first may step down.
    let r = s
        .put("/api/users/admin")
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Regression: `/log?offset=` inside a multi-byte character returned the
/// whole line again; it starts at the next whole character.
#[tokio::test]
async fn log_offset_inside_a_character() {
    let s = TestServer::start().await;
    s.put_script(
        "utf",
        json!({"type": "bash", "script": "echo héllo; echo wörld"}),
    )
    .await;
    let id = s.submit("utf", None).await;
    s.wait_done(&id, 30).await;
    let at = |off: usize| {
        let r = s.get(&format!("/api/tasks/{id}/log?offset={off}")).send();
        async move { r.await.unwrap().text().await.unwrap() }
    };
    assert_eq!(at(0).await, "héllo\nwörld\n");
    assert_eq!(at(1).await, "éllo\nwörld\n");
    assert_eq!(at(2).await, "llo\nwörld\n", "offset 2 is inside 'é'");
    assert_eq!(at(3).await, "llo\nwörld\n");
}

/// The OpenAPI document is served to signed-in callers, and every operation
/// it lists is really routed (no 404 "no such API endpoint", no 405).
#[tokio::test]
async fn openapi_document_matches_the_router() {
    let s = TestServer::start().await;
    let anonymous = s
        .http
        .get(format!("{}/api/openapi.json", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let doc: Value = s
        .get("/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{name}", "no-such-script")
            .replace("{id}", "0")
            .replace("{username}", "nobody");
        for method in item.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = s
                .http
                .request(m, format!("{}{concrete}", s.url))
                .header("x-molgenis-token", &s.admin_token)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !body.contains("no such API endpoint"),
                "{method} {path} is documented but not routed"
            );
            operations += 1;
        }
    }
    // The router has 34 operations; the two of the singular alias
    // `/api/script/{name}` (documented on the plural path) and GraphQL's GET
    // are the only ones not listed.
    assert_eq!(operations, 31, "{:?}", paths.keys().collect::<Vec<_>>());
}
