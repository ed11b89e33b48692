//! Taskwright's speed and memory benchmark. Run with `make bench` (or
//! `cargo run --release -p server --example bench`); it prints a Markdown
//! table of medians for the README.
//!
//! Everything goes through the real engine and the real HTTP API with every
//! job persisted in a real SQLite file in a temporary directory; the Python
//! rows use a real uv-built environment (`requests` is installed once,
//! before timing).

use app::model::{JobStatus, Trigger};
use serde_json::json;
use std::time::{Duration, Instant};
use taskwright::config::Config;
use taskwright::engine::Submit;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut cfg = Config::for_data_dir(tmp.path());
    cfg.bind = "127.0.0.1:0".parse()?;
    cfg.admin_token = Some("bench-token".into());
    cfg.admin_password = Some("bench-password".into());
    cfg.max_concurrent_jobs = Some(4);
    cfg.retention_max_jobs = 0;
    if let Ok(uv) = std::env::var("TASKWRIGHT_UV") {
        cfg.uv = uv;
    } else {
        cfg.uv = concat!(env!("CARGO_MANIFEST_DIR"), "/../.tools/venv/bin/uv").into();
    }
    let listener = tokio::net::TcpListener::bind(cfg.bind).await?;
    let addr = listener.local_addr()?;
    let built = taskwright::build(cfg, addr).await?;
    let state = built.state.clone();
    tokio::spawn(async move { axum::serve(listener, built.router).await });
    let engine = state.engine.clone();
    let url = format!("http://{addr}");
    let http = reqwest::Client::new();
    let put = |name: &str, def: serde_json::Value| {
        http.put(format!("{url}/api/scripts/{name}"))
            .header("x-molgenis-token", "bench-token")
            .json(&def)
            .send()
    };
    put("true", json!({"type": "bash", "script": "true"})).await?;
    put("py", json!({"type": "python", "dependencies": "requests", "script": "print('first line')\nimport requests"})).await?;
    put(
        "flood",
        json!({"type": "bash", "script": "head -c 100000000 /dev/zero | tr '\\0' x | fold -w 99"}),
    )
    .await?;
    let submit = |script: &str| Submit {
        script: script.into(),
        parameters: None,
        user: Some("admin".into()),
        trigger: Trigger::Api,
    };
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // 1. One trivial job at a time: submit → COMPLETED.
    for _ in 0..20 {
        let id = engine.submit(submit("true")).await?;
        engine.wait(&id, Duration::from_secs(10)).await?;
    }
    let mut lat = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let id = engine.submit(submit("true")).await?;
        let job = engine.wait(&id, Duration::from_secs(10)).await?;
        assert_eq!(job.status, JobStatus::Completed);
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    rows.push((
        "trivial bash job (`true`), submit → COMPLETED, median of 300".into(),
        format!("{:.2} ms", median(lat)),
        "≤ 5 ms".into(),
    ));

    // 2. Sustained: 2,000 trivial jobs, concurrency 4.
    let n = 2000;
    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(engine.submit(submit("true")).await?);
    }
    for id in &ids {
        engine.wait(id, Duration::from_secs(120)).await?;
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    rows.push((
        "trivial bash jobs sustained, concurrency 4 (2,000 jobs)".into(),
        format!("{rate:.0} jobs/s"),
        "≥ 300 jobs/s".into(),
    ));

    // 3. Python with installed dependencies: submit → first log line.
    let id = engine.submit(submit("py")).await?;
    let warm = engine.wait(&id, Duration::from_secs(300)).await?;
    assert_eq!(
        warm.status,
        JobStatus::Completed,
        "installing requests failed"
    );
    let mut lat = Vec::new();
    for _ in 0..30 {
        let id = engine.submit(submit("py")).await?;
        let job = engine.wait(&id, Duration::from_secs(60)).await?;
        let lines = engine.store().log_lines_from(&id, 0).await?;
        let first = lines
            .iter()
            .find(|(l, _)| l.text == "first line")
            .expect("first line");
        lat.push((first.0.time_ms - job.submitted_ms) as f64);
    }
    rows.push((
        "python job, `requests` installed: submit → first log line, median of 30".into(),
        format!("{:.0} ms", median(lat)),
        "≤ 100 ms".into(),
    ));

    // 4. 100 MB to stdout: ingest rate and memory rise.
    let before = rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let id = engine.submit(submit("flood")).await?;
    let job = engine.wait(&id, Duration::from_secs(300)).await?;
    sampler.abort();
    let secs = job.duration_ms.unwrap_or(1) as f64 / 1000.0;
    let rise_mib = (peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before)) as f64
        / 1024.0;
    rows.push((
        "job printing 100 MB to stdout: ingest rate".into(),
        format!("{:.0} MB/s", 100.0 / secs),
        "≥ 50 MB/s".into(),
    ));
    rows.push((
        "job printing 100 MB to stdout: server memory rise".into(),
        format!("{rise_mib:.1} MiB"),
        "≤ 50 MiB".into(),
    ));

    // 5. The API over 100,000 finished jobs.
    let pool = &engine.store().writer;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(pool)
        .await?;
    let missing = 100_000 - existing;
    let mut tx = pool.begin().await?;
    for i in 0..missing {
        sqlx::query("INSERT INTO jobs (id, script_name, status, submit_user, trigger, submitted_ms, started_ms, finished_ms, duration_ms, exit_code) VALUES (?, 'true', 'COMPLETED', 'admin', 'api', ?, ?, ?, 3, 0)")
            .bind(uuid::Uuid::new_v4().to_string()).bind(i).bind(i).bind(i + 3)
            .execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let some_id: String =
        sqlx::query_scalar("SELECT id FROM jobs ORDER BY seq LIMIT 1 OFFSET 50000")
            .fetch_one(pool)
            .await?;
    let time_get = |path: String, runs: usize| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let mut v = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let r = http
                    .get(format!("{url}{path}"))
                    .header("x-molgenis-token", "bench-token")
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{path}: {}", r.status());
                let _ = r.bytes().await.unwrap();
                v.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            median(v)
        }
    };
    let m = time_get("/api/tasks?limit=100".into(), 100).await;
    rows.push((
        "`GET /api/tasks?limit=100`, 100,000 jobs stored, median".into(),
        format!("{m:.2} ms"),
        "≤ 20 ms".into(),
    ));
    let m = time_get(format!("/api/tasks/{some_id}"), 200).await;
    rows.push((
        "`GET /api/tasks/{id}`, 100,000 jobs stored, median".into(),
        format!("{m:.2} ms"),
        "≤ 5 ms".into(),
    ));
    let m = time_get("/api/scripts/true".into(), 200).await;
    rows.push((
        "synchronous `GET /api/scripts/{name}` of a trivial bash script, median".into(),
        format!("{m:.2} ms"),
        "≤ 20 ms".into(),
    ));

    println!("\n| what | measured | target |\n|---|---|---|");
    for (what, got, target) in rows {
        println!("| {what} | {got} | {target} |");
    }
    Ok(())
}
