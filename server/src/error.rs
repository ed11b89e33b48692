//! The domain error type. Every layer below HTTP returns [`Error`]; the REST
//! API turns it into a status code and EMX2's error body in one place
//! (`api::error`), and the UI backend into a `BackendError`. Internal details
//! (database and I/O errors) are logged where handled and not sent to clients.

use app::model::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    /// The path exists, but not for this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
