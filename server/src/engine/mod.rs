//! The job engine: queueing, running, cancelling and cleaning up jobs.
//!
//! [`Engine`] is created once in `main` (or a test) and shared by the REST
//! API, the UI backend and the scheduler. It owns:
//!
//! - the dispatcher task, which claims `WAITING` jobs first in, first out,
//!   while fewer than `max_concurrent` run; woken by `wake` on every submit
//!   and every finish, it lives as long as the process;
//! - `running`: one [`Running`] entry per job between claim and finish,
//!   holding its cancel switch and its live log; inserted by the dispatcher,
//!   removed by the job's own task when the job has its final status;
//! - `changes`: a broadcast of every status change, which the REST API's
//!   synchronous runs and event streams, and the mailer, listen to;
//! - `ended`: ids of jobs that have just ended, filled by each job's task
//!   and emptied by the escapee sweeper, which kills what is left of them
//!   outside their process group (see [`process::kill_leftovers`]).
//!
//! The database is the source of truth: a status is published only after it
//! is stored, and waiting jobs survive a restart because they are rows.

mod extract;
pub mod log;
mod process;
mod python;
mod run;

use crate::db::now_ms;
use crate::error::{Error, Result};
use crate::store::{NewJob, Store};
use app::model::*;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};

pub use log::LiveLog;

/// Longest parameters text a job can receive. The text is passed both as
/// `argv[1]` and as `MOLGENIS_PARAMETERS=<text>`, and Linux refuses any one
/// argument or environment entry over 128 KiB (MAX_ARG_STRLEN, with its
/// terminating NUL).
pub const MAX_PARAMETERS_BYTES: usize = 128 * 1024 - "MOLGENIS_PARAMETERS=".len() - 1;

/// Engine settings, taken from the server's `Config`.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    pub python: String,
    pub uv: String,
    pub max_concurrent: usize,
    pub kill_grace: Duration,
    pub default_timeout: Option<Duration>,
    pub log_max_bytes: u64,
    /// Most bytes a ZIP extra file may unpack to.
    pub max_unpacked_bytes: u64,
    pub public_url: String,
    pub retention_days: u64,
    pub retention_max_jobs: u64,
}

/// A status change, published after it is stored.
#[derive(Clone, Debug)]
pub struct JobChange {
    pub id: String,
    pub status: JobStatus,
}

/// Who asks for a run and how.
#[derive(Clone, Debug)]
pub struct Submit {
    pub script: String,
    pub parameters: Option<String>,
    /// The user the job (and its token) acts as.
    pub user: Option<String>,
    pub trigger: Trigger,
}

/// Why a running job is asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A user cancelled it: it ends `CANCELLED`, and no mail goes out.
    Cancel,
    /// The server is shutting down: it ends `ERROR`.
    Shutdown,
}

/// A job between claim and final status.
pub struct Running {
    stop: watch::Sender<Option<Stop>>,
    pub live: Arc<LiveLog>,
}

/// Called with every job that reaches a final status (the mailer).
pub type FinishHook = Arc<dyn Fn(Job) + Send + Sync>;

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    cfg: EngineConfig,
    envs: python::Environments,
    running: Mutex<HashMap<String, Arc<Running>>>,
    active: AtomicUsize,
    wake: Notify,
    changes: broadcast::Sender<JobChange>,
    on_finish: OnceLock<FinishHook>,
    ended: Mutex<HashSet<String>>,
    ended_wake: Notify,
    /// Set by [`Engine::shutdown`]: the dispatcher claims no more jobs.
    stopping: std::sync::atomic::AtomicBool,
}

/// What a cancel request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// It had not started and never will.
    BeforeStart,
    /// It was running and has now ended `CANCELLED`.
    WhileRunning,
}

