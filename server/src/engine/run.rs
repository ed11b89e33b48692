//! Running one claimed job from set-up to final status.

use super::log::{self, LiveLog, Raw, SystemLog};
use super::{process, Engine, Stop};
use crate::auth::new_secret;
use crate::store::Finish;
use app::model::*;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

/// Everything a job's process needs, gathered during set-up.
struct Prepared {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    workdir: PathBuf,
    output_file: PathBuf,
    output_ext: Option<String>,
    timeout: Option<Duration>,
}

/// How the process ended, before it becomes a status.
enum Ending {
    Exited(std::process::ExitStatus),
    /// The process could not be started or waited for; the message says why.
    Failed(String),
    Stopped(Stop),
    TimedOut(Duration),
}

impl Engine {
    pub(super) async fn run(
        &self,
        job: Job,
        live: Arc<LiveLog>,
        mut stop: watch::Receiver<Option<Stop>>,
    ) {
        let span = tracing::info_span!("job", job.id = %job.id, script.name = %job.script);
        async move {
            let started = Instant::now();
            let root = self.inner.cfg.data_dir.join("jobs").join(&job.id);
            let (tx, rx) = mpsc::channel::<Raw>(1024);
            let pump = tokio::spawn(log::pump(
                self.inner.store.clone(),
                job.id.clone(),
                live,
                rx,
                self.inner.cfg.log_max_bytes,
            ));
            let syslog = SystemLog(tx.clone());

            // Set-up (an install can take minutes) gives way to a cancel or
            // a shutdown: dropping it kills the installer, and an unfinished
            // environment is never reused.
            let prepared = tokio::select! {
                p = self.prepare(&job, &root, &syslog) => Ok(p),
                reason = stop_requested(&mut stop) => Err(reason),
            };
            let (status, exit_code, error, output) = match prepared {
                Err(reason) => {
                    syslog.line("stopped during set-up, before the script started").await;
                    let (status, code, error) = describe(Ending::Stopped(reason));
                    (status, code, error, None)
                }
                Ok(Err(message)) => {
                    syslog.line(message.clone()).await;
                    (JobStatus::Error, None, Some(message), None)
                }
                Ok(Ok(prep)) => {
                    let ending = self.execute(&prep, tx.clone(), &syslog, stop).await;
                    let output = self.keep_output(&job, &prep, &syslog).await;
                    let (status, code, error) = describe(ending);
                    (status, code, error, output)
                }
            };

            // Every sender must be gone before the pump can write its last batch.
            drop(syslog);
            drop(tx);
            let totals = pump.await.unwrap_or_default();

            let finish = Finish {
                status,
                exit_code,
                error: error.as_deref(),
                output: output.as_ref(),
            };
            let done = match self.inner.store.finish_job(&job.id, &finish).await {
                Ok(done) => done,
                Err(e) => {
                    tracing::error!(error = %e, "storing the job's final status and revoking its token failed");
                    None
                }
            };
            let _ = tokio::fs::remove_dir_all(&root).await;
            tracing::info!(
                status = %status,
                exit_code,
                duration_ms = started.elapsed().as_millis() as u64,
                log_bytes = totals.bytes,
                "job finished"
            );
            self.publish(&job.id, status);
            if let (Some(hook), Some(done)) = (self.inner.on_finish.get(), done) {
                hook(done);
            }
        }
        .instrument(span)
        .await
    }

