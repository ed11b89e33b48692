//! Cron schedules: next fire times, daylight saving, overlap, disabling,
//! editing and restarts against an injected clock, and one run of the real
//! timer.

mod common;

use app::model::{JobFilter, JobStatus, Trigger};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use common::TestServer;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use taskwright::scheduler::{ManualClock, Schedule, Scheduler, Slot};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The next `n` slots after the local time `from` in `tz`, as RFC 3339 in `tz`.
fn next_in(expr: &str, tz: Tz, from: (i32, u32, u32, u32, u32), n: usize) -> Vec<String> {
    let schedule = Schedule::parse(expr, tz).unwrap();
    let (y, mo, d, h, mi) = from;
    let start = tz.with_ymd_and_hms(y, mo, d, h, mi, 0).earliest().unwrap();
    schedule
        .upcoming(start.with_timezone(&Utc), n)
        .into_iter()
        .map(|t| t.with_timezone(&tz).to_rfc3339())
        .collect()
}

const AMS: Tz = chrono_tz::Europe::Amsterdam;
const NYC: Tz = chrono_tz::America::New_York;
const UTC: Tz = chrono_tz::UTC;

/// Quartz expressions with `?`, `L`, `#`, names, a year, and the 5-field Unix form give the expected slots.
#[test]
fn quartz_next_fire_times() {
    // Every weekday at 08:30:15.
    assert_eq!(
        next_in("15 30 8 ? * MON-FRI", UTC, (2025, 1, 3, 9, 0), 2),
        ["2025-01-06T08:30:15+00:00", "2025-01-07T08:30:15+00:00"]
    );
    // Last day of the month, at noon (2024 is a leap year).
    assert_eq!(
        next_in("0 0 12 L * ?", UTC, (2024, 1, 31, 13, 0), 3),
        [
            "2024-02-29T12:00:00+00:00",
            "2024-03-31T12:00:00+00:00",
            "2024-04-30T12:00:00+00:00"
        ]
    );
    // Quartz numbers days from 1 = Sunday: 2#1 is the first Monday.
    assert_eq!(
        next_in("0 0 9 ? * 2#1", UTC, (2025, 1, 1, 0, 0), 2),
        ["2025-01-06T09:00:00+00:00", "2025-02-03T09:00:00+00:00"]
    );
    // Nearest weekday to the 15th (2025-03-15 is a Saturday).
    assert_eq!(
        next_in("0 0 6 15W * ?", UTC, (2025, 3, 1, 0, 0), 1),
        ["2025-03-14T06:00:00+00:00"]
    );
    // A 7th field is the year.
    assert_eq!(
        next_in("0 0 0 1 1 ? 2030", UTC, (2025, 6, 1, 0, 0), 2),
        ["2030-01-01T00:00:00+00:00"]
    );
    // Unix form: second 0, days numbered from 0 = Sunday (1 is Monday).
    assert_eq!(
        next_in("*/20 8 * * 1", UTC, (2025, 1, 1, 0, 0), 3),
        [
            "2025-01-06T08:00:00+00:00",
            "2025-01-06T08:20:00+00:00",
            "2025-01-06T08:40:00+00:00"
        ]
    );
    // Every 10 seconds.
    assert_eq!(
        next_in("*/10 * * * * ?", UTC, (2025, 1, 1, 0, 0), 2),
        ["2025-01-01T00:00:10+00:00", "2025-01-01T00:00:20+00:00"]
    );
}

/// Invalid expressions are refused with a message naming the problem.
#[test]
fn invalid_expressions_are_refused_with_reasons() {
    let err = |e: &str| Schedule::parse(e, UTC).unwrap_err();
    assert!(err("0 0 12 * * * * *").contains("has 8 fields"));
    assert!(err("0 0").contains("has 2 fields"));
    assert!(err("0 61 * * * ?").contains("not a valid cron expression"));
    assert!(err("0 0 12 ? * FOO").contains("not a valid cron expression"));
    assert!(err("").contains("empty"));
    assert!(
        err("0 0 0 1 1 ? 2001").contains("never fires"),
        "{}",
        err("0 0 0 1 1 ? 2001")
    );
}

