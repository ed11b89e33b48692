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
}

/// How server functions find the backend.
pub type SharedBackend = Arc<dyn Backend>;
