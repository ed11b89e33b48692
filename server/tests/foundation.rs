//! The foundation: health, a server function through SQLite, and clear
//! start-up errors.

mod common;

use common::TestServer;
use serde_json::Value;

/// `GET /api/health` answers without credentials with version, database
/// status and job counts.
#[tokio::test]
async fn health_reports_database_and_counts() {
    let s = TestServer::start().await;
    let r = reqwest::get(format!("{}/api/health", s.url)).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["database"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        (v["waiting"].as_i64(), v["running"].as_i64()),
        (Some(0), Some(0))
    );
}

/// A `#[server]` function called over HTTP round-trips a value through
/// SQLite, and refuses a caller without credentials.
#[tokio::test]
async fn server_function_round_trips_through_sqlite() {
    use leptos::server_fn::ServerFn;
    let s = TestServer::start().await;
    let path = <app::api::Echo as ServerFn>::PATH;
    let value = "héllo 'quoted' ; DROP TABLE jobs; --";
    let r = s
        .http
        .post(format!("{}{path}", s.url))
        .header("x-molgenis-token", &s.admin_token)
        .form(&[("value", value)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<String>().await.unwrap(), value);
    let r = s
        .http
        .post(format!("{}{path}", s.url))
        .form(&[("value", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// An unwritable data directory stops start-up with a clear message and a
/// non-zero exit, not a panic.
#[test]
fn unwritable_data_dir_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_taskwright"))
        .env("TASKWRIGHT_DATA_DIR", file.join("data"))
        .env("TASKWRIGHT_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot create the data directory"),
        "{stderr}"
    );
    assert!(stderr.contains("TASKWRIGHT_DATA_DIR"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A bad setting is refused by name before anything starts.
#[test]
fn bad_setting_is_named() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_taskwright"))
        .env("TASKWRIGHT_BIND", "not-an-address")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bind"));
}

/// A server function that is refused answers with a status that says why
/// (404 for a missing script, 403 for a role that may not), not 500.
#[tokio::test]
async fn server_function_errors_have_fitting_status_codes() {
    let s = TestServer::start().await;
    let call = |endpoint: &str, token: String| {
        s.http
            .post(format!("{}/apps/tasks/fn/{endpoint}", s.url))
            .header("x-molgenis-token", token)
            .form(&[("name", "no such script")])
            .send()
    };
    let r = call("get_script", s.admin_token.clone()).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("no such script"));

    let viewer: serde_json::Value = s
        .post("/api/users")
        .json(&serde_json::json!({"username": "vera", "password": "a-long-password", "role": "viewer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(viewer["role"], "viewer");
    let token: serde_json::Value = s
        .post("/api/tokens")
        .json(&serde_json::json!({"username": "vera"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = call(
        "delete_script",
        token["token"].as_str().unwrap().to_string(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
}

/// Regression: the script page was rendered on the server with an empty
/// form (values only appeared after hydration). The HTML itself carries
/// the script, escaped (a script holding `</textarea>` cannot end the
/// element); a missing script's page says so.
#[tokio::test]
async fn script_page_is_rendered_with_its_values() {
    let s = TestServer::start().await;
    s.put_script(
        "shown",
        serde_json::json!({"type": "bash", "script": "echo <shown> & done </textarea><b>x</b>", "cron": "0 0 3 * * ?",
            "outputFileExtension": "txt", "disabled": true}),
    )
    .await;
    let page = |path: &str| {
        s.http
            .get(format!("{}{path}", s.url))
            .header("x-molgenis-token", &s.admin_token)
            .send()
    };
    let r = page("/apps/tasks/scripts/shown").await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for expected in [
        r#"value="shown""#,
        "echo &lt;shown&gt; &amp; done &lt;/textarea&gt;&lt;b&gt;x&lt;/b&gt;</textarea>",
        r#"value="0 0 3 * * ?""#,
        r#"value="txt""#,
    ] {
        assert!(
            html.contains(expected),
            "{expected} is not in the page:\n{html}"
        );
    }
    assert!(
        html.contains(r#"<option value="bash" selected"#),
        "bash is not the selected type"
    );
    // The page streams: its status may be sent before the script is looked
    // up, so only the text is certain.
    let r = page("/apps/tasks/scripts/missing").await.unwrap();
    assert!(r.text().await.unwrap().contains("there is no script named"));
}
