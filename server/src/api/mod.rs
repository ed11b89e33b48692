//! The REST API, compatible with MOLGENIS EMX2's task API.
//!
//! Runs: `POST|GET /api/script(s)/{name}`. Tasks: `/api/tasks…`. Script
//! definitions: `GET /api/scripts`, `PUT|DELETE /api/scripts/{name}`,
//! `/api/scripts/{name}/definition`, `/api/scripts/{name}/extra-file`.
//! Users and tokens: `/api/users…`, `/api/tokens…`. Sessions:
//! `/api/signin`, `/api/signout`. Every route but `/api/health` needs
//! credentials (the [`crate::auth::Caller`] extractor).

pub mod error;
pub mod openapi;
mod scripts;
pub(crate) mod tasks;
mod users;

use crate::error::{Error, Result};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn router(state: &AppState) -> Router<AppState> {
    let extra_file_limit = state.cfg.max_extra_file_bytes + 64 * 1024;
    Router::new()
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route(
            "/api/graphql",
            get(crate::graphql::handler).post(crate::graphql::handler),
        )
        .route(
            "/api/script/{name}",
            get(tasks::run_sync).post(tasks::run_async),
        )
        .route(
            "/api/scripts/{name}",
            get(tasks::run_sync)
                .post(tasks::run_async)
                .put(scripts::save)
                .delete(scripts::delete),
        )
        .route("/api/scripts", get(scripts::list))
        .route("/api/scripts/{name}/definition", get(scripts::get_one))
        .route(
            "/api/scripts/{name}/extra-file",
            put(scripts::put_extra_file)
                .delete(scripts::delete_extra_file)
                .get(scripts::get_extra_file)
                .layer(DefaultBodyLimit::max(extra_file_limit)),
        )
        .route("/api/tasks", get(tasks::list))
        .route("/api/tasks/scheduled", get(tasks::scheduled))
        .route("/api/tasks/clear", post(tasks::clear))
        .route("/api/tasks/{id}", get(tasks::get_one).delete(tasks::delete))
        .route("/api/tasks/{id}/output", get(tasks::output))
        .route("/api/tasks/{id}/log", get(tasks::log))
        .route("/api/tasks/{id}/events", get(tasks::events))
        .route("/api/tasks/{id}/cancel", post(tasks::cancel))
        .route("/api/signin", post(users::sign_in))
        .route("/api/signout", post(users::sign_out))
        .route("/api/me", get(users::me))
        .route("/api/users", get(users::list).post(users::create))
        .route(
            "/api/users/{username}",
            put(users::update).delete(users::delete),
        )
        .route(
            "/api/tokens",
            get(users::list_tokens).post(users::create_token),
        )
        .route(
            "/api/tokens/{id}",
            axum::routing::delete(users::revoke_token),
        )
        // Unknown paths under /api get a JSON 404 here, not the app's page.
        .route("/api", axum::routing::any(not_found))
        .route("/api/{*rest}", axum::routing::any(not_found))
        .layer(axum::middleware::map_response(method_not_allowed_as_json))
}

/// axum answers a known path with an unknown method with an empty 405;
/// give it EMX2's error body like every other error.
async fn method_not_allowed_as_json(
    method: axum::http::Method,
    uri: axum::http::Uri,
    resp: axum::response::Response,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if resp.status() != axum::http::StatusCode::METHOD_NOT_ALLOWED
        || resp
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
    {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let body = Error::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
        .into_response()
        .into_body();
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    axum::response::Response::from_parts(parts, body)
}

/// `GET /api/health`: the one route without authentication.
#[utoipa::path(get, path = "/api/health", operation_id = "health", tag = "runs", security(()),
    responses((status = 200, description = "status, version, database, waiting and running jobs",
        body = app::model::Health)))]
async fn health(State(s): State<AppState>) -> Json<app::model::Health> {
    Json(crate::service::health(&s).await)
}

async fn not_found(uri: axum::http::Uri) -> Error {
    Error::NotFound(format!("no such API endpoint: {}", uri.path()))
}

/// A `Content-Disposition` that downloads as `filename`, whatever it holds:
/// a plain ASCII `filename` (anything else becomes `_`) for old clients and
/// the exact name, percent-encoded, in `filename*` (RFC 6266).
pub fn attachment(filename: &str) -> axum::http::HeaderValue {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    header_value(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{exact}"
    ))
}

/// A header value from text that is known to be visible ASCII; anything
/// else (which would be a bug upstream) becomes a harmless placeholder.
pub fn header_value(text: &str) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_str(text)
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("application/octet-stream"))
}

/// Reads a request body up to `limit` bytes, refusing more with 413 and a message.
pub async fn read_body(body: Body, limit: usize, what: &str) -> Result<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            Error::TooLarge(format!(
                "the {what} is larger than the limit of {limit} bytes"
            ))
        } else {
            Error::BadRequest(format!("reading the {what} failed: {e}"))
        }
    })
}

/// A script name from the path: percent-decoded by axum; `+` also means a space.
pub fn script_name(raw: String) -> String {
    raw.replace('+', " ")
}

/// `{"message": …}` answers for simple successes.
pub fn message(text: impl Into<String>) -> Json<Value> {
    Json(json!({ "message": text.into() }))
}

/// axum's `Json` extractor with its rejection turned into an [`Error`], so a
/// malformed body gets EMX2's error shape and a message naming the problem.
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self> {
        use axum::extract::rejection::JsonRejection;
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Error::BadRequest(
                "send the body as JSON, with the header content-type: application/json".into(),
            )),
            Err(r) if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(Error::TooLarge(r.body_text()))
            }
            Err(r) => Err(Error::BadRequest(r.body_text())),
        }
    }
}

/// axum's `Query` extractor with its rejection turned into an [`Error`].
pub struct QueryArgs<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for QueryArgs<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| QueryArgs(v))
            .map_err(|r| Error::BadRequest(r.body_text()))
    }
}