/// Spring forward in Amsterdam: a fixed 02:30 job runs once at 03:00; an interval job skips the missing hour.
#[test]
fn dst_spring_forward_amsterdam() {
    assert_eq!(
        next_in("0 30 2 * * ?", AMS, (2025, 3, 29, 12, 0), 3),
        [
            "2025-03-30T03:00:00+02:00",
            "2025-03-31T02:30:00+02:00",
            "2025-04-01T02:30:00+02:00"
        ]
    );
    assert_eq!(
        next_in("0 */30 * * * ?", AMS, (2025, 3, 30, 1, 0), 3),
        [
            "2025-03-30T01:30:00+01:00",
            "2025-03-30T03:00:00+02:00",
            "2025-03-30T03:30:00+02:00"
        ]
    );
}

/// Fall back in Amsterdam: a fixed 02:30 job runs once; an interval job runs in both passes of the repeated hour.
#[test]
fn dst_fall_back_amsterdam() {
    assert_eq!(
        next_in("0 30 2 * * ?", AMS, (2025, 10, 26, 0, 0), 2),
        ["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"]
    );
    assert_eq!(
        next_in("0 */30 * * * ?", AMS, (2025, 10, 26, 1, 45), 5),
        [
            "2025-10-26T02:00:00+02:00",
            "2025-10-26T02:30:00+02:00",
            "2025-10-26T02:00:00+01:00",
            "2025-10-26T02:30:00+01:00",
            "2025-10-26T03:00:00+01:00"
        ]
    );
    // Asked during the second pass, the fixed job does not run again.
    let schedule = Schedule::parse("0 30 2 * * ?", AMS).unwrap();
    assert_eq!(
        schedule.next_after(utc("2025-10-26T02:15:00+01:00")),
        Some(utc("2025-10-27T02:30:00+01:00"))
    );
}

/// New York's changes (02:00 → 03:00 in March, 02:00 → 01:00 in November) behave the same way.
#[test]
fn dst_new_york() {
    assert_eq!(
        next_in("0 30 2 * * ?", NYC, (2025, 3, 9, 0, 0), 2),
        ["2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"]
    );
    assert_eq!(
        next_in("0 30 1 * * ?", NYC, (2025, 11, 2, 0, 0), 2),
        ["2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"]
    );
    assert_eq!(
        next_in("0 0 * * * ?", NYC, (2025, 11, 2, 0, 30), 3),
        [
            "2025-11-02T01:00:00-04:00",
            "2025-11-02T01:00:00-05:00",
            "2025-11-02T02:00:00-05:00"
        ]
    );
    // A Unix-form daily job at a time that exists is not moved by the change.
    assert_eq!(
        next_in("0 7 * * *", NYC, (2025, 3, 8, 12, 0), 2),
        ["2025-03-09T07:00:00-04:00", "2025-03-10T07:00:00-04:00"]
    );
}

/// A test server plus a scheduler over its engine whose slots fire only by hand, at `clock`'s time.
async fn manual(at: &str) -> (TestServer, Scheduler, Arc<ManualClock>) {
    let server = TestServer::start().await;
    let clock = ManualClock::new(utc(at));
    let engine = server.state.engine.clone();
    let scheduler = Scheduler::manual(engine, UTC, clock.clone()).await.unwrap();
    (server, scheduler, clock)
}

/// A script definition; the year 2030 in the expressions keeps the server's own timer from firing them.
fn script(body: &str, cron: &str) -> Value {
    json!({"type": "bash", "script": body, "cron": cron})
}

