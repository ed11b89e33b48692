//! The seam between the UI's server functions and the server crate.
//!
//! `app` cannot depend on `server` (the server depends on `app`), so the
//! server implements [`Backend`] over the same service layer the REST API
//! uses and hands it to Leptos as context. Authorization happens behind this
//! trait, never in the components: a server function that a role may not call
//! is refused by the server whatever the page showed.

use crate::model::*;
use async_trait::async_trait;
use http::HeaderMap;
use std::sync::Arc;

/// Errors a server function can report to the page.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum BackendError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("your role may not do this: {0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The request's credentials: the headers (cookie or token) it came with.
pub type Credentials = HeaderMap;

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Health figures, for the page frame.
    async fn health(&self) -> Health;

    /// Sends `value` through the database and back: proves the path from a
    /// server function to SQLite.
    async fn echo(&self, creds: &Credentials, value: String) -> Result<String, BackendError>;

    /// The signed-in user, if any.
    async fn me(&self, creds: &Credentials) -> Option<Me>;

    /// Checks a password and opens a session: the user and the
    /// `Set-Cookie` value that carries the session. Refused when the
    /// request comes from another site's page (login CSRF).
    async fn sign_in(
        &self,
        creds: &Credentials,
        username: &str,
        password: &str,
    ) -> Result<(Me, String), BackendError>;

    /// Ends the request's session: the `Set-Cookie` value that clears it.
    /// Refused when the request comes from another site's page.
    async fn sign_out(&self, creds: &Credentials) -> Result<String, BackendError>;

    async fn script_rows(&self, creds: &Credentials) -> Result<Vec<ScriptRow>, BackendError>;

    async fn script(&self, creds: &Credentials, name: &str) -> Result<Script, BackendError>;

    /// Saves a script. With `create`, an existing script of that name is an
    /// error on the name field rather than replaced.
    async fn save_script(
        &self,
        creds: &Credentials,
        script: Script,
        create: bool,
    ) -> Result<SaveOutcome, BackendError>;

    async fn delete_script(&self, creds: &Credentials, name: &str) -> Result<(), BackendError>;

    async fn remove_extra_file(&self, creds: &Credentials, name: &str) -> Result<(), BackendError>;

    /// The next five fire times of an expression, or what is wrong with it.
    async fn cron_preview(
        &self,
        creds: &Credentials,
        cron: &str,
        time_zone: Option<&str>,
    ) -> Result<Result<Vec<String>, String>, BackendError>;

    /// Starts a job from the UI; returns its id.
    async fn run(
        &self,
        creds: &Credentials,
        name: &str,
        parameters: Option<String>,
    ) -> Result<String, BackendError>;

    async fn job(&self, creds: &Credentials, id: &str) -> Result<Job, BackendError>;

    async fn jobs(&self, creds: &Credentials, filter: JobFilter) -> Result<JobPage, BackendError>;

    async fn cancel(&self, creds: &Credentials, id: &str) -> Result<Job, BackendError>;

    async fn delete_job(&self, creds: &Credentials, id: &str) -> Result<(), BackendError>;

    /// Deletes every finished job; returns how many.
    async fn clear_jobs(&self, creds: &Credentials) -> Result<usize, BackendError>;

    async fn schedules(&self, creds: &Credentials) -> Result<Vec<ScheduleInfo>, BackendError>;

    async fn users(&self, creds: &Credentials) -> Result<Vec<UserInfo>, BackendError>;

    async fn create_user(
        &self,
        creds: &Credentials,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<SaveOutcome, BackendError>;

    async fn tokens(&self, creds: &Credentials) -> Result<Vec<ApiToken>, BackendError>;

    async fn create_token(
        &self,
        creds: &Credentials,
        username: &str,
        name: &str,
    ) -> Result<IssuedToken, BackendError>;

    async fn revoke_token(&self, creds: &Credentials, id: i64) -> Result<(), BackendError>;
}

/// How server functions find the backend.
pub type SharedBackend = Arc<dyn Backend>;
