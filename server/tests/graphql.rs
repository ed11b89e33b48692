//! `/api/graphql` over HTTP: the answers EMX2's Python client relies on,
//! authorization as in the REST API, and errors in the `errors` array.

mod common;

use common::{TestServer, ADMIN_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Posts a GraphQL request with optional extra headers; returns status, body
/// and the `Set-Cookie` header.
async fn gql(
    s: &TestServer,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
) -> (StatusCode, Value, Option<String>) {
    let mut req = s
        .http
        .post(format!("{}/api/graphql", s.url))
        .json(&json!({"query": query, "variables": variables}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap(), cookie)
}

fn first_error(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or("")
}

const SIGNIN: &str = "mutation($email: String, $password: String) {
    signin(email: $email, password: $password) { status message token } }";

/// Signs in and returns the `name=value` part of the session cookie.
async fn sign_in(s: &TestServer, user: &str, password: &str) -> String {
    let (status, body, cookie) =
        gql(s, &[], SIGNIN, json!({"email": user, "password": password})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["signin"]["status"], "SUCCESS", "{body}");
    let cookie = cookie.expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

/// Without credentials the client's constructor queries work: no schemas,
/// a manifest with Taskwright's version, an anonymous session.
#[tokio::test]
async fn anonymous_gets_empty_schemas_manifest_and_session() {
    let s = TestServer::start().await;
    let (status, body, _) = gql(
        &s,
        &[],
        "{ _schemas { id name label description }
           _manifest { ImplementationVersion SpecificationVersion DatabaseVersion }
           _session { email roles } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["_schemas"], json!([]));
    let m = &body["data"]["_manifest"];
    assert_eq!(m["ImplementationVersion"], env!("CARGO_PKG_VERSION"));
    assert!(m["SpecificationVersion"]
        .as_str()
        .unwrap()
        .starts_with("Taskwright "));
    assert!(
        m["DatabaseVersion"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 0
    );
    assert_eq!(
        body["data"]["_session"],
        json!({"email": "anonymous", "roles": []})
    );

    let r = s
        .http
        .get(format!(
            "{}/api/graphql?query=%7B_session%7Bemail%7D%7D",
            s.url
        ))
        .header("x-molgenis-token", &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["data"]["_session"]["email"], "admin",
        "GET answers queries too"
    );
}

/// A wrong password answers `FAILED` with a message and no cookie, not an
/// error; the right one answers `SUCCESS` and the cookie authenticates.
#[tokio::test]
async fn signin_failed_and_success() {
    let s = TestServer::start().await;
    let (status, body, cookie) = gql(
        &s,
        &[],
        SIGNIN,
        json!({"email": "admin", "password": "not the password"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["signin"]["status"], "FAILED");
    assert!(body["data"]["signin"]["message"]
        .as_str()
        .unwrap()
        .contains("wrong password"));
    assert!(cookie.is_none());

    let cookie = sign_in(&s, "admin", ADMIN_PASSWORD).await;
    let (_, body, _) = gql(
        &s,
        &[("cookie", &cookie)],
        "{ _session { email roles } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["_session"],
        json!({"email": "admin", "roles": ["admin"]})
    );

    let (status, body, cleared) = gql(
        &s,
        &[("cookie", &cookie)],
        "mutation { signout { status message } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["signout"]["status"], "SUCCESS");
    assert!(cleared.unwrap().contains("Max-Age=0"));
    let (status, body, _) = gql(
        &s,
        &[("cookie", &cookie)],
        "{ _session { email } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        first_error(&body).contains("Invalid token or token expired"),
        "{body}"
    );

    // The stale cookie does not stand in the way of signing in again.
    let (_, body, _) = gql(
        &s,
        &[("cookie", &cookie)],
        SIGNIN,
        json!({"email": "admin", "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(body["data"]["signin"]["status"], "SUCCESS", "{body}");
}

/// `_tasks` authorizes like REST: by id for a viewer, all tasks only for an
/// admin, nothing for anonymous callers; log lines come as `subTasks`.
#[tokio::test]
async fn tasks_are_authorized_like_rest() {
    let s = TestServer::start().await;
    let r = s
        .post("/api/users")
        .json(&json!({"username": "vera", "password": "viewer-password", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    s.put_script(
        "hello",
        json!({"type": "bash", "script": "echo one; echo two"}),
    )
    .await;
    let id = s.submit("hello", None).await;
    s.wait_done(&id, 30).await;
    let by_id = format!(
        "{{ _tasks(id: \"{id}\") {{ id description status subTasks {{ id description status subTasks {{ id }} }} }} }}"
    );

    let viewer = sign_in(&s, "vera", "viewer-password").await;
    let (status, body, _) = gql(&s, &[("cookie", &viewer)], &by_id, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let task = &body["data"]["_tasks"][0];
    assert_eq!(task["id"], id.as_str());
    assert_eq!(task["status"], "COMPLETED");
    let lines: Vec<&str> = task["subTasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["description"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["one", "two"]);
    assert_eq!(task["subTasks"][0]["subTasks"], json!([]));

    let (status, body, _) = gql(&s, &[("cookie", &viewer)], "{ _tasks { id } }", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        first_error(&body).starts_with("permission denied: listing all tasks needs the admin role"),
        "{body}"
    );

    let (status, body, _) = gql(&s, &[], &by_id, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        first_error(&body).starts_with("authentication required"),
        "{body}"
    );

    let admin = [("x-molgenis-token", s.admin_token.as_str())];
    let (status, body, _) = gql(&s, &admin, "{ _tasks { id status } }", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["_tasks"],
        json!([{"id": id, "status": "COMPLETED"}])
    );

    let (status, body, _) = gql(
        &s,
        &admin,
        "{ _tasks(id: \"no-such-task\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(first_error(&body).contains("no-such-task"), "{body}");
}

/// Mutations need POST, cross-site POSTs are refused, and malformed
/// requests get a message in the `errors` array.
#[tokio::test]
async fn refusals_use_the_errors_array() {
    let s = TestServer::start().await;
    let r = s
        .http
        .get(format!(
            "{}/api/graphql?query=mutation%7Bsignout%7Bstatus%7D%7D",
            s.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        first_error(&body),
        "mutations need a POST request",
        "{body}"
    );

    let (status, body, _) = gql(
        &s,
        &[("origin", "https://evil.example")],
        SIGNIN,
        json!({"email": "admin", "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        first_error(&body).contains("cross-site request refused"),
        "{body}"
    );

    let r = s
        .http
        .post(format!("{}/api/graphql", s.url))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        first_error(&body).starts_with("the body is not a GraphQL request"),
        "{body}"
    );

    let (status, body, _) = gql(&s, &[], "{ _schemas { tables } }", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(first_error(&body).contains("tables"), "{body}");
}

/// Regression: aliases let one request ask for `_tasks` 40 times (hundreds
/// of megabytes of log lines); a request may hold one `_tasks`, and the
/// Python client's own three-level query still passes.
#[tokio::test]
async fn one_tasks_field_per_request() {
    let s = TestServer::start().await;
    s.put_script("t", json!({"type": "bash", "script": "echo line"}))
        .await;
    let id = s.submit("t", None).await;
    s.wait_done(&id, 30).await;
    let token = ("x-molgenis-token", s.admin_token.as_str());
    let client_query = format!(
        "{{ _tasks(id:\"{id}\") {{ id, description, status, subTasks {{ id, description, \
         status, subTasks {{ id, description, status, subTasks {{ id, description, status }} }} }} }} }}"
    );
    let (status, body, _) = gql(&s, &[token], &client_query, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["_tasks"][0]["subTasks"][0]["description"],
        "line"
    );

    let aliased: String = (0..2)
        .map(|i| format!("a{i}: _tasks(id:\"{id}\") {{ subTasks {{ description }} }} "))
        .collect();
    let (status, body, _) = gql(&s, &[token], &format!("{{ {aliased} }}"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(first_error(&body).contains("complex"), "{body}");
    assert!(
        body["data"].is_null() || body.get("data").is_none(),
        "{body}"
    );
}
