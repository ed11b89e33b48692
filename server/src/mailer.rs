//! Failure mail: one message to a script's `failureAddress` for every job
//! of it that ends `ERROR`, however it was started.
//!
//! The [`Mailer`] is created once in [`crate::build`] and handed to the
//! engine as its finish hook. The hook only spawns a task, so a slow or
//! unreachable SMTP server never delays a job's completion or the
//! scheduler. That task sends with retries and backoff and stores the
//! outcome (`sent`, or `failed` with the last error) on the job.

use crate::config::{Config, SmtpTls};
use crate::engine::FinishHook;
use crate::store::Store;
use app::model::{Job, JobStatus};
use chrono::{TimeZone, Utc};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;

/// How many log lines the mail quotes.
pub const LOG_TAIL_LINES: i64 = 50;

/// Waits between attempts: three attempts in all, about 5 s.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(4)];

/// Sends failure mail through one SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    store: Store,
    /// The server's public URL without a trailing slash, for links.
    public_url: String,
    /// Where the SMTP server is, for log lines (never the credentials).
    relay: String,
}

/// A composed failure message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureMail {
    pub subject: String,
    pub body: String,
}

/// The finish hook when no SMTP host is configured: a failed job whose
/// script has a failure address records that its mail was not sent and
/// why, so the job does not look as if no mail had been due.
pub fn off_hook(store: Store) -> FinishHook {
    Arc::new(move |job: Job| {
        if job.status != JobStatus::Error {
            return;
        }
        let store = store.clone();
        tokio::spawn(async move {
            let due = matches!(
                store.get_script(&job.script).await,
                Ok(Some(s)) if s.failure_address.is_some()
            );
            if due {
                let why = "no SMTP server is configured (TASKWRIGHT_SMTP_HOST)";
                if let Err(e) = store.set_mail_outcome(&job.id, "off", Some(why)).await {
                    tracing::error!(job.id = %job.id, error = %e, "storing the mail outcome failed");
                }
            }
        });
    })
}

