//! `GET|POST /api/graphql`: the part of EMX2's GraphQL API that its Python
//! client (`molgenis-emx2-pyclient`) needs to start, sign in and follow tasks.
//!
//! - `_schemas { id name label description }` is always an empty list:
//!   Taskwright keeps scripts and jobs, not EMX2 data schemas. The client's
//!   constructor asks for it and needs a valid answer.
//! - `_manifest { ImplementationVersion SpecificationVersion DatabaseVersion }`
//!   (the client's `status` and `version`), `_session { email roles }`.
//! - `_tasks(id:)`: one task, with its newest log lines as `subTasks`, in
//!   the REST task JSON's shape; without `id`, a page of all tasks (admin).
//! - Mutations `signin(email:, password:) { status message token }` and
//!   `signout { status message }`, answering `SUCCESS` or `FAILED`. A
//!   session is the same cookie the REST API and the UI use; `token` is
//!   always null (Taskwright hands out API tokens at `/api/tokens`).
//!
//! Authorization is the REST API's: the role checks live in
//! [`crate::service`]. Errors go in the standard `errors` array. As EMX2
//! does (and its client relies on), an answer with errors has status 400; a
//! refused permission says "permission denied", and refused credentials
//! "Invalid token or token expired", the phrases the client turns into its
//! own `PermissionDeniedException` and `InvalidTokenException`.

use crate::api::tasks::task_json;
use crate::auth::{clear_session_cookie, session_cookie, Caller};
use crate::error::Error;
use crate::service;
use crate::state::{check_same_origin, AppState};
use app::model::{JobFilter, Role};
use async_graphql::{Context, EmptySubscription, Object, Schema, ServerError, SimpleObject};
use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::LazyLock;

/// Largest GraphQL request body accepted.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// What `_manifest { SpecificationVersion }` (the client's `version`) says.
pub const SPECIFICATION_VERSION: &str = concat!(
    "Taskwright ",
    env!("CARGO_PKG_VERSION"),
    " (EMX2 scripts and jobs API)"
);

type TaskwrightSchema = Schema<Query, Mutation, EmptySubscription>;

/// Built once; it holds no state (each request brings its [`RequestContext`]).
/// Query limits. A `_tasks` field can answer megabytes (log lines as
/// `subTasks`), so it costs [`TASKS_COST`] and a request may hold one:
/// aliases cannot multiply it. The depth allows the Python client's query
/// (`_tasks` with `subTasks` three levels deep) with room to spare.
const MAX_COMPLEXITY: usize = 1500;
const TASKS_COST: usize = 1000;
const MAX_DEPTH: usize = 10;

static SCHEMA: LazyLock<TaskwrightSchema> = LazyLock::new(|| {
    Schema::build(Query, Mutation, EmptySubscription)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_depth(MAX_DEPTH)
        .finish()
});

/// What resolvers know about the request they answer.
struct RequestContext {
    state: AppState,
    headers: HeaderMap,
    method: Method,
    /// The caller; `Err` holds why the credentials sent were refused.
    credentials: Result<Option<Caller>, String>,
}

impl RequestContext {
    /// The caller, or `None` when anonymous. Wrong or expired credentials
    /// fail every field but `signin` and `signout`.
    fn caller(&self) -> async_graphql::Result<Option<&Caller>> {
        match &self.credentials {
            Ok(c) => Ok(c.as_ref()),
            Err(why) => Err(format!("Invalid token or token expired: {why}").into()),
        }
    }

    fn require_caller(&self) -> async_graphql::Result<&Caller> {
        self.caller()?.ok_or_else(|| {
            "authentication required: send a token in x-molgenis-token, or sign in".into()
        })
    }
}

fn request_context<'a>(ctx: &Context<'a>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

/// Turns the domain error into a GraphQL error. Internal details are logged
/// here, where the error is handled, and not sent.
fn gql_error(e: Error) -> async_graphql::Error {
    match e {
        Error::Forbidden(m) => format!("permission denied: {m}").into(),
        Error::Db(_) | Error::Io(_) | Error::Internal(_) => {
            tracing::error!(error = %e, "graphql request failed");
            "internal server error; the server log has the details".into()
        }
        other => other.to_string().into(),
    }
}

/// An EMX2 data schema. Taskwright has none, so no value of it is ever made;
/// it exists so the client's query for its fields validates.
#[derive(SimpleObject)]
struct DataSchema {
    id: String,
    name: String,
    label: Option<String>,
    description: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(rename_fields = "PascalCase")]
struct Manifest {
    implementation_version: String,
    specification_version: String,
    database_version: String,
}

