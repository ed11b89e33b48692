//! `#[server]` functions: typed calls from the page to the server, each at
//! `POST /apps/tasks/fn/<name>` (the endpoints are named, so they stay put).
//! Each one finds the [`crate::backend::Backend`] in context and passes the
//! request headers along, so the server authenticates every call.

use crate::model::*;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::backend::{BackendError, Credentials, SharedBackend};
    use leptos::prelude::*;

    pub fn backend() -> Result<SharedBackend, ServerFnError> {
        use_context::<SharedBackend>()
            .ok_or_else(|| ServerFnError::new("the backend is missing from the context"))
    }

    pub fn credentials() -> Credentials {
        use_context::<http::request::Parts>()
            .map(|p| p.headers)
            .unwrap_or_default()
    }

    /// The error for the page, with a status code that says what kind it is
    /// (a refused or invalid call is not a server failure).
    pub fn to_fn_error(e: BackendError) -> ServerFnError {
        let status = match &e {
            BackendError::Unauthenticated => http::StatusCode::UNAUTHORIZED,
            BackendError::Forbidden(_) => http::StatusCode::FORBIDDEN,
            BackendError::NotFound(_) => http::StatusCode::NOT_FOUND,
            BackendError::Conflict(_) => http::StatusCode::CONFLICT,
            BackendError::Invalid(_) | BackendError::BadRequest(_) => http::StatusCode::BAD_REQUEST,
            BackendError::Internal(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        };
        if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
            options.set_status(status);
        }
        ServerFnError::new(e.to_string())
    }

    /// Adds a `Set-Cookie` header to the server function's response.
    pub fn set_cookie(value: &str) -> Result<(), ServerFnError> {
        let header = http::HeaderValue::from_str(value).map_err(ServerFnError::new)?;
        expect_context::<leptos_axum::ResponseOptions>()
            .append_header(http::header::SET_COOKIE, header);
        Ok(())
    }
}

/// The message of a server function's error, without the framework's prefix.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m.clone(),
        ServerFnError::Request(m) => format!("the server cannot be reached: {m}"),
        other => other.to_string(),
    }
}

/// Health figures for the page frame.
#[server(prefix = "/apps/tasks/fn", endpoint = "get_health")]
pub async fn get_health() -> Result<Health, ServerFnError> {
    Ok(ssr::backend()?.health().await)
}

/// Round-trips `value` through the database (signed-in users only).
#[server(prefix = "/apps/tasks/fn", endpoint = "echo")]
pub async fn echo(value: String) -> Result<String, ServerFnError> {
    ssr::backend()?
        .echo(&ssr::credentials(), value)
        .await
        .map_err(ssr::to_fn_error)
}

/// The signed-in user, or `None`.
#[server(prefix = "/apps/tasks/fn", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, ServerFnError> {
    Ok(ssr::backend()?.me(&ssr::credentials()).await)
}

/// Signs in with a password; the answer sets the session cookie.
#[server(prefix = "/apps/tasks/fn", endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String) -> Result<Me, ServerFnError> {
    let (me, cookie) = ssr::backend()?
        .sign_in(&ssr::credentials(), &username, &password)
        .await
        .map_err(ssr::to_fn_error)?;
    ssr::set_cookie(&cookie)?;
    Ok(me)
}

/// Ends the session and clears its cookie.
#[server(prefix = "/apps/tasks/fn", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    let cookie = ssr::backend()?
        .sign_out(&ssr::credentials())
        .await
        .map_err(ssr::to_fn_error)?;
    ssr::set_cookie(&cookie)
}

/// Every script with its next run and latest job.
#[server(prefix = "/apps/tasks/fn", endpoint = "list_scripts")]
pub async fn list_scripts() -> Result<Vec<ScriptRow>, ServerFnError> {
    ssr::backend()?
        .script_rows(&ssr::credentials())
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "get_script")]
pub async fn get_script(name: String) -> Result<Script, ServerFnError> {
    ssr::backend()?
        .script(&ssr::credentials(), &name)
        .await
        .map_err(ssr::to_fn_error)
}

