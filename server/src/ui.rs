//! The browser app's side of the server: the [`Backend`] that the Leptos
//! server functions call, over the same service layer as the REST API.

use crate::auth::{clear_session_cookie, session_cookie, Caller};
use crate::error::Error;
use crate::service;
use crate::state::AppState;
use app::backend::{Backend, BackendError, Credentials};
use app::model::*;
use async_trait::async_trait;

pub struct UiBackend(pub AppState);

impl From<Error> for BackendError {
    fn from(e: Error) -> Self {
        match e {
            Error::Unauthenticated(_) => BackendError::Unauthenticated,
            Error::Forbidden(m) => BackendError::Forbidden(m),
            Error::NotFound(m) => BackendError::NotFound(m),
            Error::Conflict(m) => BackendError::Conflict(m),
            Error::Invalid(f) => BackendError::Invalid(f),
            Error::BadRequest(m) | Error::TooLarge(m) | Error::MethodNotAllowed(m) => {
                BackendError::BadRequest(m)
            }
            e @ (Error::Db(_) | Error::Io(_) | Error::Internal(_)) => {
                tracing::error!(error = %e, "server function failed");
                BackendError::Internal("the server log has the details".into())
            }
        }
    }
}

impl UiBackend {
    /// The caller of a read.
    async fn caller(&self, creds: &Credentials) -> Result<Caller, BackendError> {
        Ok(self.0.auth.require(creds).await?)
    }

    /// The caller of a change: a browser session must come from this
    /// server's own pages, the same rule the REST API applies.
    async fn changer(&self, creds: &Credentials) -> Result<Caller, BackendError> {
        let caller = self.caller(creds).await?;
        if caller.via_cookie {
            crate::state::check_same_origin(creds, &self.0.public_url)?;
        }
        Ok(caller)
    }

    fn secure_cookie(&self) -> bool {
        self.0.public_url.starts_with("https://")
    }
}