#[derive(SimpleObject)]
struct Session {
    /// The user name (EMX2 names users by email); `anonymous` without credentials.
    email: String,
    /// The caller's role (`viewer`, `runner` or `admin`); empty when anonymous.
    roles: Vec<String>,
}

/// A task in the REST task JSON's shape (see [`task_json`]). Log lines are
/// `subTasks` with no `subTasks` of their own.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "camelCase")]
#[graphql(rename_fields = "camelCase")]
struct Task {
    id: String,
    description: String,
    status: String,
    #[serde(default)]
    sub_tasks: Vec<Task>,
    script: Option<String>,
    submit_user: Option<String>,
    submit_time_milliseconds: Option<i64>,
    start_time_milliseconds: Option<i64>,
    end_time_milliseconds: Option<i64>,
    exit_code: Option<i64>,
    error: Option<String>,
    #[serde(rename = "outputURL")]
    #[graphql(name = "outputURL")]
    output_url: Option<String>,
}

/// `status` is `SUCCESS` or `FAILED`, as EMX2 answers.
#[derive(SimpleObject)]
struct SignResult {
    status: String,
    message: String,
    token: Option<String>,
}

impl SignResult {
    fn new(ok: bool, message: impl Into<String>) -> Self {
        SignResult {
            status: if ok { "SUCCESS" } else { "FAILED" }.into(),
            message: message.into(),
            token: None,
        }
    }
}

pub struct Query;

#[Object]
impl Query {
    /// Always empty: Taskwright has no EMX2 data schemas.
    #[graphql(name = "_schemas")]
    async fn schemas(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DataSchema>> {
        request_context(ctx).caller()?;
        Ok(Vec::new())
    }

    #[graphql(name = "_manifest")]
    async fn manifest(&self, ctx: &Context<'_>) -> async_graphql::Result<Manifest> {
        request_context(ctx).caller()?;
        let migration = crate::db::MIGRATOR
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        Ok(Manifest {
            implementation_version: env!("CARGO_PKG_VERSION").into(),
            specification_version: SPECIFICATION_VERSION.into(),
            database_version: migration.to_string(),
        })
    }

    #[graphql(name = "_session")]
    async fn session(&self, ctx: &Context<'_>) -> async_graphql::Result<Session> {
        Ok(match request_context(ctx).caller()? {
            Some(c) => Session {
                email: c.username.clone(),
                roles: vec![c.role.as_str().into()],
            },
            None => Session {
                email: "anonymous".into(),
                roles: Vec::new(),
            },
        })
    }

    /// One task by `id` (viewer role), or without `id` the newest `limit`
    /// tasks from `offset` (admin role; `limit` 1 to 100). One `_tasks`
    /// per request.
    #[graphql(name = "_tasks", complexity = "TASKS_COST + child_complexity")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        id: Option<String>,
        #[graphql(default = 100)] limit: i64,
        #[graphql(default = 0)] offset: i64,
    ) -> async_graphql::Result<Vec<Task>> {
        let rc = request_context(ctx);
        let caller = rc.require_caller()?;
        if !(1..=100).contains(&limit) {
            return Err(format!("limit must be 1 to 100, not {limit}").into());
        }
        let jobs = match id {
            Some(id) => vec![service::job(&rc.state, caller, &id)
                .await
                .map_err(gql_error)?],
            None => {
                caller
                    .require(Role::Admin, "listing all tasks")
                    .map_err(gql_error)?;
                let filter = JobFilter {
                    limit,
                    offset,
                    ..JobFilter::default()
                };
                service::jobs(&rc.state, caller, &filter)
                    .await
                    .map_err(gql_error)?
                    .jobs
            }
        };
        let mut tasks = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let json = task_json(&rc.state, job).await.map_err(gql_error)?;
            let task = serde_json::from_value(json).map_err(|e| {
                gql_error(Error::Internal(format!("task {} as GraphQL: {e}", job.id)))
            })?;
            tasks.push(task);
        }
        Ok(tasks)
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Opens a session (the cookie comes with the answer). Wrong credentials
    /// answer `FAILED`, not an error.
    async fn signin(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
        password: Option<String>,
    ) -> async_graphql::Result<SignResult> {
        let rc = request_context(ctx);
        require_post(rc)?;
        let (Some(email), Some(password)) = (email, password) else {
            return Ok(SignResult::new(
                false,
                "email and password are both required",
            ));
        };
        match rc.state.auth.sign_in(&email, &password).await {
            Ok((caller, secret)) => {
                let secure = rc.state.public_url.starts_with("https://");
                ctx.insert_http_header(header::SET_COOKIE, session_cookie(&secret, secure));
                Ok(SignResult::new(
                    true,
                    format!("signed in as {:?}", caller.username),
                ))
            }
            Err(Error::Unauthenticated(m)) => Ok(SignResult::new(false, m)),
            Err(e) => Err(gql_error(e)),
        }
    }

