//! Types shared by the server, the REST API and the browser UI.
//!
//! Everything here compiles for both the server (`ssr`) and the browser
//! (`hydrate`), so it holds data and validation only: no I/O.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A job's state, with the names EMX2 uses. A job moves forward only:
/// `WAITING` → `RUNNING` → one of the final states, or straight from
/// `WAITING` to `CANCELLED`. `SKIPPED` is a cron slot that was not run.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Waiting,
    Running,
    Completed,
    Error,
    Cancelled,
    Skipped,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Waiting,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Error,
        JobStatus::Cancelled,
        JobStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Waiting => "WAITING",
            JobStatus::Running => "RUNNING",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Error => "ERROR",
            JobStatus::Cancelled => "CANCELLED",
            JobStatus::Skipped => "SKIPPED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Final states never change again.
    pub fn is_finished(self) -> bool {
        !matches!(self, JobStatus::Waiting | JobStatus::Running)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptType {
    Python,
    Bash,
}

impl ScriptType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptType::Python => "python",
            ScriptType::Bash => "bash",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "python" => Some(ScriptType::Python),
            "bash" => Some(ScriptType::Bash),
            _ => None,
        }
    }
}

/// What started a job.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Api,
    Ui,
    Cron,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Api => "api",
            Trigger::Ui => "ui",
            Trigger::Cron => "cron",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "api" => Some(Trigger::Api),
            "ui" => Some(Trigger::Ui),
            "cron" => Some(Trigger::Cron),
            _ => None,
        }
    }
}

/// A user's one role. Each role can do what the ones below it can.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// See scripts and jobs.
    Viewer,
    /// Also run scripts and cancel jobs.
    Runner,
    /// Everything: scripts, users, tokens, deleting jobs.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Runner => "runner",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Role::Viewer),
            "runner" => Some(Role::Runner),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The signed-in user as the UI sees them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub role: Role,
}

/// Name and size of a script's extra file.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtraFileInfo {
    pub name: String,
    pub size: u64,
}

/// A stored script, as the definition endpoints and the UI exchange it.
/// Field names follow EMX2's columns (`outputFileExtension`, `failureAddress`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Script {
    pub name: String,
    #[serde(rename = "type")]
    pub script_type: ScriptType,
    pub script: String,
    #[serde(default)]
    pub dependencies: Option<String>,
    #[serde(default)]
    pub output_file_extension: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub failure_address: Option<String>,
    #[serde(default)]
    pub cron: Option<String>,
    /// IANA time zone for `cron`; the server default when absent.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Let a cron slot start while the previous run is still going.
    #[serde(default)]
    pub allow_overlap: bool,
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
    /// Set by the server; ignored when a client sends it.
    #[serde(default)]
    pub extra_file: Option<ExtraFileInfo>,
    #[serde(default)]
    pub saved_by: Option<String>,
    #[serde(default)]
    pub created_ms: i64,
    #[serde(default)]
    pub updated_ms: i64,
}

/// A field that failed validation, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

pub const MAX_NAME_LEN: usize = 128;

/// Script names: 1–128 letters, digits, spaces, `-`, `_` or `.`.
pub fn validate_script_name(name: &str) -> Result<(), FieldError> {
    let err = |message: String| FieldError {
        field: "name".into(),
        message,
    };
    if name.is_empty() {
        return Err(err("the name is empty".into()));
    }
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return Err(err(format!(
            "the name has {len} characters; at most {MAX_NAME_LEN} are allowed"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')))
    {
        return Err(err(format!(
            "the character {c:?} is not allowed; use letters, digits, spaces, '-', '_' or '.'"
        )));
    }
    if name.trim() != name {
        return Err(err("the name starts or ends with a space".into()));
    }
    if name == "." || name == ".." {
        return Err(err("the name cannot be '.' or '..'".into()));
    }
    Ok(())
}

/// Output extensions: 1–16 letters or digits, no dot (`csv`, `tar.gz` is `gz`).
pub fn validate_extension(ext: &str) -> Result<(), FieldError> {
    let err = |message: String| FieldError {
        field: "outputFileExtension".into(),
        message,
    };
    if let Some(bare) = ext.strip_prefix('.') {
        return Err(err(format!("write the extension without a dot: {bare:?}")));
    }
    if ext.is_empty() || ext.len() > 16 {
        return Err(err("the extension must have 1 to 16 characters".into()));
    }
    if let Some(c) = ext
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.'))
    {
        return Err(err(format!(
            "the character {c:?} is not allowed in an extension"
        )));
    }
    if ext.ends_with('.') || ext.contains("..") {
        return Err(err(format!("{ext:?} is not a file extension")));
    }
    Ok(())
}

/// An e-mail address check with messages a person can act on: one `@`, a
/// dotted domain, no spaces or control characters, and the local part and
/// domain the mailer (lettre, through the `email_address` crate) accepts.
pub fn validate_email(addr: &str) -> Result<(), FieldError> {
    let err = |message: String| FieldError {
        field: "failureAddress".into(),
        message,
    };
    let Some((local, domain)) = addr.split_once('@') else {
        return Err(err(format!(
            "{addr:?} is not an e-mail address: it has no '@'"
        )));
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err(err(format!("{addr:?} is not an e-mail address")));
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(err(format!("{addr:?} has no valid domain after the '@'")));
    }
    if addr
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ','))
    {
        return Err(err(format!(
            "{addr:?} contains a space or a character not allowed in an address"
        )));
    }
    // The mailer sends only to what this parser accepts: refuse the rest now,
    // not when the first failure mail cannot go out.
    if !email_address::EmailAddress::is_valid_local_part(local) {
        return Err(err(format!(
            "{addr:?} is not an e-mail address: {local:?} before the '@' is not allowed \
             (no leading, trailing or double dots, no quotes or brackets)"
        )));
    }
    if !email_address::EmailAddress::is_valid_domain(domain) {
        return Err(err(format!(
            "{addr:?} has no valid domain after the '@' ({domain:?})"
        )));
    }
    Ok(())
}

/// One log line of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Position in the job's log, from 1.
    pub n: i64,
    pub stream: LogStream,
    pub time_ms: i64,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// Lines written by Taskwright itself (environment set-up, kills).
    System,
}

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
            LogStream::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stdout" => Some(LogStream::Stdout),
            "stderr" => Some(LogStream::Stderr),
            "system" => Some(LogStream::System),
            _ => None,
        }
    }
}

