//! The browser app's side of the server: the [`Backend`] that the Leptos
//! server functions call, over the same service layer as the REST API.

use crate::auth::Caller;
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
            Error::BadRequest(m) | Error::TooLarge(m) => BackendError::BadRequest(m),
            e @ (Error::Db(_) | Error::Io(_) | Error::Internal(_)) => {
                tracing::error!(error = %e, "server function failed");
                BackendError::Internal("the server log has the details".into())
            }
        }
    }
}

impl UiBackend {
    async fn caller(&self, creds: &Credentials) -> Result<Caller, BackendError> {
        Ok(self.0.auth.require(creds).await?)
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
}
