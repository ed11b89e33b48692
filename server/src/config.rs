//! All of Taskwright's settings, read once at start-up from flags and
//! `TASKWRIGHT_*` environment variables. Nothing else reads the environment.

use clap::builder::TypedValueParser as _;
use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Clone, Debug)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "TASKWRIGHT_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    /// Directory for the database, job files, output files and Python environments.
    #[arg(long, env = "TASKWRIGHT_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Database URL; defaults to the SQLite file `taskwright.db` in the data directory.
    #[arg(long, env = "TASKWRIGHT_DATABASE_URL")]
    pub database_url: Option<String>,

    /// URL at which users and scripts reach this server (links in mail,
    /// `MOLGENIS_SERVER_URL`). Defaults to http://<bind>.
    #[arg(long, env = "TASKWRIGHT_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Jobs that may run at once; the rest wait in order. Defaults to the number of CPUs.
    #[arg(long, env = "TASKWRIGHT_MAX_CONCURRENT_JOBS")]
    pub max_concurrent_jobs: Option<usize>,

    /// Log filter, in `tracing` syntax (`info`, `taskwright=debug,tower_http=info`).
    #[arg(long, env = "TASKWRIGHT_LOG", default_value = "info")]
    pub log: String,

    /// Log format.
    #[arg(long, env = "TASKWRIGHT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Directory holding the compiled site (`pkg/` with the WASM, JS and CSS).
    #[arg(long, env = "TASKWRIGHT_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Python interpreter that job environments are built from.
    #[arg(long, env = "TASKWRIGHT_PYTHON", default_value = "python3")]
    pub python: String,

    /// The `uv` binary used to build Python environments; when it cannot be
    /// found, `python -m venv` and pip are used instead.
    #[arg(long, env = "TASKWRIGHT_UV", default_value = "uv")]
    pub uv: String,

    /// Seconds between SIGTERM and SIGKILL when a job is cancelled or times out.
    #[arg(long, env = "TASKWRIGHT_KILL_GRACE_SECONDS", default_value_t = 10)]
    pub kill_grace_seconds: u64,

    /// Timeout for scripts that set none; unset means no limit.
    #[arg(long, env = "TASKWRIGHT_DEFAULT_TIMEOUT_SECONDS")]
    pub default_timeout_seconds: Option<u64>,

    /// Log bytes kept per job; past this the head and the tail are kept.
    #[arg(long, env = "TASKWRIGHT_LOG_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub log_max_bytes: u64,

    /// Finished jobs older than this many days are deleted (0 keeps them forever).
    #[arg(long, env = "TASKWRIGHT_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u64,

    /// At most this many finished jobs are kept, the newest (0 means no limit).
    #[arg(long, env = "TASKWRIGHT_RETENTION_MAX_JOBS", default_value_t = 100_000)]
    pub retention_max_jobs: u64,

    /// Password for the `admin` user created on first start; random (printed once) when unset.
    #[arg(long, env = "TASKWRIGHT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// An extra admin API token, accepted while this is set (provisioning, automation).
    #[arg(long, env = "TASKWRIGHT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Largest accepted parameters text, in bytes. At most 131051: Linux
    /// passes no single argument or environment entry over 128 KiB.
    #[arg(long, env = "TASKWRIGHT_MAX_PARAMETERS_BYTES",
          default_value_t = crate::engine::MAX_PARAMETERS_BYTES,
          value_parser = clap::value_parser!(u64).range(0..=crate::engine::MAX_PARAMETERS_BYTES as u64)
              .map(|v| v as usize))]
    pub max_parameters_bytes: usize,

    /// Largest accepted extra file, in bytes.
    #[arg(long, env = "TASKWRIGHT_MAX_EXTRA_FILE_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub max_extra_file_bytes: usize,

    /// Most bytes a ZIP extra file may unpack to in a job's directory.
    #[arg(long, env = "TASKWRIGHT_MAX_UNPACKED_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub max_unpacked_bytes: u64,

    /// How long a synchronous run (`GET /api/scripts/{name}`) waits before answering 202.
    #[arg(long, env = "TASKWRIGHT_SYNC_WAIT_SECONDS", default_value_t = 60)]
    pub sync_wait_seconds: u64,

    /// Log lines included as `subTasks` in a task's JSON (the newest ones).
    #[arg(long, env = "TASKWRIGHT_TASK_LOG_LINES", default_value_t = 200)]
    pub task_log_lines: i64,

    /// Time zone for cron expressions of scripts that name none (IANA name).
    #[arg(long, env = "TASKWRIGHT_TIME_ZONE", default_value = "UTC")]
    pub time_zone: String,

    /// SMTP server for failure mail; no mail is sent when unset.
    #[arg(long, env = "TASKWRIGHT_SMTP_HOST")]
    pub smtp_host: Option<String>,

    /// SMTP port; defaults to 25, 587 or 465 by `--smtp-tls`.
    #[arg(long, env = "TASKWRIGHT_SMTP_PORT")]
    pub smtp_port: Option<u16>,

    /// SMTP transport security.
    #[arg(long, env = "TASKWRIGHT_SMTP_TLS", value_enum, default_value_t = SmtpTls::Starttls)]
    pub smtp_tls: SmtpTls,

    /// SMTP user name, when the server wants one.
    #[arg(long, env = "TASKWRIGHT_SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    /// SMTP password.
    #[arg(long, env = "TASKWRIGHT_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// Sender address of failure mail.
    #[arg(
        long,
        env = "TASKWRIGHT_MAIL_FROM",
        default_value = "taskwright@localhost"
    )]
    pub mail_from: String,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

impl Config {
    /// The configuration with every default, data under `data_dir`; for tests.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut c = Config::parse_from(["taskwright"]);
        c.data_dir = data_dir.into();
        c
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir.join("taskwright.db").display())
        })
    }

    /// The public URL without a trailing slash.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }

    pub fn max_concurrent_jobs(&self) -> usize {
        self.max_concurrent_jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1)
    }
}
