//! Running scripts and reading, following, cancelling and deleting tasks.

use super::error::error_with;
use super::openapi::{ErrorBody, ScheduledList};
use super::{message, read_body, script_name, QueryArgs};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::service;
use crate::state::{check_same_origin, AppState};
use app::model::*;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;

/// The task as JSON, in EMX2's shape plus Taskwright's fields. `subTasks`
/// holds the newest log lines, one entry per line.
pub async fn task_json(s: &AppState, job: &Job) -> Result<Value> {
    let lines = s
        .engine
        .store()
        .log_tail(&job.id, s.cfg.task_log_lines)
        .await?;
    let url = format!("/api/tasks/{}", job.id);
    let sub: Vec<Value> = lines
        .iter()
        .map(|l| {
            json!({
                "id": format!("{}-{}", job.id, l.n),
                "description": l.text,
                "status": if l.stream == LogStream::Stderr { "WARNING" } else { "COMPLETED" },
                "stream": l.stream.as_str(),
                "timeMilliseconds": l.time_ms,
            })
        })
        .collect();
    let description = match (&job.status, &job.error) {
        (JobStatus::Waiting, _) => format!("script {:?} is waiting to start", job.script),
        (JobStatus::Running, _) => format!("running script {:?}", job.script),
        (JobStatus::Completed, _) => format!("script {:?} completed", job.script),
        (_, Some(e)) => format!("script {:?}: {e}", job.script),
        (st, None) => format!("script {:?}: {st}", job.script),
    };
    Ok(json!({
        "id": job.id,
        "description": description,
        "status": job.status,
        "script": job.script,
        "name": job.script,
        "parameters": job.parameters,
        "submitUser": job.submit_user,
        "trigger": job.trigger,
        "submitTimeMilliseconds": job.submitted_ms,
        "startTimeMilliseconds": job.started_ms,
        "endTimeMilliseconds": job.finished_ms,
        "duration": job.duration_ms,
        "durationMilliseconds": job.duration_ms,
        "exitCode": job.exit_code,
        "error": job.error,
        "output": job.output.as_ref().map(|o| json!({
            "filename": o.filename, "size": o.size, "contentType": o.content_type,
            "url": format!("{url}/output"),
        })),
        "outputURL": job.output.as_ref().map(|_| format!("{url}/output")),
        "logOmittedBytes": job.log_omitted_bytes,
        "logTruncated": job.log_omitted_bytes > 0,
        "mail": job.mail_status.as_ref().map(|st| json!({"status": st, "error": job.mail_error})),
        "url": url,
        "logUrl": format!("{url}/log"),
        "eventsUrl": format!("{url}/events"),
        "deleteUrl": url,
        "subTasks": sub,
    }))
}

fn trigger_of(c: &Caller) -> Trigger {
    if c.via_cookie {
        Trigger::Ui
    } else {
        Trigger::Api
    }
}

fn params_from(body: &[u8]) -> Result<Option<String>> {
    if body.is_empty() {
        return Ok(None);
    }
    String::from_utf8(body.to_vec())
        .map(Some)
        .map_err(|_| Error::BadRequest("the parameters are not valid UTF-8 text".into()))
}