async fn wait_status(server: &TestServer, id: &str, status: JobStatus) {
    for _ in 0..200 {
        if server.state.engine.get(id).await.unwrap().status == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {id} never reached {status}");
}

/// A slot whose previous run still runs is recorded as SKIPPED naming that job; with allowOverlap it runs.
#[tokio::test]
async fn overlap_is_recorded_as_skipped() {
    let (server, sched, clock) = manual("2030-01-01T11:00:00Z").await;
    server
        .put_script("slow", script("sleep 30", "0 0 12 * * ? 2030"))
        .await;
    sched.reload("slow").await;
    assert_eq!(sched.next_of("slow"), Some(utc("2030-01-01T12:00:00Z")));

    clock.set(utc("2030-01-01T12:00:00Z"));
    let fired = sched.fire_due().await;
    let [(name, Slot::Submitted(first))] = fired.as_slice() else {
        panic!("expected one submitted slot, got {fired:?}")
    };
    assert_eq!(name, "slow");
    wait_status(&server, first, JobStatus::Running).await;

    clock.set(utc("2030-01-02T12:00:00Z"));
    let fired = sched.fire_due().await;
    let [(_, Slot::Skipped(skipped))] = fired.as_slice() else {
        panic!("expected one skipped slot, got {fired:?}")
    };
    let skip = server.task(skipped).await;
    assert_eq!(skip["status"], "SKIPPED");
    let message = skip["error"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains(first.as_str()),
        "the skip names the running job: {skip}"
    );
    assert!(
        message.contains("2030-01-02T12:00:00"),
        "the skip names its slot: {skip}"
    );

    // With overlap allowed, the next slot starts beside the running job.
    let mut def = script("sleep 30", "0 0 12 * * ? 2030");
    def["allowOverlap"] = json!(true);
    server.put_script("slow", def).await;
    sched.reload("slow").await;
    clock.set(utc("2030-01-03T12:00:00Z"));
    let fired = sched.fire_due().await;
    let [(_, Slot::Submitted(second))] = fired.as_slice() else {
        panic!("expected a submitted slot with overlap allowed, got {fired:?}")
    };
    wait_status(&server, second, JobStatus::Running).await;
    assert_eq!(
        server.state.engine.get(first).await.unwrap().status,
        JobStatus::Running
    );

    server.state.engine.cancel(first).await.unwrap();
    server.state.engine.cancel(second).await.unwrap();
}

/// A disabled script is not fired and lists no next times, yet the API can still run it.
#[tokio::test]
async fn disabled_script_is_not_fired() {
    let (server, sched, clock) = manual("2030-01-01T11:00:00Z").await;
    let mut def = script("echo manual run", "0 0 12 * * ? 2030");
    def["disabled"] = json!(true);
    server.put_script("off", def).await;
    sched.reload("off").await;
    assert_eq!(sched.next_of("off"), None);

    clock.set(utc("2030-01-01T12:00:00Z"));
    assert!(sched.fire_due().await.is_empty());
    let listed = sched.list(3).await.unwrap();
    assert_eq!(listed[0]["name"], "off");
    assert_eq!(listed[0]["next"], json!([]));
    let all = JobFilter {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        server
            .state
            .engine
            .store()
            .list_jobs(&all)
            .await
            .unwrap()
            .total,
        0
    );

    let id = server.submit("off", None).await;
    assert_eq!(server.wait_done(&id, 20).await["status"], "COMPLETED");

    // Enabling it again arms it from the next slot.
    server
        .put_script("off", script("echo manual run", "0 0 12 * * ? 2030"))
        .await;
    sched.reload("off").await;
    assert_eq!(sched.next_of("off"), Some(utc("2030-01-02T12:00:00Z")));
}

/// An edited expression takes effect from the next slot; the cron job runs as the user who saved the script.
#[tokio::test]
async fn edited_expression_is_used_from_the_next_slot() {
    let (server, sched, clock) = manual("2030-01-01T11:00:00Z").await;
    server
        .put_script("edit", script("echo edited", "0 0 12 * * ? 2030"))
        .await;
    sched.reload("edit").await;
    assert_eq!(sched.next_of("edit"), Some(utc("2030-01-01T12:00:00Z")));

    server
        .put_script("edit", script("echo edited", "0 0 18 * * ? 2030"))
        .await;
    sched.reload("edit").await;
    assert_eq!(sched.next_of("edit"), Some(utc("2030-01-01T18:00:00Z")));
    clock.set(utc("2030-01-01T12:00:00Z"));
    assert!(
        sched.fire_due().await.is_empty(),
        "the old slot does not fire"
    );

    clock.set(utc("2030-01-01T18:00:00Z"));
    let fired = sched.fire_due().await;
    let [(_, Slot::Submitted(id))] = fired.as_slice() else {
        panic!("expected one submitted slot, got {fired:?}")
    };
    let job = server.wait_done(id, 20).await;
    assert_eq!(job["status"], "COMPLETED");
    let stored = server.state.engine.get(id).await.unwrap();
    assert_eq!(stored.trigger, Trigger::Cron);
    assert_eq!(stored.submit_user.as_deref(), Some("admin"));
    assert_eq!(sched.next_of("edit"), Some(utc("2030-01-02T18:00:00Z")));

    // Slots missed while "down" are not replayed: only the next one runs.
    clock.set(utc("2030-01-05T19:00:00Z"));
    assert_eq!(sched.fire_due().await.len(), 1);
    assert_eq!(sched.next_of("edit"), Some(utc("2030-01-06T18:00:00Z")));

    // Deleting the script drops its schedule.
    let r = server.delete("/api/scripts/edit").send().await.unwrap();
    assert!(r.status().is_success());
    sched.reload("edit").await;
    assert_eq!(sched.next_of("edit"), None);
}

/// A script's time zone moves its slots; the default zone applies without one.
#[tokio::test]
async fn script_time_zone_is_used() {
    let (server, sched, _clock) = manual("2030-01-01T00:00:00Z").await;
    let mut def = script("true", "0 0 12 * * ? 2030");
    def["timeZone"] = json!("America/New_York");
    server.put_script("ny", def).await;
    sched.reload("ny").await;
    assert_eq!(sched.next_of("ny"), Some(utc("2030-01-01T17:00:00Z")));
    let listed = sched.list(2).await.unwrap();
    assert_eq!(listed[0]["timeZone"], "America/New_York");
    assert_eq!(
        listed[0]["next"],
        json!(["2030-01-01T12:00:00-05:00", "2030-01-02T12:00:00-05:00"])
    );
}

/// Saving an invalid expression is refused with a message on the `cron` field.
#[tokio::test]
async fn invalid_expression_is_refused_on_save() {
    let server = TestServer::start().await;
    let r = server
        .put("/api/scripts/bad")
        .json(&script("true", "0 0 25 * * ?"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("cron") && body.contains("not a valid cron expression"),
        "{body}"
    );
}

/// Schedules come back after a restart from the database alone.
#[tokio::test]
async fn schedules_survive_a_restart() {
    let server = TestServer::start().await;
    server
        .put_script("kept", script("true", "0 0 12 * * ? 2030"))
        .await;
    let data_dir = server.data_dir.clone();
    let tmp = server.stop().await;

    let server = TestServer::start_with(common::test_config(&data_dir)).await;
    assert_eq!(
        server.state.scheduler.next_of("kept"),
        Some(utc("2030-01-01T12:00:00Z"))
    );
    let listed: Value = server
        .get("/api/tasks/scheduled")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        listed.to_string().contains("2030-01-01T12:00:00+00:00"),
        "{listed}"
    );
    drop(tmp);
}

/// The real timer fires an every-second expression repeatedly; disabling stops it without touching finished jobs.
#[tokio::test]
async fn real_timer_fires_every_second() {
    let server = TestServer::start().await;
    server
        .put_script("tick", script("echo tick", "* * * * * ?"))
        .await;
    tokio::time::sleep(Duration::from_millis(4500)).await;

    let mut def = script("echo tick", "* * * * * ?");
    def["disabled"] = json!(true);
    server.put_script("tick", def).await;
    let filter = JobFilter {
        script: Some("tick".into()),
        limit: 100,
        ..Default::default()
    };
    let page = server
        .state
        .engine
        .store()
        .list_jobs(&filter)
        .await
        .unwrap();
    assert!(
        page.total >= 3,
        "expected at least 3 runs in 4.5 s, got {}",
        page.total
    );
    assert!(page.jobs.iter().all(|j| j.trigger == Trigger::Cron));
    assert!(page
        .jobs
        .iter()
        .all(|j| j.submit_user.as_deref() == Some("admin")));
    // Runs are one second apart or more: no slot fired twice.
    let mut submitted: Vec<i64> = page.jobs.iter().map(|j| j.submitted_ms).collect();
    submitted.sort();
    for pair in submitted.windows(2) {
        assert!(
            pair[1] - pair[0] >= 500,
            "two runs {} ms apart",
            pair[1] - pair[0]
        );
    }

    tokio::time::sleep(Duration::from_millis(2000)).await;
    let after = server
        .state
        .engine
        .store()
        .list_jobs(&filter)
        .await
        .unwrap();
    assert_eq!(after.total, page.total, "a disabled schedule fired");
}