impl Engine {
    /// Probes the Python interpreter, recovers from a previous crash and
    /// starts the dispatcher and the retention sweeper.
    pub async fn start(store: Store, cfg: EngineConfig) -> anyhow::Result<Engine> {
        let envs = python::Environments::probe(&cfg.data_dir, &cfg.python, &cfg.uv).await?;
        let engine = Engine {
            inner: Arc::new(Inner {
                store,
                cfg,
                envs,
                running: Mutex::new(HashMap::new()),
                active: AtomicUsize::new(0),
                wake: Notify::new(),
                changes: broadcast::channel(1024).0,
                on_finish: OnceLock::new(),
                ended: Mutex::new(HashSet::new()),
                ended_wake: Notify::new(),
                stopping: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        engine.recover().await?;
        tokio::spawn(engine.clone().dispatch());
        tokio::spawn(engine.clone().sweep_forever());
        tokio::spawn(engine.clone().sweep_escapees());
        Ok(engine)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    /// Sets the hook called for every finished job; only the first call counts.
    pub fn on_finish(&self, hook: FinishHook) {
        let _ = self.inner.on_finish.set(hook);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<JobChange> {
        self.inner.changes.subscribe()
    }

    /// The live log of a running job.
    pub fn live(&self, id: &str) -> Option<Arc<LiveLog>> {
        self.inner
            .running
            .lock()
            .unwrap()
            .get(id)
            .map(|r| r.live.clone())
    }

    /// Queues a run of a stored script and returns the job id at once.
    pub async fn submit(&self, req: Submit) -> Result<String> {
        if let Some(p) = &req.parameters {
            check_parameters(p)?;
        }
        if self.inner.store.get_script(&req.script).await?.is_none() {
            return Err(Error::NotFound(format!(
                "there is no script named {:?}",
                req.script
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.inner
            .store
            .insert_job(&NewJob {
                id: &id,
                script: &req.script,
                status: JobStatus::Waiting,
                parameters: req.parameters.as_deref(),
                submit_user: req.user.as_deref(),
                trigger: req.trigger,
                error: None,
            })
            .await?;
        self.publish(&id, JobStatus::Waiting);
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Records a cron slot that was not run, with the reason.
    pub async fn record_skip(
        &self,
        script: &str,
        user: Option<&str>,
        reason: &str,
    ) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        self.inner
            .store
            .insert_job(&NewJob {
                id: &id,
                script,
                status: JobStatus::Skipped,
                parameters: None,
                submit_user: user,
                trigger: Trigger::Cron,
                error: Some(reason),
            })
            .await?;
        self.publish(&id, JobStatus::Skipped);
        Ok(id)
    }

    /// Cancels a waiting or running job. A running job's process group gets
    /// SIGTERM, then SIGKILL after the grace period; this returns once the
    /// job has its final status.
    pub async fn cancel(&self, id: &str) -> Result<Cancelled> {
        let mut changes = self.subscribe();
        if self.inner.store.cancel_waiting(id).await? {
            self.publish(id, JobStatus::Cancelled);
            return Ok(Cancelled::BeforeStart);
        }
        let running = self.inner.running.lock().unwrap().get(id).cloned();
        match running {
            Some(r) => {
                let _ = r.stop.send(Some(Stop::Cancel));
                drop(r);
                let limit = self.inner.cfg.kill_grace + Duration::from_secs(10);
                let _ = tokio::time::timeout(limit, async {
                    loop {
                        match changes.recv().await {
                            Ok(c) if c.id == id && c.status.is_finished() => break,
                            Err(broadcast::error::RecvError::Closed) => break,
                            _ => {}
                        }
                    }
                })
                .await;
                Ok(Cancelled::WhileRunning)
            }
            None => match self.inner.store.get_job(id).await? {
                None => Err(Error::NotFound(format!("there is no task with id {id:?}"))),
                Some(j) if j.status.is_finished() => Err(Error::Conflict(format!(
                    "the task {id} has already finished with status {}",
                    j.status
                ))),
                // Claimed a moment ago and not yet registered: try again shortly.
                Some(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Box::pin(self.cancel(id)).await
                }
            },
        }
    }

    /// Waits until the job has a final status or `limit` passes; returns the job
    /// as it then is. Woken by the status broadcast, not by polling.
    pub async fn wait(&self, id: &str, limit: Duration) -> Result<Job> {
        let mut changes = self.subscribe();
        let job = self.get(id).await?;
        if job.status.is_finished() {
            return Ok(job);
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, changes.recv()).await {
                Err(_) => return self.get(id).await,
                Ok(Ok(c)) if c.id == id && c.status.is_finished() => return self.get(id).await,
                Ok(Ok(_)) => {}
                // Missed some changes: look at the row itself.
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    let job = self.get(id).await?;
                    if job.status.is_finished() {
                        return Ok(job);
                    }
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return self.get(id).await,
            }
        }
    }

    pub async fn get(&self, id: &str) -> Result<Job> {
        self.inner
            .store
            .get_job(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no task with id {id:?}")))
    }

    /// Deletes a finished job with its log and output file.
    pub async fn delete(&self, id: &str) -> Result<()> {
        match self.inner.store.delete_finished_job(id).await? {
            None => Err(Error::NotFound(format!("there is no task with id {id:?}"))),
            Some(s) if !s.is_finished() => Err(Error::Conflict(format!(
                "the task {id} is {s}; cancel it before deleting it"
            ))),
            Some(_) => {
                self.remove_output(id).await;
                Ok(())
            }
        }
    }

    /// Deletes every finished job; returns how many.
    pub async fn clear_finished(&self) -> Result<usize> {
        let ids = self.inner.store.clear_finished().await?;
        for id in &ids {
            self.remove_output(id).await;
        }
        Ok(ids.len())
    }

    /// Where a job's output file is kept.
    pub fn output_path(&self, id: &str) -> PathBuf {
        self.inner.cfg.data_dir.join("outputs").join(id)
    }

    async fn remove_output(&self, id: &str) {
        let _ = tokio::fs::remove_file(self.output_path(id)).await;
    }

    fn publish(&self, id: &str, status: JobStatus) {
        let _ = self.inner.changes.send(JobChange {
            id: id.to_string(),
            status,
        });
    }

    /// Claims and starts waiting jobs while slots are free; sleeps until woken.
    async fn dispatch(self) {
        loop {
            while self.inner.active.load(Ordering::SeqCst) < self.inner.cfg.max_concurrent
                && !self.inner.stopping.load(Ordering::SeqCst)
            {
                match self.inner.store.claim_next().await {
                    Ok(Some(job)) => {
                        self.inner.active.fetch_add(1, Ordering::SeqCst);
                        let (stop, stop_rx) = watch::channel(None);
                        let entry = Arc::new(Running {
                            stop,
                            live: Arc::new(LiveLog::default()),
                        });
                        self.inner
                            .running
                            .lock()
                            .unwrap()
                            .insert(job.id.clone(), entry.clone());
                        self.publish(&job.id, JobStatus::Running);
                        let engine = self.clone();
                        tokio::spawn(async move {
                            let id = job.id.clone();
                            engine.run(job, entry.live.clone(), stop_rx).await;
                            engine.inner.running.lock().unwrap().remove(&id);
                            engine.inner.ended.lock().unwrap().insert(id);
                            engine.inner.ended_wake.notify_one();
                            engine.inner.active.fetch_sub(1, Ordering::SeqCst);
                            engine.inner.wake.notify_one();
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "claiming the next job failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
            self.inner.wake.notified().await;
        }
    }

    /// Stops for a server shutdown: no more jobs are started (waiting jobs
    /// stay `WAITING` and run after the next start), and every running job's
    /// processes get SIGTERM, then SIGKILL after the grace period; those
    /// jobs end `ERROR` "interrupted by server shutdown". Returns once they
    /// have all ended, or after the grace period and 5 s more.
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let limit = self.inner.cfg.kill_grace + Duration::from_secs(5);
        let deadline = tokio::time::Instant::now() + limit;
        // Asked again on every round: a job claimed just before `stopping`
        // was set registers itself a moment later.
        while self.inner.active.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline
        {
            for r in self.inner.running.lock().unwrap().values() {
                if r.stop.borrow().is_none() {
                    let _ = r.stop.send(Some(Stop::Shutdown));
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills processes of ended jobs that left their process group (with
    /// `setsid`, say), so none outlives its job by more than about 100 ms.
    /// The group itself was killed when the job ended; this costs one pass
    /// over `/proc` per batch of ended jobs, off the jobs' own path.
    async fn sweep_escapees(self) {
        loop {
            self.inner.ended_wake.notified().await;
            // Let jobs ending together share one pass.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let ids = std::mem::take(&mut *self.inner.ended.lock().unwrap());
            let killed = tokio::task::spawn_blocking(move || {
                let killed = process::kill_leftovers(&ids);
                (killed > 0).then_some((killed, ids))
            })
            .await;
            if let Ok(Some((killed, ids))) = killed {
                tracing::warn!(
                    processes_killed = killed,
                    jobs = ?ids,
                    "killed processes that outlived their job outside its process group"
                );
            }
        }
    }

    /// After a crash: jobs still marked `RUNNING` end `ERROR`, their
    /// processes are killed and their working directories removed.
    async fn recover(&self) -> Result<()> {
        for (id, _pid) in self.inner.store.running_jobs().await? {
            let killed = process::kill_leftovers(&HashSet::from([id.clone()]));
            let finish = crate::store::Finish {
                status: JobStatus::Error,
                exit_code: None,
                error: Some("interrupted by server restart"),
                output: None,
            };
            self.inner.store.finish_job(&id, &finish).await?;
            tracing::warn!(job.id = %id, processes_killed = killed, "job interrupted by restart");
        }
        // Working directories of jobs that are not running are leftovers.
        let jobs_dir = self.inner.cfg.data_dir.join("jobs");
        if let Ok(mut rd) = tokio::fs::read_dir(&jobs_dir).await {
            while let Ok(Some(e)) = rd.next_entry().await {
                let _ = tokio::fs::remove_dir_all(e.path()).await;
            }
        }
        Ok(())
    }

    /// Applies the retention settings now; returns how many jobs went.
    pub async fn sweep(&self) -> Result<usize> {
        let cfg = &self.inner.cfg;
        let mut ids = Vec::new();
        if cfg.retention_days > 0 {
            let cutoff = now_ms() - (cfg.retention_days as i64) * 86_400_000;
            ids.extend(self.inner.store.delete_finished_before(cutoff).await?);
        }
        if cfg.retention_max_jobs > 0 {
            ids.extend(
                self.inner
                    .store
                    .delete_finished_beyond(cfg.retention_max_jobs as i64)
                    .await?,
            );
        }
        for id in &ids {
            self.remove_output(id).await;
        }
        Ok(ids.len())
    }

    async fn sweep_forever(self) {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            match self.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs_deleted = n, "retention removed old jobs"),
                Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
            }
        }
    }
}

/// Refuses parameters no process could receive, before a job is queued.
fn check_parameters(p: &str) -> Result<()> {
    if p.contains('\0') {
        return Err(Error::BadRequest(
            "the parameters contain a NUL byte, which cannot be passed to a script".into(),
        ));
    }
    if p.len() > MAX_PARAMETERS_BYTES {
        return Err(Error::TooLarge(format!(
            "the parameters are {} bytes; a script can receive at most {MAX_PARAMETERS_BYTES}",
            p.len()
        )));
    }
    Ok(())
}