#[utoipa::path(post, path = "/api/scripts/{name}", operation_id = "run_script",
    tag = "runs", description = "Starts a job of the script and answers at once. Also served at \
    `/api/script/{name}` (EMX2's documented path). The raw body, whatever its type, is the parameters text.",
    params(("name" = String, Path, description = "script name; `+` and `%20` mean a space")),
    request_body(content = String, content_type = "text/plain", description = "parameters text (optional)"),
    responses((status = 200, description = "started: `{\"id\", \"url\"}`", body = Object),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
/// `POST /api/script(s)/{name}`: queue a run; the body is the parameters.
pub async fn run_async(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response> {
    let name = script_name(name);
    let body = read_body(body, s.cfg.max_parameters_bytes, "parameters").await?;
    let id = service::run(&s, &caller, &name, params_from(&body)?, trigger_of(&caller)).await?;
    let url = format!("/api/tasks/{id}");
    let mut resp = Json(json!({"id": id, "url": url})).into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct SyncQuery {
    parameters: Option<String>,
}

#[utoipa::path(get, path = "/api/scripts/{name}", operation_id = "run_script_and_wait",
    tag = "runs", description = "Runs the script and waits for the job (up to `TASKWRIGHT_SYNC_WAIT_SECONDS`). \
    Also served at `/api/script/{name}`. Parameters come from `?parameters=` or the body.",
    params(("name" = String, Path, description = "script name"),
        ("parameters" = Option<String>, Query, description = "parameters text; else the body")),
    responses((status = 200, description = "completed: the output file's bytes, or the task JSON when there is none"),
        (status = 202, description = "still running at the limit; `Location` names the task", body = Object),
        (status = 409, description = "the job was cancelled", body = ErrorBody),
        (status = 500, description = "the job ended ERROR: the error, task id, status, exit code and log tail", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
/// `GET /api/script(s)/{name}`: run and wait; answers with the output file,
/// the task, an error with the log's tail, or 202 when still running.
pub async fn run_sync(
    State(s): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path(name): Path<String>,
    QueryArgs(q): QueryArgs<SyncQuery>,
    body: Body,
) -> Result<Response> {
    // axum routes HEAD to GET handlers; a HEAD must not start a job.
    if method == Method::HEAD {
        return Err(Error::MethodNotAllowed(
            "HEAD does not run a script; use GET (run and wait) or POST (start)".into(),
        ));
    }
    // A GET that runs a job is a change: a signed-in browser must be on our
    // own pages (a link on another site would carry the Lax cookie).
    if caller.via_cookie {
        check_same_origin(&headers, &s.public_url)?;
    }
    let name = script_name(name);
    let body = read_body(body, s.cfg.max_parameters_bytes, "parameters").await?;
    let params = match q.parameters {
        Some(p) => Some(p),
        None => params_from(&body)?,
    };
    let id = service::run(&s, &caller, &name, params, trigger_of(&caller)).await?;
    let job = s
        .engine
        .wait(&id, Duration::from_secs(s.cfg.sync_wait_seconds))
        .await?;
    let url = format!("/api/tasks/{id}");
    match job.status {
        JobStatus::Completed => match &job.output {
            Some(o) => file_response(&s, &job.id, o).await,
            None => Ok(Json(task_json(&s, &job).await?).into_response()),
        },
        JobStatus::Waiting | JobStatus::Running => {
            let mut resp = (
                StatusCode::ACCEPTED,
                Json(json!({
                    "id": id, "url": url, "status": job.status,
                    "message": format!("still running after {} s; follow it at {url}", s.cfg.sync_wait_seconds),
                })),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            Ok(resp)
        }
        status => {
            let tail: Vec<String> = s
                .engine
                .store()
                .log_tail(&id, 20)
                .await?
                .into_iter()
                .map(|l| l.text)
                .collect();
            let code = if status == JobStatus::Cancelled {
                StatusCode::CONFLICT
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            let msg = format!(
                "the job ended {status}: {}",
                job.error.as_deref().unwrap_or("no error message")
            );
            Ok(error_with(
                code,
                &msg,
                json!({"id": id, "url": url, "status": status, "exitCode": job.exit_code, "log": tail}),
            ))
        }
    }
}

/// Streams a job's output file with its type and a download name.
async fn file_response(s: &AppState, id: &str, o: &OutputInfo) -> Result<Response> {
    let file = tokio::fs::File::open(s.engine.output_path(id))
        .await
        .map_err(|e| {
            Error::NotFound(format!(
                "the output file of task {id} is missing from storage ({e})"
            ))
        })?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
    Ok((
        [
            (header::CONTENT_TYPE, super::header_value(&o.content_type)),
            (header::CONTENT_DISPOSITION, super::attachment(&o.filename)),
            (
                header::CONTENT_LENGTH,
                super::header_value(&o.size.to_string()),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/tasks/{id}", operation_id = "get_task", tag = "tasks",
    description = "One task in EMX2's shape, with the newest log lines as `subTasks`.",
    params(("id" = String, Path, description = "task (job) id")),
    responses((status = 200, description = "the task", body = Object), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let job = service::job(&s, &caller, &id).await?;
    Ok(Json(task_json(&s, &job).await?))
}

#[utoipa::path(get, path = "/api/tasks/{id}/output", operation_id = "get_task_output", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, description = "the output file, streamed, with its content type and filename"),
        (status = 404, description = "no such task, or it has no output", body = ErrorBody)))]
pub async fn output(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    let job = service::job(&s, &caller, &id).await?;
    match &job.output {
        Some(o) => file_response(&s, &id, o).await,
        None => Err(Error::NotFound(format!(
            "task {id} has no output file (status {})",
            job.status
        ))),
    }
}

#[derive(Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    offset: i64,
}

#[utoipa::path(get, path = "/api/tasks/{id}/log", operation_id = "get_task_log", tag = "tasks",
    params(("id" = String, Path, description = "task id"),
        ("offset" = Option<i64>, Query, description = "return only what follows this byte offset")),
    responses((status = 200, description = "the log as text; `X-Log-Offset` says where to continue", body = String, content_type = "text/plain"),
        (status = 404, body = ErrorBody)))]
/// `GET /api/tasks/{id}/log?offset=N`: the log as text from byte N on.
/// `X-Log-Offset` tells where the next poll should start.
pub async fn log(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<LogQuery>,
) -> Result<Response> {
    let job = service::job(&s, &caller, &id).await?;
    if q.offset < 0 {
        return Err(Error::invalid("offset", "offset cannot be negative"));
    }
    let lines = s.engine.store().log_lines_from(&id, q.offset).await?;
    let mut text = String::new();
    let mut prev_n = 0;
    let mut next = q.offset;
    for (line, off) in &lines {
        if line.n > prev_n + 1 && prev_n > 0 {
            text.push_str(&format!(
                "[… {} bytes of log left out here; the log keeps its first and last {} bytes …]\n",
                job.log_omitted_bytes,
                s.cfg.log_max_bytes / 2
            ));
        }
        prev_n = line.n;
        let full = format!("{}\n", line.text);
        // An offset inside a character starts at the next whole one.
        let mut skip = (q.offset - off).clamp(0, full.len() as i64) as usize;
        while !full.is_char_boundary(skip) {
            skip += 1;
        }
        text.push_str(&full[skip..]);
        next = off + full.len() as i64;
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::HeaderName::from_static("x-log-offset"),
                next.to_string(),
            ),
            (
                header::HeaderName::from_static("x-task-status"),
                job.status.to_string(),
            ),
        ],
        text,
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/tasks/{id}/events", operation_id = "follow_task", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, description = "server-sent events: `log` lines and `status` changes, ending after the final status", content_type = "text/event-stream"),
        (status = 404, body = ErrorBody)))]
/// `GET /api/tasks/{id}/events`: server-sent events. `log` events carry a
/// line (`n`, `stream`, `timeMs`, `text`), `status` events the status; the
/// stream ends after the final status. Lines already written come first.
pub async fn events(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let job = service::job(&s, &caller, &id).await?;
    let mut changes = s.engine.subscribe();
    let live = s.engine.live(&id);
    let mut live_rx = live.as_ref().map(|l| l.lines.subscribe());
    let stored = s.engine.store().log_lines_from(&id, 0).await?;
    let unflushed: Vec<LogLine> = live
        .as_ref()
        .map(|l| {
            l.unflushed
                .lock()
                .unwrap()
                .iter()
                .map(|(line, _)| (**line).clone())
                .collect()
        })
        .unwrap_or_default();
    let engine = s.engine.clone();

    let stream = async_stream::stream! {
        let mut last_n = 0;
        yield Ok(status_event(job.status));
        for line in stored.into_iter().map(|(l, _)| l).chain(unflushed) {
            if line.n > last_n {
                last_n = line.n;
                yield Ok(log_event(&line));
            }
        }
        if job.status.is_finished() {
            return;
        }
        loop {
            tokio::select! {
                line = async { match live_rx.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    match line {
                        Ok(line) if line.n > last_n => { last_n = line.n; yield Ok(log_event(&line)); }
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                            yield Ok(Event::default().event("gap").data(format!("{k} lines skipped; read /log for them")));
                        }
                        Err(_) => live_rx = None,
                    }
                }
                change = changes.recv() => match change {
                    Ok(c) if c.id == id => {
                        if c.status == JobStatus::Running && live_rx.is_none() {
                            live_rx = engine.live(&id).map(|l| l.lines.subscribe());
                        }
                        yield Ok(status_event(c.status));
                        if c.status.is_finished() {
                            // Lines still in flight were stored before the status.
                            if let Ok(rest) = engine.store().log_lines_from(&id, 0).await {
                                for (line, _) in rest {
                                    if line.n > last_n { last_n = line.n; yield Ok(log_event(&line)); }
                                }
                            }
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if let Ok(j) = engine.get(&id).await {
                            if j.status.is_finished() { yield Ok(status_event(j.status)); break; }
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn status_event(status: JobStatus) -> Event {
    Event::default().event("status").data(status.as_str())
}

fn log_event(l: &LogLine) -> Event {
    Event::default().event("log").data(
        json!({"n": l.n, "stream": l.stream, "timeMs": l.time_ms, "text": l.text}).to_string(),
    )
}

#[utoipa::path(post, path = "/api/tasks/{id}/cancel", operation_id = "cancel_task", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody),
        (status = 409, description = "the task has already finished", body = ErrorBody)))]
pub async fn cancel(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let job = service::cancel(&s, &caller, &id).await?;
    Ok(Json(task_json(&s, &job).await?))
}

#[utoipa::path(delete, path = "/api/tasks/{id}", operation_id = "delete_task", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody),
        (status = 409, description = "the task is waiting or running", body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    service::delete_job(&s, &caller, &id).await?;
    Ok(message(format!("task {id} deleted")))
}

#[utoipa::path(post, path = "/api/tasks/clear", operation_id = "clear_tasks", tag = "tasks",
    description = "Deletes every finished task (rows, logs, outputs); waiting and running ones stay.",
    responses((status = 200, description = "how many were deleted", body = Object)))]
pub async fn clear(State(s): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    let n = service::clear(&s, &caller).await?;
    Ok(Json(
        json!({"message": format!("{n} finished tasks deleted"), "deleted": n}),
    ))
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    script: Option<String>,
    status: Option<String>,
}

#[utoipa::path(get, path = "/api/tasks", operation_id = "list_tasks", tag = "tasks",
    description = "Tasks, newest first, with EMX2's `clearUrl` and `tasks[]`.",
    params(("limit" = Option<i64>, Query, description = "page size, default 100, at most 1000"),
        ("offset" = Option<i64>, Query, description = "tasks to skip"),
        ("script" = Option<String>, Query, description = "only this script's"),
        ("status" = Option<JobStatus>, Query, description = "only this status")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)))]
/// `GET /api/tasks`: newest first, with EMX2's `clearUrl` and per-task urls.
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<ListQuery>,
) -> Result<Json<Value>> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(st) => Some(JobStatus::parse(st).ok_or_else(|| {
            Error::invalid("status", format!("{st:?} is not a status; use one of WAITING, RUNNING, COMPLETED, ERROR, CANCELLED, SKIPPED"))
        })?),
    };
    let filter = JobFilter {
        script: q.script.filter(|s| !s.is_empty()),
        status,
        limit: q.limit.unwrap_or(100),
        offset: q.offset.unwrap_or(0),
    };
    let page = service::jobs(&s, &caller, &filter).await?;
    let tasks: Vec<Value> = page
        .jobs
        .iter()
        .map(|j| {
            let url = format!("/api/tasks/{}", j.id);
            json!({
                "id": j.id,
                "description": format!("script {:?}", j.script),
                "status": j.status,
                "script": j.script,
                "submitUser": j.submit_user,
                "trigger": j.trigger,
                "submitTimeMilliseconds": j.submitted_ms,
                "startTimeMilliseconds": j.started_ms,
                "endTimeMilliseconds": j.finished_ms,
                "duration": j.duration_ms,
                "exitCode": j.exit_code,
                "error": j.error,
                "url": url,
                "deleteUrl": url,
            })
        })
        .collect();
    let next = filter.offset + page.jobs.len() as i64;
    Ok(Json(json!({
        "clearUrl": "/api/tasks/clear",
        "total": page.total,
        "limit": filter.limit,
        "offset": filter.offset,
        "nextOffset": (next < page.total).then_some(next),
        "tasks": tasks,
    })))
}

#[utoipa::path(get, path = "/api/tasks/scheduled", operation_id = "list_schedules", tag = "tasks",
    responses((status = 200, description = "`{\"scheduled\": [...]}`", body = ScheduledList)))]
/// `GET /api/tasks/scheduled`: every schedule and its next fire times.
pub async fn scheduled(State(s): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    caller.require(Role::Viewer, "listing schedules")?;
    let list = s.scheduler.list(5).await?;
    Ok(Json(json!({ "scheduled": list })))
}