    /// Ends the request's session, if it has one, and clears the cookie.
    async fn signout(&self, ctx: &Context<'_>) -> async_graphql::Result<SignResult> {
        let rc = request_context(ctx);
        require_post(rc)?;
        let had_session = crate::auth::cookie(&rc.headers, crate::auth::SESSION_COOKIE).is_some();
        rc.state
            .auth
            .sign_out(&rc.headers)
            .await
            .map_err(gql_error)?;
        ctx.insert_http_header(header::SET_COOKIE, clear_session_cookie());
        Ok(SignResult::new(
            true,
            if had_session {
                "signed out"
            } else {
                "there was no session to sign out of"
            },
        ))
    }
}

/// Mutations change state, so a link (a GET) must not be able to run them.
fn require_post(rc: &RequestContext) -> async_graphql::Result<()> {
    if rc.method == Method::POST {
        Ok(())
    } else {
        Err("mutations need a POST request".into())
    }
}

/// `GET /api/graphql?query=…` and `POST /api/graphql` with a JSON body
/// `{"query", "variables", "operationName"}`.
#[utoipa::path(post, path = "/api/graphql", operation_id = "graphql", tag = "users",
    description = "The part of EMX2's GraphQL API the MOLGENIS Python client needs: `_schemas` \
    (always empty), `_manifest`, `_session`, `_tasks`, and the mutations `signin` and `signout`. \
    `GET` with `?query=` works for queries.",
    request_body(content = Object, description = "`{\"query\", \"variables\"}`"),
    responses((status = 200, description = "a GraphQL answer", body = Object),
        (status = 400, description = "GraphQL errors in the standard `errors` array", body = Object)))]
pub async fn handler(State(s): State<AppState>, parts: Parts, body: Body) -> Response {
    // A POST from another site's page must not act with a signed-in
    // browser's cookie (nor sign it in to another account).
    if parts.method == Method::POST {
        if let Err(e) = check_same_origin(&parts.headers, &s.public_url) {
            return errors_response(StatusCode::FORBIDDEN, &format!("permission denied: {e}"));
        }
    }

    let request = match parse_request(&parts, body).await {
        Ok(r) => r,
        Err(message) => return errors_response(StatusCode::BAD_REQUEST, &message),
    };

    // Refused credentials do not fail the request here: signing in again
    // must work with a stale cookie. Every other field reports them.
    let credentials = match s.auth.authenticate(&parts.headers).await {
        Ok(c) => Ok(c),
        Err(Error::Unauthenticated(why)) => Err(why),
        Err(e) => {
            tracing::error!(error = %e, "checking graphql credentials failed");
            return errors_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error; the server log has the details",
            );
        }
    };
    let context = RequestContext {
        state: s,
        headers: parts.headers,
        method: parts.method,
        credentials,
    };
    let answer = SCHEMA.execute(request.data(context)).await;

    let status = if answer.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut resp = json_response(status, &answer);
    resp.headers_mut().extend(answer.http_headers);
    resp
}

async fn parse_request(parts: &Parts, body: Body) -> Result<async_graphql::Request, String> {
    if parts.method == Method::GET {
        return async_graphql::http::parse_query_string(parts.uri.query().unwrap_or_default())
            .map_err(|e| format!("the query string is not a GraphQL request: {e}"));
    }
    let bytes = crate::api::read_body(body, MAX_REQUEST_BYTES, "GraphQL request")
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "the body is not a GraphQL request (JSON with \"query\" and optional \
             \"variables\" and \"operationName\"): {e}"
        )
    })
}

/// A response with only the standard `errors` array.
fn errors_response(status: StatusCode, message: &str) -> Response {
    let answer = async_graphql::Response::from_errors(vec![ServerError::new(message, None)]);
    json_response(status, &answer)
}

fn json_response(status: StatusCode, answer: &async_graphql::Response) -> Response {
    match serde_json::to_vec(answer) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "serializing a graphql answer failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema has the root fields and field names the client's queries use.
    #[test]
    fn schema_has_the_names_the_client_uses() {
        let sdl = SCHEMA.sdl();
        for name in [
            "_schemas:",
            "_manifest:",
            "_session:",
            "_tasks(",
            "signin(email: String, password: String)",
            "signout:",
            "ImplementationVersion:",
            "SpecificationVersion:",
            "DatabaseVersion:",
            "subTasks:",
            "outputURL:",
        ] {
            assert!(sdl.contains(name), "{name} missing from:\n{sdl}");
        }
    }
}
