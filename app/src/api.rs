//! `#[server]` functions: typed calls from the page to the server.
//! Each one finds the [`crate::backend::Backend`] in context and passes the
//! request headers along, so the server authenticates every call.

use crate::model::*;
use leptos::prelude::*;

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

    pub fn to_fn_error(e: BackendError) -> ServerFnError {
        if matches!(e, BackendError::Unauthenticated) {
            leptos_axum::ResponseOptions::set_status(
                &expect_context::<leptos_axum::ResponseOptions>(),
                http::StatusCode::UNAUTHORIZED,
            );
        } else if matches!(e, BackendError::Forbidden(_)) {
            leptos_axum::ResponseOptions::set_status(
                &expect_context::<leptos_axum::ResponseOptions>(),
                http::StatusCode::FORBIDDEN,
            );
        }
        ServerFnError::new(e.to_string())
    }
}

/// Health figures for the page frame.
#[server(prefix = "/apps/tasks/fn")]
pub async fn get_health() -> Result<Health, ServerFnError> {
    Ok(ssr::backend()?.health().await)
}

/// Round-trips `value` through the database (signed-in users only).
#[server(prefix = "/apps/tasks/fn")]
pub async fn echo(value: String) -> Result<String, ServerFnError> {
    ssr::backend()?
        .echo(&ssr::credentials(), value)
        .await
        .map_err(ssr::to_fn_error)
}

/// The signed-in user, or `None`.
#[server(prefix = "/apps/tasks/fn")]
pub async fn current_user() -> Result<Option<Me>, ServerFnError> {
    Ok(ssr::backend()?.me(&ssr::credentials()).await)
}