    /// Working directory, extra file, script file, environment, job token.
    /// An `Err` is a message for a person; the job ends `ERROR` with it.
    async fn prepare(
        &self,
        job: &Job,
        root: &Path,
        syslog: &SystemLog,
    ) -> Result<Prepared, String> {
        let store = &self.inner.store;
        let cfg = &self.inner.cfg;
        let script = store
            .get_script(&job.script)
            .await
            .map_err(|e| format!("reading the script failed: {e}"))?
            .ok_or_else(|| format!("the script {:?} no longer exists", job.script))?;
        if script.script.trim().is_empty() {
            return Err(format!(
                "the script {:?} is empty: there is nothing to run",
                job.script
            ));
        }

        let workdir = root.join("work");
        tokio::fs::create_dir_all(&workdir)
            .await
            .map_err(|e| format!("cannot create the job's working directory: {e}"))?;

        let extra = match script.extra_file {
            None => None,
            Some(_) => store
                .extra_file(&job.script)
                .await
                .map_err(|e| format!("reading the extra file failed: {e}"))?,
        };
        if let Some((name, bytes)) = extra {
            let dir = workdir.clone();
            let max_unpacked = cfg.max_unpacked_bytes;
            let placed = tokio::task::spawn_blocking(move || {
                super::extract::place_extra_file(&dir, &name, &bytes, max_unpacked)
            })
            .await
            .map_err(|e| format!("unpacking the extra file failed: {e}"))?;
            match placed {
                Ok(0) => {}
                Ok(n) => {
                    syslog
                        .line(format!("unpacked {n} files from the extra file"))
                        .await
                }
                Err(message) => return Err(message),
            }
        }

        let ext = script
            .output_file_extension
            .clone()
            .filter(|e| !e.is_empty());
        let output_file = root.join(match &ext {
            Some(e) => format!("output.{e}"),
            None => "output".into(),
        });
        tokio::fs::write(&output_file, b"")
            .await
            .map_err(|e| format!("cannot create the output file: {e}"))?;

        let body = script.script.replace("${jobId}", &job.id);
        let base_path =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let (program, mut args, path_prefix) = match script.script_type {
            ScriptType::Bash => {
                let file = root.join("script.sh");
                tokio::fs::write(&file, body)
                    .await
                    .map_err(|e| format!("cannot write the script: {e}"))?;
                // An absolute program path lets std spawn with posix_spawn
                // (vfork) rather than fork, which copies the server's page
                // tables: about a millisecond of CPU per job.
                let bash = find_program("bash", &base_path)
                    .ok_or_else(|| format!("bash was not found on PATH ({base_path})"))?;
                (bash, vec![file.to_string_lossy().into_owned()], None)
            }
            ScriptType::Python => {
                // In the working directory, so the script imports modules
                // from the extra file (Python looks in the script's folder).
                let file = workdir.join("_taskwright_script.py");
                tokio::fs::write(&file, body)
                    .await
                    .map_err(|e| format!("cannot write the script: {e}"))?;
                let env_dir = self
                    .inner
                    .envs
                    .ensure(script.dependencies.as_deref().unwrap_or(""), syslog)
                    .await?;
                (
                    env_dir.join("bin/python"),
                    vec!["-u".into(), file.to_string_lossy().into_owned()],
                    Some(env_dir.join("bin")),
                )
            }
        };
        if let Some(p) = &job.parameters {
            args.push(p.clone());
        }

        let token = self.job_token(job).await?;
        let path = match path_prefix {
            Some(p) => format!("{}:{base_path}", p.display()),
            None => base_path,
        };
        let mut env = vec![
            ("PATH".to_string(), path),
            ("HOME".into(), workdir.to_string_lossy().into_owned()),
            (
                "LANG".into(),
                std::env::var("LANG").unwrap_or_else(|_| "C.UTF-8".into()),
            ),
            (
                "TZ".into(),
                std::env::var("TZ").unwrap_or_else(|_| "UTC".into()),
            ),
            (
                "OUTPUT_FILE".into(),
                output_file.to_string_lossy().into_owned(),
            ),
            ("MOLGENIS_JOB_ID".into(), job.id.clone()),
            ("MOLGENIS_SERVER_URL".into(), cfg.public_url.clone()),
        ];
        if let Some(t) = token {
            env.push(("MOLGENIS_TOKEN".into(), t));
        }
        if let Some(p) = &job.parameters {
            env.push(("MOLGENIS_PARAMETERS".into(), p.clone()));
        }
        let timeout = script
            .timeout_seconds
            .map(|s| Duration::from_secs(u64::from(s)))
            .or(cfg.default_timeout)
            .filter(|d| !d.is_zero());
        Ok(Prepared {
            program,
            args,
            env,
            workdir,
            output_file,
            output_ext: ext,
            timeout,
        })
    }

    /// A token for this job alone, acting as its submitting user; deleted when
    /// the job ends. None when the job has no user that still exists.
    async fn job_token(&self, job: &Job) -> Result<Option<String>, String> {
        let Some(user) = &job.submit_user else {
            return Ok(None);
        };
        let (token, hash) = new_secret("twj");
        let made = self
            .inner
            .store
            .create_job_token(user, &job.id, &hash)
            .await
            .map_err(|e| format!("creating the job's token failed: {e}"))?;
        Ok(made.then_some(token))
    }

    /// Spawns the process and waits for it to exit, be cancelled or time out.
    /// Whatever happens, no process of its group outlives this call.
    async fn execute(
        &self,
        prep: &Prepared,
        tx: mpsc::Sender<Raw>,
        syslog: &SystemLog,
        mut stop: watch::Receiver<Option<Stop>>,
    ) -> Ending {
        let mut cmd = Command::new(&prep.program);
        cmd.args(&prep.args)
            .current_dir(&prep.workdir)
            .env_clear()
            .envs(prep.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("cannot start {}: {e}", prep.program.display());
                syslog.line(msg.clone()).await;
                return Ending::Failed(msg);
            }
        };
        // The group is found again after a crash by MOLGENIS_JOB_ID in
        // /proc, so its id is not written to the database.
        let pgid = child.id().unwrap_or(0);
        let out = tokio::spawn(log::read_stream(
            child.stdout.take().unwrap(),
            LogStream::Stdout,
            tx.clone(),
        ));
        let err = tokio::spawn(log::read_stream(
            child.stderr.take().unwrap(),
            LogStream::Stderr,
            tx,
        ));

