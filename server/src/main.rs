//! The `taskwright` server binary.
//!
//! Run with `make run` (builds the site, then starts on 127.0.0.1:3000 with
//! data under ./data), or after a build: `taskwright --help` lists every
//! setting; each is also a `TASKWRIGHT_*` environment variable.

use clap::{Parser, Subcommand};
use std::io::Write;
use taskwright::config::{Config, LogFormat};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "taskwright",
    version,
    about = "Taskwright: keep Python and bash scripts and run them as jobs.",
    long_about = "Taskwright: keep Python and bash scripts and run them as jobs — on demand \
                  from a browser or curl, or on a cron schedule — with live logs, output files \
                  and mail when a job fails.\n\nRun with no arguments to start the server on \
                  127.0.0.1:3000 with its data under ./data."
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The example scripts shipped with Taskwright (see examples/ and the README).
    Examples {
        #[command(subcommand)]
        action: ExamplesAction,
    },
}

#[derive(Subcommand)]
enum ExamplesAction {
    /// Create (or restore) the example scripts on a running server.
    Load {
        /// The server's URL.
        #[arg(long, env = "TASKWRIGHT_URL", default_value = "http://127.0.0.1:3000")]
        url: String,
        /// An admin API token (POST /api/tokens, or Tokens in the app).
        #[arg(long, env = "TASKWRIGHT_TOKEN", hide_env_values = true)]
        token: String,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Cli {
        config: cfg,
        command,
    } = Cli::parse();
    if let Some(Command::Examples {
        action: ExamplesAction::Load { url, token },
    }) = command
    {
        return match taskwright::examples::load(&url, &token).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("taskwright examples load: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let secret_flags = taskwright::secrets::protect();
    let filter = EnvFilter::try_new(&cfg.log).unwrap_or_else(|_| EnvFilter::new("info"));
    match cfg.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
    }
    for flag in secret_flags {
        tracing::warn!(
            flag,
            "a secret was given as a command-line flag, which every user of this machine can \
             see in the process list; set its TASKWRIGHT_* environment variable instead"
        );
    }
    match serve(cfg).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("taskwright: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(cfg.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.bind))?;
    let bound = listener.local_addr()?;
    let built = taskwright::build(cfg, bound).await?;
    let url = format!("{}/apps/tasks", built.state.public_url);
    // Written with errors ignored: a closed stdout must not stop the server.
    let greeting = match &built.generated_password {
        Some(p) => format!(
            "First start: sign in as user \"admin\" with password {p}\n(shown only now; \
             change it under Users, or set TASKWRIGHT_ADMIN_PASSWORD before the first start)"
        ),
        None => "Sign in with your Taskwright user name and password.".to_string(),
    };
    let _ = writeln!(
        std::io::stdout(),
        "Taskwright is running at {url}\n{greeting}"
    );
    let store = built.state.engine.store().clone();
    axum::serve(listener, built.router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shutting down: stopping running jobs, then closing the database");
    built.state.engine.shutdown().await;
    store.close().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
