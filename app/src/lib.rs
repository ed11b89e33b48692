#![recursion_limit = "256"]
//! The Tasks app: Leptos components, the types the server and the browser
//! share, and the `#[server]` functions the components call.
//!
//! - [`model`]: jobs, scripts, statuses and their validation (both sides).
//! - [`backend`]: the trait the server implements for server functions (`ssr`).
//! - [`api`]: the `#[server]` functions.
//! - [`ui`]: pages and components.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod model;
pub mod ui;

pub use ui::{shell, App};
