//! The state every request handler shares. Built once in [`crate::build`];
//! lives as long as the server.

use crate::auth::{Auth, Caller};
use crate::config::Config;
use crate::engine::Engine;
use crate::error::Error;
use crate::scheduler::Scheduler;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::Method;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub auth: Auth,
    pub scheduler: Scheduler,
    pub cfg: Arc<Config>,
    /// The configured public URL, without a trailing slash.
    pub public_url: String,
    pub leptos: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}

/// Every handler that takes a [`Caller`] requires credentials. A request
/// authenticated by the session cookie that changes state must come from
/// this server's own pages: its `Origin` (or `Sec-Fetch-Site`) is checked,
/// so another site cannot make a signed-in browser start jobs. The one GET
/// that changes state, a synchronous run, checks the same in its handler;
/// signing in and out check it whatever the credentials.
impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let caller = state.auth.require(&parts.headers).await?;
        if caller.via_cookie && !is_safe(&parts.method) {
            check_same_origin(&parts.headers, &state.public_url)?;
        }
        Ok(caller)
    }
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses cross-site requests. Browsers send `Origin` on every POST, PUT and
/// DELETE, and `Sec-Fetch-Site` on every request (a GET navigation from
/// another site says `cross-site`); clients that are not browsers send
/// neither header and are let through.
pub fn check_same_origin(h: &http::HeaderMap, public_url: &str) -> Result<(), Error> {
    if let Some(origin) = h.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = h
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let own = origin == public_url
            || origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host);
        if !own {
            return Err(Error::Forbidden(format!(
                "cross-site request refused: origin {origin} is not this server"
            )));
        }
        return Ok(());
    }
    match h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") | Some("none") | None => Ok(()),
        Some(other) => Err(Error::Forbidden(format!(
            "cross-site request refused ({other})"
        ))),
    }
}
