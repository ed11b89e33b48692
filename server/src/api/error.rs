//! The one place a domain [`Error`] becomes an HTTP answer: the right status
//! code and EMX2's body shape, `{"errors":[{"message":"…"}]}`. Internal
//! errors are logged here, where they are handled, and the client gets a
//! generic message.

use crate::error::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Invalid(_) | Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Db(_) | Error::Io(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = match &self {
            Error::Invalid(fields) => json!({
                "errors": fields.iter().map(|f| json!({"message": f.to_string(), "field": f.field}))
                    .collect::<Vec<_>>()
            }),
            e if status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %e, "request failed");
                json!({"errors": [{"message": "internal server error; the server log has the details"}]})
            }
            e => json!({"errors": [{"message": e.to_string()}]}),
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"taskwright\""),
            );
        }
        resp
    }
}

/// An error body with extra fields (a failed synchronous run adds the task).
pub fn error_with(status: StatusCode, message: &str, extra: serde_json::Value) -> Response {
    let mut body = json!({"errors": [{"message": message}]});
    if let (Some(obj), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    (status, Json(body)).into_response()
}