impl Mailer {
    /// The mailer the configuration describes, or `None` (with one warning)
    /// when no SMTP host is set.
    pub fn from_config(
        cfg: &Config,
        store: Store,
        public_url: &str,
    ) -> anyhow::Result<Option<Mailer>> {
        let Some(host) = cfg.smtp_host.as_deref().filter(|h| !h.trim().is_empty()) else {
            tracing::warn!("TASKWRIGHT_SMTP_HOST is not set: failure mail is off");
            return Ok(None);
        };
        let port = cfg.smtp_port.unwrap_or(match cfg.smtp_tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        });
        let builder = match cfg.smtp_tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| {
                    anyhow::anyhow!("SMTP host {host:?} cannot be used with STARTTLS: {e}")
                })?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| anyhow::anyhow!("SMTP host {host:?} cannot be used with TLS: {e}"))?,
        };
        let mut builder = builder.port(port).timeout(Some(Duration::from_secs(30)));
        if let Some(user) = &cfg.smtp_username {
            let password = cfg.smtp_password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let from: Mailbox = cfg.mail_from.parse().map_err(|e| {
            anyhow::anyhow!(
                "TASKWRIGHT_MAIL_FROM {:?} is not a mail address: {e}",
                cfg.mail_from
            )
        })?;
        let relay = format!("{host}:{port} ({:?})", cfg.smtp_tls);
        tracing::info!(smtp = %relay, from = %from, "failure mail is on");
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
            store,
            public_url: public_url.trim_end_matches('/').to_string(),
            relay,
        }))
    }

    /// The engine's finish hook: mail for every job that ends `ERROR`, sent
    /// in the background.
    pub fn hook(self: Arc<Self>) -> FinishHook {
        Arc::new(move |job: Job| {
            if job.status != JobStatus::Error {
                return;
            }
            let mailer = self.clone();
            tokio::spawn(async move { mailer.notify(job).await });
        })
    }

    /// Looks up the script's address and sends, retrying; stores the outcome.
    async fn notify(&self, job: Job) {
        let address = match self.store.get_script(&job.script).await {
            Ok(Some(s)) => s.failure_address,
            Ok(None) => None,
            Err(e) => {
                tracing::error!(job.id = %job.id, error = %e, "failure mail not sent: reading the script failed");
                return;
            }
        };
        let Some(address) = address else { return };
        let tail = match self.store.log_tail(&job.id, LOG_TAIL_LINES).await {
            Ok(lines) => lines.into_iter().map(|l| l.text).collect(),
            Err(e) => vec![format!("(the log could not be read: {e})")],
        };
        let mail = compose(&job, &tail, &self.public_url);

        let outcome = match self.build_message(&address, &mail) {
            Ok(message) => self.send_with_retries(&job.id, message).await,
            Err(e) => Err(e),
        };
        let stored = match &outcome {
            Ok(()) => {
                tracing::info!(job.id = %job.id, to = %address, "failure mail sent");
                self.store.set_mail_outcome(&job.id, "sent", None).await
            }
            Err(e) => {
                tracing::warn!(job.id = %job.id, to = %address, smtp = %self.relay, error = %e, "failure mail could not be sent");
                self.store
                    .set_mail_outcome(&job.id, "failed", Some(e))
                    .await
            }
        };
        if let Err(e) = stored {
            tracing::error!(job.id = %job.id, error = %e, "storing the mail outcome failed");
        }
    }

    fn build_message(&self, to: &str, mail: &FailureMail) -> Result<Message, String> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("the failure address {to:?} is not a mail address: {e}"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .body(mail.body.clone())
            .map_err(|e| format!("the mail could not be built: {e}"))
    }

    async fn send_with_retries(&self, job_id: &str, message: Message) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            match self.transport.send(message.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt < RETRY_DELAYS.len() => {
                    tracing::debug!(job.id = %job_id, attempt = attempt + 1, error = %e, "failure mail attempt failed; retrying");
                    tokio::time::sleep(RETRY_DELAYS[attempt]).await;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(format!(
                        "sending to {} failed after {} attempts: {e}",
                        self.relay,
                        attempt + 1
                    ))
                }
            }
        }
    }
}

/// The subject and body of the failure mail for `job`, quoting `log_tail`.
pub fn compose(job: &Job, log_tail: &[String], public_url: &str) -> FailureMail {
    let server = public_url
        .split("://")
        .nth(1)
        .unwrap_or(public_url)
        .trim_end_matches('/');
    let subject = format!("[Taskwright {server}] {} ended {}", job.script, job.status);
    let when = |ms: Option<i64>| {
        ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            .map_or_else(|| "-".to_string(), |t| t.to_rfc3339())
    };
    let duration = job.duration_ms.map_or_else(
        || "-".to_string(),
        |ms| format!("{:.1} s", ms as f64 / 1000.0),
    );
    let mut outcome = Vec::new();
    if let Some(code) = job.exit_code {
        outcome.push(format!("exit code {code}"));
    }
    if let Some(e) = &job.error {
        outcome.push(e.clone());
    }
    if outcome.is_empty() {
        outcome.push("no exit code or error recorded".into());
    }
    let log = if log_tail.is_empty() {
        "(the job wrote no log)".to_string()
    } else {
        log_tail.join("\n")
    };
    let link = format!(
        "{}/apps/tasks/jobs/{}",
        public_url.trim_end_matches('/'),
        job.id
    );
    let body = format!(
        "The job {id} of the script {script} ended {status}.\n\n\
         Script:    {script}\n\
         Trigger:   {trigger}\n\
         Submitted by: {user}\n\
         Started:   {started}\n\
         Duration:  {duration}\n\
         Outcome:   {outcome}\n\n\
         Last {n} log lines:\n\
         ----\n{log}\n----\n\n\
         Job page: {link}\n",
        id = job.id,
        script = job.script,
        status = job.status,
        trigger = job.trigger.as_str(),
        user = job.submit_user.as_deref().unwrap_or("-"),
        started = when(job.started_ms),
        outcome = outcome.join("; "),
        n = LOG_TAIL_LINES,
    );
    FailureMail { subject, body }
}