        let grace = self.inner.cfg.kill_grace;
        let timeout = async {
            match prep.timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        let ending = tokio::select! {
            s = child.wait() => match s {
                Ok(s) => Ending::Exited(s),
                Err(e) => Ending::Failed(format!("waiting for the job's process failed: {e}")),
            },
            reason = stop_requested(&mut stop) => {
                let why = match reason {
                    Stop::Cancel => "cancel requested",
                    Stop::Shutdown => "the server is shutting down",
                };
                syslog.line(format!("{why}: sending SIGTERM to the job's processes")).await;
                process::terminate_group(pgid, grace, child.wait()).await;
                Ending::Stopped(reason)
            }
            _ = timeout => {
                let t = prep.timeout.unwrap_or_default();
                syslog.line(format!("timed out after {} s: stopping the job's processes", t.as_secs())).await;
                process::terminate_group(pgid, grace, child.wait()).await;
                Ending::TimedOut(t)
            }
        };
        // Background children of a finished script die with it.
        process::signal_group(pgid, libc::SIGKILL);
        let _ = child.wait().await;
        // Readers end at EOF. A process that left the group (setsid) can
        // hold a pipe open: stop reading after a moment, and drop the
        // readers so their log senders go and the job can end; the escapee
        // itself is killed by the engine's sweep once the job has ended.
        let (mut out, mut err) = (out, err);
        let drained = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = (&mut out).await;
            let _ = (&mut err).await;
        })
        .await;
        if drained.is_err() {
            out.abort();
            err.abort();
            let _ = out.await;
            let _ = err.await;
            syslog
                .line("a process outside the job's process group kept its output open; it is stopped and its output after this line is not kept")
                .await;
        }
        ending
    }

    /// Moves a non-empty output file next to the job's other data. Only a
    /// regular file is kept: a script that replaced `OUTPUT_FILE` with a
    /// link would otherwise have every later download read wherever the
    /// link points. A file with other hard links is copied, not moved, so
    /// the kept output cannot change afterwards.
    async fn keep_output(
        &self,
        job: &Job,
        prep: &Prepared,
        syslog: &SystemLog,
    ) -> Option<OutputInfo> {
        use std::os::unix::fs::MetadataExt;
        let meta = tokio::fs::symlink_metadata(&prep.output_file).await.ok()?;
        if !meta.is_file() {
            syslog
                .line("OUTPUT_FILE was replaced by a link or a directory; no output is kept")
                .await;
            return None;
        }
        if meta.len() == 0 {
            return None;
        }
        let dest = self.output_path(&job.id);
        let kept = if meta.nlink() > 1 {
            tokio::fs::copy(&prep.output_file, &dest).await.map(|_| ())
        } else {
            tokio::fs::rename(&prep.output_file, &dest).await
        };
        if let Err(e) = kept {
            tracing::error!(error = %e, "keeping the output file failed");
            syslog
                .line(format!("keeping the output file failed: {e}"))
                .await;
            return None;
        }
        let meta = tokio::fs::metadata(&dest).await.ok()?;
        let stem: String = job
            .script
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let (filename, content_type) = match &prep.output_ext {
            Some(ext) => (
                format!("{stem}-{}.{ext}", &job.id[..8]),
                mime_guess::from_ext(ext.rsplit('.').next().unwrap_or(ext))
                    .first_or_octet_stream()
                    .to_string(),
            ),
            None => (
                format!("{stem}-{}", &job.id[..8]),
                "application/octet-stream".into(),
            ),
        };
        Some(OutputInfo {
            filename,
            size: meta.len(),
            content_type,
        })
    }
}

/// Resolves when a stop is requested; never when the sender is gone.
async fn stop_requested(stop: &mut watch::Receiver<Option<Stop>>) -> Stop {
    let reason = stop.wait_for(Option::is_some).await.map(|r| *r);
    match reason {
        Ok(reason) => reason.unwrap_or(Stop::Cancel),
        Err(_) => std::future::pending().await,
    }
}

/// The first executable file named `name` in the directories of `path`.
fn find_program(name: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn describe(ending: Ending) -> (JobStatus, Option<i32>, Option<String>) {
    match ending {
        Ending::Stopped(Stop::Cancel) => (
            JobStatus::Cancelled,
            None,
            Some("cancelled while running".into()),
        ),
        Ending::Stopped(Stop::Shutdown) => (
            JobStatus::Error,
            None,
            Some("interrupted by server shutdown".into()),
        ),
        Ending::Failed(message) => (JobStatus::Error, None, Some(message)),
        Ending::TimedOut(t) => (
            JobStatus::Error,
            None,
            Some(format!("timed out after {} s", t.as_secs())),
        ),
        Ending::Exited(s) => match (s.code(), s.signal()) {
            (Some(0), _) => (JobStatus::Completed, Some(0), None),
            (Some(c), _) => (JobStatus::Error, Some(c), Some(format!("exit code {c}"))),
            (None, Some(sig)) => (
                JobStatus::Error,
                None,
                Some(format!("killed by {}", process::signal_name(sig))),
            ),
            (None, None) => (
                JobStatus::Error,
                None,
                Some("ended without an exit code".into()),
            ),
        },
    }
}
