//! Taskwright's server: keep Python and bash scripts, run them as jobs.
//!
//! How the parts fit, from the outside in:
//!
//! - [`config`]: every setting, from flags and `TASKWRIGHT_*` variables.
//! - [`build`] (here): opens the store, starts the engine and scheduler,
//!   and assembles the axum router: REST API, UI and static files.
//! - [`api`]: the REST API (EMX2-compatible) and its error mapping.
//! - [`graphql`]: `/api/graphql`, what EMX2's Python client needs.
//! - [`ui`]: the backend behind the Leptos app's server functions.
//! - [`service`]: operations with their role checks, shared by API and UI.
//! - [`auth`]: passwords, sessions, tokens, roles.
//! - [`engine`]: the job runner — queue, processes, logs, Python
//!   environments, cancel, timeouts, crash recovery, retention.
//! - [`scheduler`]: cron schedules that submit jobs to the engine.
//! - [`mailer`]: failure mail, sent in the background when a job ends `ERROR`.
//! - [`store`]: every SQL statement; [`db`]: opening and migrating SQLite.
//! - [`error`]: the domain error type every layer returns.
//! - [`examples`]: `taskwright examples load`, the shipped example scripts.
//! - [`secrets`]: hiding the server's own secrets from the jobs it runs.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod engine;
pub mod error;
pub mod examples;
pub mod graphql;
pub mod mailer;
pub mod scheduler;
pub mod secrets;
pub mod service;
pub mod state;
pub mod store;
pub mod ui;

use anyhow::Context;
use app::backend::SharedBackend;
use axum::Router;
use config::Config;
use engine::{Engine, EngineConfig};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower_http::trace::TraceLayer;

/// Everything a running server holds, for `main` and for tests.
pub struct Built {
    pub router: Router,
    pub state: AppState,
    /// The admin password, when it was generated on this start.
    pub generated_password: Option<String>,
}

/// Opens the data directory and database, recovers and starts the engine and
/// the scheduler, and builds the router. `bound` is the address actually
/// listened on (it matters when the configured port is 0).
pub async fn build(cfg: Config, bound: SocketAddr) -> anyhow::Result<Built> {
    db::prepare_data_dir(&cfg.data_dir)?;
    let store = store::Store::new(db::connect(&cfg.database_url()).await?);
    let public_url = cfg.public_url(bound);
    let data_dir = std::fs::canonicalize(&cfg.data_dir)
        .with_context(|| format!("cannot resolve {}", cfg.data_dir.display()))?;

    let engine = Engine::start(
        store.clone(),
        EngineConfig {
            data_dir,
            python: cfg.python.clone(),
            uv: cfg.uv.clone(),
            max_concurrent: cfg.max_concurrent_jobs(),
            kill_grace: Duration::from_secs(cfg.kill_grace_seconds),
            default_timeout: cfg.default_timeout_seconds.map(Duration::from_secs),
            log_max_bytes: cfg.log_max_bytes,
            max_unpacked_bytes: cfg.max_unpacked_bytes,
            public_url: public_url.clone(),
            retention_days: cfg.retention_days,
            retention_max_jobs: cfg.retention_max_jobs,
        },
    )
    .await?;
    match mailer::Mailer::from_config(&cfg, store.clone(), &public_url)? {
        Some(mailer) => engine.on_finish(Arc::new(mailer).hook()),
        None => engine.on_finish(mailer::off_hook(store.clone())),
    }
    let auth = auth::Auth::new(store.clone(), cfg.admin_token.as_deref());
    let generated_password = auth.bootstrap(cfg.admin_password.as_deref()).await?;
    let tz: chrono_tz::Tz = cfg.time_zone.parse().map_err(|_| {
        anyhow::anyhow!(
            "TASKWRIGHT_TIME_ZONE {:?} is not an IANA time zone name",
            cfg.time_zone
        )
    })?;
    let scheduler = scheduler::Scheduler::start(engine.clone(), tz).await?;

    let leptos = LeptosOptions::builder()
        .output_name("taskwright")
        .site_root(cfg.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(bound)
        .build();
    let state = AppState {
        engine,
        auth,
        scheduler,
        cfg: Arc::new(cfg),
        public_url,
        leptos,
    };
    let router = router(state.clone());
    Ok(Built {
        router,
        state,
        generated_password,
    })
}

fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let backend: SharedBackend = Arc::new(ui::UiBackend(state.clone()));
    let leptos = state.leptos.clone();
    let ui_context = {
        let backend = backend.clone();
        move || provide_context(backend.clone())
    };
    Router::new()
        .merge(api::router(&state))
        .route("/", axum::routing::get(|| async { axum::response::Redirect::temporary("/apps/tasks") }))
        .leptos_routes_with_context(&state, routes, ui_context.clone(), {
            let leptos = leptos.clone();
            move || app::shell(leptos.clone())
        })
        .route(
            "/apps/tasks/fn/{*fn_name}",
            axum::routing::post({
                let ui_context = ui_context.clone();
                move |req| leptos_axum::handle_server_fns_with_context(ui_context.clone(), req)
            }),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(
            // One span per request; its end is logged at info with the
            // status and latency (the path only, never the query or headers).
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
                })
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        .with_state(state)
}
