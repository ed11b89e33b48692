//! Cron schedules that submit jobs to the engine.
//!
//! The parts, from the inside out:
//!
//! - [`Schedule`]: one parsed expression in one time zone, and the single
//!   function ([`Schedule::next_after`]) that says when it fires next. Both
//!   the firing and `GET /api/tasks/scheduled` use it, so what the API lists
//!   is what runs.
//! - [`Clock`]: where "now" comes from; the real clock in the server, a
//!   settable one in tests so that slots are tested without waiting.
//! - [`Scheduler`]: the table of armed schedules, one per script with a
//!   `cron` that is not `disabled`. Each entry is armed as a one-shot timer
//!   in tokio-cron-scheduler at its next slot; when it fires, the slot is run
//!   (a job is submitted, or a `SKIPPED` job recorded) and the next slot armed.
//!
//! # Why one-shot timers, not tokio-cron-scheduler's cron jobs
//!
//! tokio-cron-scheduler 0.15 parses with croner 3 as we do, but computes
//! every later tick in the fixed UTC offset that the zone had when the job
//! was created: after a daylight-saving change its jobs fire an hour off.
//! Arming each slot ourselves keeps the zone's real rules.
//!
//! # Expressions
//!
//! Quartz (EMX2's format): seconds first, 6 or 7 fields (the 7th is the
//! year), `?`, ranges, steps, lists, `L`, `W` and `#`, day-of-week numbered
//! 1 (Sunday) to 7 (Saturday). The 5-field Unix form is accepted too; it
//! means second 0 and numbers days 0 or 7 (Sunday) to 6 (Saturday). Names
//! (`MON`, `JAN`) work in both. When both day fields are restricted, both
//! must match.
//!
//! # Daylight saving, as Debian's cron does it
//!
//! A fixed-time schedule (one second, one minute, one hour) whose time is
//! skipped by a spring-forward runs once, right after the jump; in a
//! repeated hour it runs once. Every other schedule follows the wall clock
//! in real time: times that do not exist are not run, and a repeated hour
//! runs its slots in both passes.
//!
//! # Missed slots
//!
//! Slots that passed while the server was down are not replayed; the first
//! slot after start-up runs normally.