/// Saves a script from the form; field problems come back as
/// [`SaveOutcome::Invalid`].
#[server(prefix = "/apps/tasks/fn", endpoint = "save_script", input = Json)]
pub async fn save_script(script: Script, create: bool) -> Result<SaveOutcome, ServerFnError> {
    ssr::backend()?
        .save_script(&ssr::credentials(), script, create)
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "delete_script")]
pub async fn delete_script(name: String) -> Result<(), ServerFnError> {
    ssr::backend()?
        .delete_script(&ssr::credentials(), &name)
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "remove_extra_file")]
pub async fn remove_extra_file(name: String) -> Result<(), ServerFnError> {
    ssr::backend()?
        .remove_extra_file(&ssr::credentials(), &name)
        .await
        .map_err(ssr::to_fn_error)
}

/// The next five fire times of `cron`, or why it is not valid.
#[server(prefix = "/apps/tasks/fn", endpoint = "cron_preview", input = Json)]
pub async fn cron_preview(
    cron: String,
    time_zone: Option<String>,
) -> Result<Result<Vec<String>, String>, ServerFnError> {
    ssr::backend()?
        .cron_preview(&ssr::credentials(), &cron, time_zone.as_deref())
        .await
        .map_err(ssr::to_fn_error)
}

/// Starts a job; returns its id.
#[server(prefix = "/apps/tasks/fn", endpoint = "run_script", input = Json)]
pub async fn run_script(name: String, parameters: Option<String>) -> Result<String, ServerFnError> {
    ssr::backend()?
        .run(&ssr::credentials(), &name, parameters)
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "get_job")]
pub async fn get_job(id: String) -> Result<Job, ServerFnError> {
    ssr::backend()?
        .job(&ssr::credentials(), &id)
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "list_jobs", input = Json)]
pub async fn list_jobs(filter: JobFilter) -> Result<JobPage, ServerFnError> {
    ssr::backend()?
        .jobs(&ssr::credentials(), filter)
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "cancel_job")]
pub async fn cancel_job(id: String) -> Result<Job, ServerFnError> {
    ssr::backend()?
        .cancel(&ssr::credentials(), &id)
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "delete_job")]
pub async fn delete_job(id: String) -> Result<(), ServerFnError> {
    ssr::backend()?
        .delete_job(&ssr::credentials(), &id)
        .await
        .map_err(ssr::to_fn_error)
}

/// Deletes every finished job; returns how many.
#[server(prefix = "/apps/tasks/fn", endpoint = "clear_jobs")]
pub async fn clear_jobs() -> Result<usize, ServerFnError> {
    ssr::backend()?
        .clear_jobs(&ssr::credentials())
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "list_schedules")]
pub async fn list_schedules() -> Result<Vec<ScheduleInfo>, ServerFnError> {
    ssr::backend()?
        .schedules(&ssr::credentials())
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserInfo>, ServerFnError> {
    ssr::backend()?
        .users(&ssr::credentials())
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "create_user", input = Json)]
pub async fn create_user(
    username: String,
    password: String,
    role: Role,
) -> Result<SaveOutcome, ServerFnError> {
    ssr::backend()?
        .create_user(&ssr::credentials(), &username, &password, role)
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "list_tokens")]
pub async fn list_tokens() -> Result<Vec<ApiToken>, ServerFnError> {
    ssr::backend()?
        .tokens(&ssr::credentials())
        .await
        .map_err(ssr::to_fn_error)
}

/// Creates an API token; the answer is the only time its secret is shown.
#[server(prefix = "/apps/tasks/fn", endpoint = "create_token")]
pub async fn create_token(username: String, name: String) -> Result<IssuedToken, ServerFnError> {
    ssr::backend()?
        .create_token(&ssr::credentials(), &username, &name)
        .await
        .map_err(ssr::to_fn_error)
}

#[server(prefix = "/apps/tasks/fn", endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<(), ServerFnError> {
    ssr::backend()?
        .revoke_token(&ssr::credentials(), id)
        .await
        .map_err(ssr::to_fn_error)
}