/// The output file a job produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputInfo {
    pub filename: String,
    pub size: u64,
    pub content_type: String,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub script: String,
    pub status: JobStatus,
    pub parameters: Option<String>,
    pub submit_user: Option<String>,
    pub trigger: Trigger,
    pub submitted_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub output: Option<OutputInfo>,
    /// Bytes of log left out between the kept head and tail.
    pub log_omitted_bytes: i64,
    /// `sent`, `failed`, `off` (no SMTP server configured) or absent when
    /// no mail was due.
    pub mail_status: Option<String>,
    pub mail_error: Option<String>,
}

/// A page of jobs, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    pub total: i64,
}

/// Filters for listing jobs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobFilter {
    pub script: Option<String>,
    pub status: Option<JobStatus>,
    pub limit: i64,
    pub offset: i64,
}

/// What the health check reports.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub database: String,
    pub waiting: i64,
    pub running: i64,
}

/// One row of the scripts table: the script, its next fire time and its
/// latest job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptRow {
    pub script: Script,
    /// RFC 3339 in the script's time zone; absent without a (valid) cron.
    pub next_run: Option<String>,
    pub last_job: Option<Job>,
}

/// What saving a script from the form led to. Validation problems are an
/// answer, not a failure, so the form can put each one beside its field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SaveOutcome {
    Saved { created: bool },
    Invalid(Vec<FieldError>),
}

/// A scheduled script and its coming fire times.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleInfo {
    pub name: String,
    pub cron: String,
    pub time_zone: String,
    pub disabled: bool,
    /// RFC 3339 in `time_zone`; empty when disabled or invalid.
    pub next: Vec<String>,
    /// Why the expression cannot be scheduled, when it cannot.
    pub error: Option<String>,
}

/// A user as the admin pages list them (never the password hash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
    pub role: Role,
    pub created_ms: i64,
}

/// An API token without its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
}

/// A token just created: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub id: i64,
    pub token: String,
}

/// Formats epoch milliseconds as `YYYY-MM-DD HH:MM:SS` in UTC. The same on
/// the server and in the browser, so hydration sees identical text.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Formats a duration in milliseconds for people: `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn format_duration(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {:02} s", ms / 60_000, ms % 60_000 / 1000)
    }
}

/// Formats a byte count: `512 B`, `1.5 KiB`, `2.0 MiB`.
pub fn format_bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_the_offending_character() {
        assert!(validate_script_name("hello world-1_2.v3").is_ok());
        let e = validate_script_name("a/b").unwrap_err();
        assert!(e.message.contains("'/'"), "{e}");
        assert!(validate_script_name("").is_err());
        assert!(validate_script_name(&"x".repeat(129)).is_err());
        assert!(validate_script_name("..").is_err());
    }

    #[test]
    fn extensions_and_addresses() {
        assert!(validate_extension("csv").is_ok());
        assert!(validate_extension("tar.gz").is_ok());
        assert!(validate_extension(".csv")
            .unwrap_err()
            .message
            .contains("without a dot"));
        assert!(validate_extension("a/b").is_err());
        assert!(validate_email("ops@example.org").is_ok());
        assert!(validate_email("ops.example.org").is_err());
        assert!(validate_email("ops@localhost").is_err());
        // What lettre, the mailer, would refuse at send time is refused now.
        for bad in [
            "a..b@c.de",
            "a(b)@c.de",
            "a;b@c.de",
            ".a@c.de",
            "a@-c.de",
            "a\"@c.de",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
            assert!(
                bad.parse::<lettre::Address>().is_err(),
                "lettre takes {bad}"
            );
        }
        for good in ["first.last+tag@sub.example.org", "o'neil@example.co.uk"] {
            assert!(validate_email(good).is_ok(), "{good}");
            assert!(
                good.parse::<lettre::Address>().is_ok(),
                "lettre refuses {good}"
            );
        }
    }

    #[test]
    fn times_format_the_same_everywhere() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00");
        assert_eq!(format_ms(1_709_210_096_000), "2024-02-29 12:34:56");
        assert_eq!(format_duration(850), "850 ms");
        assert_eq!(format_duration(12_345), "12.3 s");
        assert_eq!(format_duration(245_000), "4 min 05 s");
        assert_eq!(format_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn statuses_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert!(!JobStatus::Running.is_finished());
        assert!(JobStatus::Skipped.is_finished());
    }
}