use crate::engine::{Engine, Submit};
use crate::error::Result;
use app::model::{JobStatus, Trigger};
use chrono::Timelike;
use chrono::{DateTime, FixedOffset, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::{Cron, JobType};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job as TimerJob, JobScheduler};
use uuid::Uuid;

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Arc<Self> {
        Arc::new(ManualClock(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// One cron expression in one time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
    fixed_time: bool,
}

impl Schedule {
    /// Parses an expression (see the module doc for the accepted forms); the
    /// error says what is wrong.
    pub fn parse(expr: &str, tz: Tz) -> std::result::Result<Schedule, String> {
        let fields = expr.split_whitespace().count();
        let quartz = match fields {
            5 => false,
            6 | 7 => true,
            0 => return Err("the cron expression is empty".into()),
            n => {
                return Err(format!(
                    "{expr:?} has {n} fields; a cron expression has 6 or 7 (Quartz: \
                     second minute hour day-of-month month day-of-week [year]) or 5 \
                     (Unix: minute hour day-of-month month day-of-week)"
                ))
            }
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .dom_and_dow(true)
            .alternative_weekdays(quartz)
            .build()
            .parse(expr)
            .map_err(|e| format!("{expr:?} is not a valid cron expression: {e}"))?;
        let fixed_time = cron.determine_job_type() == JobType::FixedTime;
        let schedule = Schedule {
            cron,
            tz,
            fixed_time,
        };
        // An expression like "0 0 0 30 2 ?" parses but never fires.
        let now = Utc::now();
        if schedule.next_after(now).is_none() {
            return Err(format!("{expr:?} never fires (no such date after {now})"));
        }
        Ok(schedule)
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The first slot strictly after `t`, or `None` when there is none.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Slots are whole seconds; a sub-second start would leak into them.
        let t = t.with_nanosecond(0).unwrap_or(t);
        if self.fixed_time {
            self.next_fixed(t)
        } else {
            self.next_wall_clock(t)
        }
    }

    /// The next `n` slots after `t`.
    pub fn upcoming(&self, mut t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self.next_after(t) {
                Some(x) => {
                    out.push(x);
                    t = x;
                }
                None => break,
            }
        }
        out
    }

    /// Fixed-time schedules: croner searches local time forwards, runs a
    /// skipped time at the end of the gap and the first of a repeated one.
    fn next_fixed(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut from = t.with_timezone(&self.tz);
        for _ in 0..8 {
            let x = self.cron.find_next_occurrence(&from, false).ok()?;
            let x_utc = x.with_timezone(&Utc);
            // croner moves a time in a gap to the gap's end; accept that only
            // when x really is right after a jump.
            let matches = self.cron.is_time_matching(&x).unwrap_or(false);
            let after_jump = offset_at(self.tz, x_utc)
                != offset_at(self.tz, x_utc - chrono::Duration::seconds(1));
            // In the second pass of a repeated hour croner offers the first
            // pass again, which has already been.
            if x_utc > t && (matches || after_jump) {
                return Some(x_utc);
            }
            from = x;
        }
        None
    }

    /// Other schedules match the local wall clock in real time. Between two
    /// offset changes the zone is a fixed offset, so each stretch is searched
    /// in that offset; a candidate past a change restarts at the change.
    fn next_wall_clock(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut from = t;
        let mut inclusive = false;
        for _ in 0..64 {
            let off = offset_at(self.tz, from);
            let x = self
                .cron
                .find_next_occurrence(&from.with_timezone(&off), inclusive)
                .ok()?
                .with_timezone(&Utc);
            if !changes_between(self.tz, from, x) {
                return Some(x);
            }
            from = first_change_after(self.tz, from, x);
            inclusive = true;
        }
        None
    }
}

fn offset_at(tz: Tz, t: DateTime<Utc>) -> FixedOffset {
    tz.offset_from_utc_datetime(&t.naive_utc()).fix()
}

/// Whether the zone's offset changes anywhere in `(a, b]`, sampled daily
/// (offsets change at most a few times a year, never twice in a day).
fn changes_between(tz: Tz, a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    let off = offset_at(tz, a);
    let mut t = a;
    while t < b {
        t = (t + chrono::Duration::hours(12)).min(b);
        if offset_at(tz, t) != off {
            return true;
        }
    }
    false
}

/// The first instant in `(a, b]` with a different offset than `a` has,
/// to the second. Requires that there is one.
fn first_change_after(tz: Tz, a: DateTime<Utc>, b: DateTime<Utc>) -> DateTime<Utc> {
    let off = offset_at(tz, a);
    // Find a 12-hour window with the change, then bisect it.
    let mut lo = a;
    let mut hi = a;
    while hi < b {
        hi = (hi + chrono::Duration::hours(12)).min(b);
        if offset_at(tz, hi) != off {
            break;
        }
        lo = hi;
    }
    while (hi - lo) > chrono::Duration::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if offset_at(tz, mid) == off {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi.with_nanosecond_zero()
}

trait WholeSecond {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSecond for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        Utc.timestamp_opt(self.timestamp(), 0)
            .single()
            .unwrap_or(self)
    }
}

/// What a slot did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A job was queued; its id.
    Submitted(String),
    /// The previous run was still going; the id of the `SKIPPED` job.
    Skipped(String),
}

#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

/// The scheduler's state. Created once by [`Scheduler::start`] (or
/// [`Scheduler::manual`] in tests) and shared through [`AppState`]; it lives
/// as long as the process.
///
/// [`AppState`]: crate::state::AppState
struct Inner {
    engine: Engine,
    default_tz: Tz,
    clock: Arc<dyn Clock>,
    /// One entry per armed script, keyed by name. Filled from the database
    /// at start, replaced by [`Scheduler::reload`], removed when a script is
    /// deleted, disabled or loses its `cron`.
    entries: Mutex<HashMap<String, Entry>>,
    /// The timer that fires slots; `None` when a test fires them by hand.
    timer: Option<JobScheduler>,
    /// Where the timer's one-shots report a due slot (script, generation,
    /// slot time); read by the task [`Scheduler::start`] spawns, which ends
    /// when the scheduler is dropped.
    due_tx: Option<mpsc::UnboundedSender<Due>>,
}

/// A slot the timer found due: script name, entry generation, slot time.
type Due = (String, u64, DateTime<Utc>);

struct Entry {
    schedule: Schedule,
    /// The slot this entry waits for; `None` once the expression has no
    /// more slots.
    next: Option<DateTime<Utc>>,
    /// The armed one-shot timer, removed when the entry is replaced.
    timer: Option<Uuid>,
    /// Distinguishes this entry from a later one for the same script, so a
    /// timer armed for an old version does nothing.
    generation: u64,
}

impl Scheduler {
    /// Starts the timer and arms every schedule stored in the database.
    pub async fn start(engine: Engine, default_tz: Tz) -> anyhow::Result<Self> {
        let timer = JobScheduler::new()
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the cron timer: {e}"))?;
        timer
            .start()
            .await
            .map_err(|e| anyhow::anyhow!("cannot start the cron timer: {e}"))?;
        let (due_tx, mut due_rx) = mpsc::unbounded_channel();
        let s = Self::build(
            engine,
            default_tz,
            Arc::new(SystemClock),
            Some((timer, due_tx)),
        );
        let weak = Arc::downgrade(&s.inner);
        tokio::spawn(async move {
            while let Some((script, generation, at)) = due_rx.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                let s = Scheduler { inner };
                tokio::spawn(async move {
                    // The timer has whole-second resolution and may be early.
                    let early = (at - s.inner.clock.now())
                        .to_std()
                        .unwrap_or(Duration::ZERO);
                    tokio::time::sleep(early).await;
                    s.fire(&script, generation).await;
                });
            }
        });
        s.load_all().await?;
        Ok(s)
    }

    /// A scheduler whose slots fire only when [`Scheduler::fire_due`] is
    /// called, with time from `clock`: for tests of the scheduling logic.
    pub async fn manual(
        engine: Engine,
        default_tz: Tz,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let s = Self::build(engine, default_tz, clock, None);
        s.load_all().await?;
        Ok(s)
    }

    fn build(
        engine: Engine,
        default_tz: Tz,
        clock: Arc<dyn Clock>,
        timer: Option<(JobScheduler, mpsc::UnboundedSender<Due>)>,
    ) -> Self {
        let (timer, due_tx) = timer.unzip();
        Scheduler {
            inner: Arc::new(Inner {
                engine,
                default_tz,
                clock,
                entries: Mutex::new(HashMap::new()),
                timer,
                due_tx,
            }),
        }
    }

    async fn load_all(&self) -> anyhow::Result<()> {
        let scripts = self.inner.engine.store().list_scripts().await?;
        for s in &scripts {
            self.reload(&s.name).await;
        }
        let armed = self.inner.entries.lock().unwrap().len();
        tracing::info!(schedules = armed, "cron schedules loaded");
        Ok(())
    }

    /// Checks an expression; the message says what is wrong.
    pub fn validate(&self, expr: &str) -> std::result::Result<(), String> {
        Schedule::parse(expr, self.inner.default_tz).map(|_| ())
    }

    /// The schedule a script has now: its expression in its zone, or the
    /// server's default zone.
    fn schedule_of(&self, expr: &str, tz: Option<&str>) -> std::result::Result<Schedule, String> {
        let tz = match tz {
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| format!("{name:?} is not an IANA time zone name"))?,
            None => self.inner.default_tz,
        };
        Schedule::parse(expr, tz)
    }

    /// Re-reads one script's schedule after it was saved or deleted. Takes
    /// effect from the next slot; a job of the script that is running is
    /// left alone.
    pub async fn reload(&self, name: &str) {
        let script = match self.inner.engine.store().get_script(name).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(script.name = %name, error = %e, "reading the script for its schedule failed; schedule unchanged");
                return;
            }
        };
        let wanted = script.filter(|s| !s.disabled).and_then(|s| {
            let expr = s.cron?;
            match self.schedule_of(&expr, s.time_zone.as_deref()) {
                Ok(schedule) => Some((expr, schedule)),
                Err(message) => {
                    tracing::error!(script.name = %name, %message, "stored cron schedule is invalid; not scheduled");
                    None
                }
            }
        });

        let old = self.inner.entries.lock().unwrap().remove(name);
        let generation = old.as_ref().map_or(0, |e| e.generation + 1);
        if let Some(old_timer) = old.and_then(|e| e.timer) {
            self.disarm(old_timer).await;
        }
        let Some((expr, schedule)) = wanted else {
            tracing::info!(script.name = %name, "not scheduled");
            return;
        };
        let next = schedule.next_after(self.inner.clock.now());
        tracing::info!(script.name = %name, cron = %expr, time_zone = %schedule.tz.name(), next = ?next, "scheduled");
        self.inner.entries.lock().unwrap().insert(
            name.to_string(),
            Entry {
                schedule,
                next,
                timer: None,
                generation,
            },
        );
        if let Some(at) = next {
            self.arm(name, generation, at).await;
        }
    }

    /// Runs every slot that is due by the clock and moves each entry on to
    /// its next slot. The timer calls this per script; tests call it
    /// directly after moving the clock.
    pub async fn fire_due(&self) -> Vec<(String, Slot)> {
        let now = self.inner.clock.now();
        let due: Vec<(String, u64)> = {
            let entries = self.inner.entries.lock().unwrap();
            entries
                .iter()
                .filter(|(_, e)| e.next.is_some_and(|n| n <= now))
                .map(|(name, e)| (name.clone(), e.generation))
                .collect()
        };
        let mut out = Vec::new();
        for (name, generation) in due {
            if let Some(slot) = self.fire(&name, generation).await {
                out.push((name, slot));
            }
        }
        out
    }

    /// Runs the due slot of one entry, if it still is the entry `generation`
    /// names, and arms its next slot. Slots passed meanwhile are not replayed.
    async fn fire(&self, name: &str, generation: u64) -> Option<Slot> {
        let now = self.inner.clock.now();
        let slot_at = {
            let mut entries = self.inner.entries.lock().unwrap();
            let e = entries.get_mut(name)?;
            if e.generation != generation || e.next.is_none_or(|n| n > now) {
                return None;
            }
            let slot_at = e.next.take()?;
            e.timer = None;
            e.next = e.schedule.next_after(now.max(slot_at));
            slot_at
        };
        let outcome = self.run_slot(name, slot_at).await;
        let next = self
            .inner
            .entries
            .lock()
            .unwrap()
            .get(name)
            .filter(|e| e.generation == generation)
            .and_then(|e| e.next);
        if let Some(at) = next {
            self.arm(name, generation, at).await;
        }
        outcome
    }

    /// Submits the slot's job, or records it as skipped when the previous
    /// run is still waiting or running and the script does not allow overlap.
    async fn run_slot(&self, name: &str, slot_at: DateTime<Utc>) -> Option<Slot> {
        let engine = &self.inner.engine;
        let script = match engine.store().get_script(name).await {
            Ok(Some(s)) if !s.disabled => s,
            Ok(_) => return None,
            Err(e) => {
                tracing::error!(script.name = %name, slot = %slot_at, error = %e, "cron slot not run: reading the script failed");
                return None;
            }
        };
        let user = script.saved_by.as_deref();
        if !script.allow_overlap {
            match engine.store().latest_job_of(name, true).await {
                Ok(Some(prev)) => {
                    let tz = self
                        .schedule_of(
                            script.cron.as_deref().unwrap_or("* * * * *"),
                            script.time_zone.as_deref(),
                        )
                        .map_or(self.inner.default_tz, |s| s.tz);
                    let state = match prev.status {
                        JobStatus::Waiting => "waiting",
                        _ => "running",
                    };
                    let reason = format!(
                        "cron slot {} skipped: the previous run {} is still {state}",
                        slot_at.with_timezone(&tz).to_rfc3339(),
                        prev.id,
                    );
                    tracing::info!(script.name = %name, previous_job = %prev.id, "cron slot skipped");
                    return match engine.record_skip(name, user, &reason).await {
                        Ok(id) => Some(Slot::Skipped(id)),
                        Err(e) => {
                            tracing::error!(script.name = %name, error = %e, "recording a skipped cron slot failed");
                            None
                        }
                    };
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(script.name = %name, error = %e, "cron slot not run: looking for a running job failed");
                    return None;
                }
            }
        }
        let submit = Submit {
            script: name.to_string(),
            parameters: None,
            user: script.saved_by.clone(),
            trigger: Trigger::Cron,
        };
        match engine.submit(submit).await {
            Ok(id) => {
                tracing::info!(script.name = %name, job.id = %id, slot = %slot_at, "cron slot submitted");
                Some(Slot::Submitted(id))
            }
            Err(e) => {
                tracing::error!(script.name = %name, slot = %slot_at, error = %e, "submitting a cron slot failed");
                None
            }
        }
    }

    /// Arms a one-shot timer for the slot at `at`.
    async fn arm(&self, name: &str, generation: u64, at: DateTime<Utc>) {
        let Some(timer) = &self.inner.timer else {
            return;
        };
        let wait = (at - self.inner.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        let Some(due) = self.inner.due_tx.clone() else {
            return;
        };
        let script = name.to_string();
        let job = TimerJob::new_one_shot_at_instant_async(
            std::time::Instant::now() + wait,
            move |_, _| {
                let _ = due.send((script.clone(), generation, at));
                Box::pin(async {})
            },
        );
        let added = match job {
            Ok(job) => timer.add(job).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match added {
            Ok(id) => {
                let mut entries = self.inner.entries.lock().unwrap();
                match entries.get_mut(name) {
                    Some(e) if e.generation == generation => e.timer = Some(id),
                    // Replaced while arming: this timer will find nothing to do.
                    _ => {}
                }
            }
            Err(e) => {
                tracing::error!(script.name = %name, error = %e, "arming the cron timer failed; the schedule will not fire");
            }
        }
    }

    async fn disarm(&self, id: Uuid) {
        if let Some(timer) = &self.inner.timer {
            let _ = timer.remove(&id).await;
        }
    }

    /// The slot an armed script waits for (for tests and the API).
    pub fn next_of(&self, name: &str) -> Option<DateTime<Utc>> {
        self.inner
            .entries
            .lock()
            .unwrap()
            .get(name)
            .and_then(|e| e.next)
    }

    /// Every script with a `cron`, with its next `n` fire times (none when
    /// it is disabled), computed by [`Schedule::next_after`].
    pub async fn list(&self, n: usize) -> Result<Vec<Value>> {
        let now = self.inner.clock.now();
        let mut out = Vec::new();
        for s in self.inner.engine.store().list_scripts().await? {
            let Some(expr) = &s.cron else { continue };
            let mut item = json!({
                "name": s.name,
                "cron": expr,
                "disabled": s.disabled,
                "allowOverlap": s.allow_overlap,
            });
            match self.schedule_of(expr, s.time_zone.as_deref()) {
                Ok(schedule) => {
                    let next: Vec<String> = if s.disabled {
                        Vec::new()
                    } else {
                        schedule
                            .upcoming(now, n)
                            .into_iter()
                            .map(|t| t.with_timezone(&schedule.tz).to_rfc3339())
                            .collect()
                    };
                    item["timeZone"] = json!(schedule.tz.name());
                    item["next"] = json!(next);
                }
                Err(message) => {
                    item["timeZone"] = json!(s
                        .time_zone
                        .as_deref()
                        .unwrap_or(self.inner.default_tz.name()));
                    item["next"] = json!([]);
                    item["error"] = json!(message);
                }
            }
            out.push(item);
        }
        Ok(out)
    }
}