/// Splits validation errors off into an answer the form can show.
fn outcome(r: Result<bool, Error>) -> Result<SaveOutcome, BackendError> {
    match r {
        Ok(created) => Ok(SaveOutcome::Saved { created }),
        Err(Error::Invalid(fields)) => Ok(SaveOutcome::Invalid(fields)),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl Backend for UiBackend {
    async fn health(&self) -> Health {
        service::health(&self.0).await
    }

    async fn echo(&self, creds: &Credentials, value: String) -> Result<String, BackendError> {
        let c = self.caller(creds).await?;
        c.require(Role::Viewer, "echo")?;
        Ok(self.0.engine.store().echo(&value).await?)
    }

    async fn me(&self, creds: &Credentials) -> Option<Me> {
        self.0
            .auth
            .authenticate(creds)
            .await
            .ok()
            .flatten()
            .map(|c| c.me())
    }

    async fn sign_in(
        &self,
        creds: &Credentials,
        username: &str,
        password: &str,
    ) -> Result<(Me, String), BackendError> {
        crate::state::check_same_origin(creds, &self.0.public_url)?;
        // A refused password is an answer to show, not "sign in first".
        let (caller, secret) = self
            .0
            .auth
            .sign_in(username.trim(), password)
            .await
            .map_err(|e| match e {
                Error::Unauthenticated(m) => BackendError::BadRequest(m),
                e => e.into(),
            })?;
        Ok((caller.me(), session_cookie(&secret, self.secure_cookie())))
    }

    async fn sign_out(&self, creds: &Credentials) -> Result<String, BackendError> {
        crate::state::check_same_origin(creds, &self.0.public_url)?;
        self.0.auth.sign_out(creds).await?;
        Ok(clear_session_cookie())
    }

    async fn script_rows(&self, creds: &Credentials) -> Result<Vec<ScriptRow>, BackendError> {
        let c = self.caller(creds).await?;
        Ok(service::script_rows(&self.0, &c).await?)
    }

    async fn script(&self, creds: &Credentials, name: &str) -> Result<Script, BackendError> {
        let c = self.caller(creds).await?;
        Ok(service::script(&self.0, &c, name).await?)
    }

    async fn save_script(
        &self,
        creds: &Credentials,
        script: Script,
        create: bool,
    ) -> Result<SaveOutcome, BackendError> {
        let c = self.changer(creds).await?;
        c.require(Role::Admin, "saving a script")?;
        if create && service::script(&self.0, &c, &script.name).await.is_ok() {
            return Ok(SaveOutcome::Invalid(vec![FieldError {
                field: "name".into(),
                message: format!("a script named {:?} exists already", script.name),
            }]));
        }
        outcome(service::save_script(&self.0, &c, script).await)
    }

    async fn delete_script(&self, creds: &Credentials, name: &str) -> Result<(), BackendError> {
        let c = self.changer(creds).await?;
        Ok(service::delete_script(&self.0, &c, name).await?)
    }

    async fn remove_extra_file(&self, creds: &Credentials, name: &str) -> Result<(), BackendError> {
        let c = self.changer(creds).await?;
        Ok(service::set_extra_file(&self.0, &c, name, None).await?)
    }

    async fn cron_preview(
        &self,
        creds: &Credentials,
        cron: &str,
        time_zone: Option<&str>,
    ) -> Result<Result<Vec<String>, String>, BackendError> {
        let c = self.caller(creds).await?;
        Ok(service::cron_preview(
            &self.0,
            &c,
            cron.trim(),
            time_zone,
            5,
        )?)
    }

    async fn run(
        &self,
        creds: &Credentials,
        name: &str,
        parameters: Option<String>,
    ) -> Result<String, BackendError> {
        let c = self.changer(creds).await?;
        let parameters = parameters.filter(|p| !p.trim().is_empty());
        Ok(service::run(&self.0, &c, name, parameters, Trigger::Ui).await?)
    }

    async fn job(&self, creds: &Credentials, id: &str) -> Result<Job, BackendError> {
        let c = self.caller(creds).await?;
        Ok(service::job(&self.0, &c, id).await?)
    }

    async fn jobs(&self, creds: &Credentials, filter: JobFilter) -> Result<JobPage, BackendError> {
        let c = self.caller(creds).await?;
        Ok(service::jobs(&self.0, &c, &filter).await?)
    }

    async fn cancel(&self, creds: &Credentials, id: &str) -> Result<Job, BackendError> {
        let c = self.changer(creds).await?;
        Ok(service::cancel(&self.0, &c, id).await?)
    }

    async fn delete_job(&self, creds: &Credentials, id: &str) -> Result<(), BackendError> {
        let c = self.changer(creds).await?;
        Ok(service::delete_job(&self.0, &c, id).await?)
    }

    async fn clear_jobs(&self, creds: &Credentials) -> Result<usize, BackendError> {
        let c = self.changer(creds).await?;
        Ok(service::clear(&self.0, &c).await?)
    }

    async fn schedules(&self, creds: &Credentials) -> Result<Vec<ScheduleInfo>, BackendError> {
        let c = self.caller(creds).await?;
        c.require(Role::Viewer, "listing schedules")?;
        // The scheduler's listing is the one `GET /api/tasks/scheduled` sends.
        let list = self.0.scheduler.list(5).await?;
        Ok(list
            .into_iter()
            .filter_map(|v| {
                Some(ScheduleInfo {
                    name: v.get("name")?.as_str()?.to_string(),
                    cron: v.get("cron")?.as_str()?.to_string(),
                    time_zone: v.get("timeZone")?.as_str()?.to_string(),
                    disabled: v.get("disabled").and_then(|d| d.as_bool()).unwrap_or(false),
                    next: v
                        .get("next")
                        .and_then(|n| n.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|t| t.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                    error: v.get("error").and_then(|e| e.as_str()).map(String::from),
                })
            })
            .collect())
    }

    async fn users(&self, creds: &Credentials) -> Result<Vec<UserInfo>, BackendError> {
        let c = self.caller(creds).await?;
        Ok(service::list_users(&self.0, &c).await?)
    }

    async fn create_user(
        &self,
        creds: &Credentials,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<SaveOutcome, BackendError> {
        let c = self.changer(creds).await?;
        outcome(
            service::create_user(&self.0, &c, username.trim(), password, role)
                .await
                .map(|()| true),
        )
    }

    async fn tokens(&self, creds: &Credentials) -> Result<Vec<ApiToken>, BackendError> {
        let c = self.caller(creds).await?;
        Ok(service::list_tokens(&self.0, &c).await?)
    }

    async fn create_token(
        &self,
        creds: &Credentials,
        username: &str,
        name: &str,
    ) -> Result<IssuedToken, BackendError> {
        let c = self.changer(creds).await?;
        Ok(service::create_token(&self.0, &c, username, name).await?)
    }

    async fn revoke_token(&self, creds: &Credentials, id: i64) -> Result<(), BackendError> {
        let c = self.changer(creds).await?;
        Ok(service::revoke_token(&self.0, &c, id).await?)
    }
}
