//! Opening the SQLite database: data directory checks, pragmas, migrations.

use anyhow::{bail, Context};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Migrations from `migrations/`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Makes sure `dir` exists and is writable, with a message that says which
/// directory and what to do when it is not.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the data directory {}: choose another with --data-dir or \
             TASKWRIGHT_DATA_DIR",
            dir.display()
        )
    })?;
    let probe = dir.join(".write-test");
    if let Err(e) = std::fs::write(&probe, b"ok") {
        bail!(
            "the data directory {} is not writable ({e}): fix its permissions or choose \
             another with --data-dir or TASKWRIGHT_DATA_DIR",
            dir.display()
        );
    }
    let _ = std::fs::remove_file(probe);
    for sub in ["jobs", "outputs", "venvs"] {
        std::fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
    }
    Ok(())
}

/// The database's connections: readers, and the one writer (see
/// [`crate::store::Store`] for why writes go through one connection).
pub struct Pools {
    pub read: SqlitePool,
    pub write: SqlitePool,
}

/// Opens (creating when missing) the database and applies pending migrations.
/// WAL journal, foreign keys on, 5 s busy timeout.
pub async fn connect(url: &str) -> anyhow::Result<Pools> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("the database URL {url:?} is not a SQLite URL"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    MIGRATOR
        .run(&write)
        .await
        .context("applying database migrations failed; the server will not start")?;
    let read = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    Ok(Pools { read, write })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
