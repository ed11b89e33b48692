//! The jobs list and the job page with its live log.

use super::scripts::script_href;
use super::widgets::{short_id, ConfirmButton, ErrorText, StatusBadge};
use super::Guard;
use crate::api;
use crate::model::*;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

const PAGE_SIZE: i64 = 20;

/// Bumps the returned counter every `seconds` while the page is open (in
/// the browser only), so resources keyed on it are fetched again.
fn ticker(seconds: u64) -> RwSignal<u32> {
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|t| *t = t.wrapping_add(1)),
            std::time::Duration::from_secs(seconds),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    tick
}

/// `/apps/tasks/jobs`: newest first, filtered by script and status, paged;
/// refreshed every two seconds.
#[component]
pub fn JobsPage() -> impl IntoView {
    view! { <Guard min=Role::Viewer page=|me| view! { <JobsList me /> } /> }
}

#[component]
fn JobsList(me: Me) -> impl IntoView {
    let script = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let page = RwSignal::new(0i64);
    let changed = RwSignal::new(0u32);
    let tick = ticker(2);
    let jobs = Resource::new(
        move || {
            (
                script.get(),
                status.get(),
                page.get(),
                tick.get(),
                changed.get(),
            )
        },
        |(script, status, page, _, _)| {
            api::list_jobs(JobFilter {
                script: Some(script.trim().to_string()).filter(|s| !s.is_empty()),
                status: JobStatus::parse(&status),
                limit: PAGE_SIZE,
                offset: page * PAGE_SIZE,
            })
        },
    );
    let cancel = ServerAction::<api::CancelJob>::new();
    let delete = ServerAction::<api::DeleteJob>::new();
    let clear = ServerAction::<api::ClearJobs>::new();
    Effect::new(move |_| {
        cancel.version().get();
        delete.version().get();
        clear.version().get();
        changed.update(|c| *c += 1);
    });
    let failure = move || {
        [
            cancel.value().get().and_then(|r| r.err()),
            delete.value().get().and_then(|r| r.err()),
            clear.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| api::error_text(&e))
        .unwrap_or_default()
    };
    let role = me.role;
    view! {
        <div class="page-head">
            <h1>"Jobs"</h1>
            {(role >= Role::Admin).then(|| view! {
                <ConfirmButton
                    label="Clear finished jobs"
                    class="danger"
                    question="Delete every finished job and its log?".to_string()
                    on_confirm=move || { clear.dispatch(api::ClearJobs {}); }
                />
            })}
        </div>
        <p class="message" role="status">
            {move || match clear.value().get() {
                Some(Ok(n)) => format!("{n} finished jobs deleted."),
                _ => String::new(),
            }}
        </p>
        <div class="filters">
            <div class="field inline">
                <label for="jobs-script">"Script"</label>
                <input
                    id="jobs-script"
                    type="search"
                    bind:value=script
                    on:input=move |_| page.set(0)
                />
            </div>
            <div class="field inline">
                <label for="jobs-status">"Status"</label>
                <select id="jobs-status" bind:value=status on:change=move |_| page.set(0)>
                    <option value="">"any"</option>
                    {JobStatus::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> })
                        .collect_view()}
                </select>
            </div>
        </div>
        <p class="error" role="alert">{failure}</p>
        <Transition fallback=|| view! { <p class="loading">"Loading jobs…"</p> }>
            {move || Suspend::new(async move {
                match jobs.await {
                    Err(e) => view! { <ErrorText error=e /> }.into_any(),
                    Ok(p) if p.jobs.is_empty() => {
                        view! { <p class="empty">"No jobs."</p> }.into_any()
                    }
                    Ok(p) => {
                        let total = p.total;
                        view! {
                            <div class="table-wrap">
                                <table class="jobs">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Id"</th>
                                            <th scope="col">"Script"</th>
                                            <th scope="col">"Status"</th>
                                            <th scope="col">"Trigger"</th>
                                            <th scope="col">"Submitted by"</th>
                                            <th scope="col">"Submitted (UTC)"</th>
                                            <th scope="col">"Duration"</th>
                                            <th scope="col"><span class="sr-only">"Actions"</span></th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {p.jobs
                                            .into_iter()
                                            .map(|j| view! { <JobRow j role cancel delete /> })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <Pager page total />
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn JobRow(
    j: Job,
    role: Role,
    cancel: ServerAction<api::CancelJob>,
    delete: ServerAction<api::DeleteJob>,
) -> impl IntoView {
    let id = j.id.clone();
    let status = j.status;
    let action = if !status.is_finished() && role >= Role::Runner {
        let id = id.clone();
        Some(
            view! {
                <button
                    class="btn small"
                    aria-label=format!("Cancel job {}", short_id(&id))
                    on:click=move |_| { cancel.dispatch(api::CancelJob { id: id.clone() }); }
                >"Cancel"</button>
            }
            .into_any(),
        )
    } else if status.is_finished() && role >= Role::Admin {
        let id = id.clone();
        Some(
            view! {
                <button
                    class="btn small danger"
                    aria-label=format!("Delete job {}", short_id(&id))
                    on:click=move |_| { delete.dispatch(api::DeleteJob { id: id.clone() }); }
                >"Delete"</button>
            }
            .into_any(),
        )
    } else {
        None
    };
    view! {
        <tr data-job=id.clone() data-status=status.as_str()>
            <td class="mono"><a href=format!("/apps/tasks/jobs/{id}")>{short_id(&id)}</a></td>
            <td><a href=script_href(&j.script)>{j.script.clone()}</a></td>
            <td><StatusBadge status /></td>
            <td>{j.trigger.as_str()}</td>
            <td>{j.submit_user.clone()}</td>
            <td>{format_ms(j.submitted_ms)}</td>
            <td>{j.duration_ms.map(format_duration)}</td>
            <td>{action}</td>
        </tr>
    }
}

#[component]
fn Pager(page: RwSignal<i64>, total: i64) -> impl IntoView {
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    // Comparisons live outside `view!`, where a `>` would end the tag.
    let at_newest = move || page.get() == 0;
    let at_oldest = move || page.get() + 1 >= pages;
    view! {
        <nav class="pager" aria-label="Pages">
            <button class="btn small" disabled=at_newest on:click=move |_| page.update(|p| *p -= 1)>
                "Newer"
            </button>
            <span>{move || format!("Page {} of {pages} ({total} jobs)", page.get() + 1)}</span>
            <button
                class="btn small"
                disabled=at_oldest
                on:click=move |_| page.update(|p| *p += 1)
            >
                "Older"
            </button>
        </nav>
    }
}

/// `/apps/tasks/jobs/:id`: the facts of one job and its log, live.
#[component]
pub fn JobPage() -> impl IntoView {
    view! { <Guard min=Role::Viewer page=|me| view! { <JobDetail me /> } /> }
}

#[component]
fn JobDetail(me: Me) -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    // The live log reports each status change; the facts are fetched again then.
    let live_status = RwSignal::new(None::<JobStatus>);
    let job = Resource::new(
        move || (id(), live_status.get()),
        |(id, _)| api::get_job(id),
    );
    let cancel = ServerAction::<api::CancelJob>::new();
    Effect::new(move |_| {
        if cancel.version().get() > 0 {
            job.refetch();
        }
    });
    let role = me.role;
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the job…"</p> }>
            {move || Suspend::new(async move {
                match job.await {
                    Err(e) => view! { <ErrorText error=e /> }.into_any(),
                    Ok(j) => view! { <JobFacts j role cancel /> }.into_any(),
                }
            })}
        </Transition>
        <p class="error" role="alert">
            {move || match cancel.value().get() {
                Some(Err(e)) => api::error_text(&e),
                _ => String::new(),
            }}
        </p>
        {move || {
            let id = id();
            view! { <LiveLog id status=live_status /> }
        }}
    }
}

#[component]
fn JobFacts(j: Job, role: Role, cancel: ServerAction<api::CancelJob>) -> impl IntoView {
    let status = j.status;
    let id = j.id.clone();
    let fact = |label: &'static str, value: Option<String>| {
        value.map(|v| view! { <dt>{label}</dt><dd>{v}</dd> })
    };
    let mail = j.mail_status.clone().map(|m| match &j.mail_error {
        Some(e) => format!("{m}: {e}"),
        None => m,
    });
    view! {
        <div class="page-head">
            <h1>"Job " <span class="mono">{short_id(&j.id)}</span></h1>
            <StatusBadge status />
            {(!status.is_finished() && role >= Role::Runner).then(|| {
                let id = id.clone();
                view! {
                    <button class="btn danger" on:click=move |_| { cancel.dispatch(api::CancelJob { id: id.clone() }); }>
                        "Cancel job"
                    </button>
                }
            })}
        </div>
        <dl class="facts">
            <dt>"Script"</dt>
            <dd><a href=script_href(&j.script)>{j.script.clone()}</a></dd>
            {fact("Id", Some(j.id.clone()))}
            {fact("Status", Some(status.as_str().into()))}
            {fact("Trigger", Some(j.trigger.as_str().into()))}
            {fact("Submitted by", j.submit_user.clone())}
            {fact("Submitted (UTC)", Some(format_ms(j.submitted_ms)))}
            {fact("Started (UTC)", j.started_ms.map(format_ms))}
            {fact("Finished (UTC)", j.finished_ms.map(format_ms))}
            {fact("Duration", j.duration_ms.map(format_duration))}
            {fact("Parameters", j.parameters.clone())}
            {fact("Exit code", j.exit_code.map(|c| c.to_string()))}
            {fact("Error", j.error.clone())}
            {fact("Failure mail", mail)}
            {j.output.clone().map(|o| view! {
                <dt>"Output"</dt>
                <dd>
                    <a class="download" href=format!("/api/tasks/{}/output", j.id) download=o.filename.clone()>
                        {format!("Download {} ({})", o.filename, format_bytes(o.size))}
                    </a>
                </dd>
            })}
        </dl>
        {(j.log_omitted_bytes > 0).then(|| view! {
            <p class="notice" role="note">
                {format!(
                    "The log was truncated: {} in the middle were left out; the start and the end are kept.",
                    format_bytes(j.log_omitted_bytes as u64),
                )}
            </p>
        })}
    }
}

/// The job's log, streamed from `/api/tasks/{id}/events` (server-sent
/// events). Follows the end while the reader is at the bottom; stderr lines
/// are marked. Each `status` event is written to `status`.
#[component]
fn LiveLog(id: String, status: RwSignal<Option<JobStatus>>) -> impl IntoView {
    let lines = RwSignal::new(Vec::<LogLine>::new());
    let notes = RwSignal::new(Vec::<String>::new());
    let ended = RwSignal::new(false);
    let scroller = NodeRef::<leptos::html::Div>::new();
    Effect::new({
        let id = id.clone();
        move |_| {
            #[cfg(feature = "hydrate")]
            follow(&id, lines, notes, status, ended, scroller);
            #[cfg(not(feature = "hydrate"))]
            let _ = (&id, notes, status, ended, scroller);
        }
    });
    view! {
        <section class="log-section" aria-labelledby="log-title">
            <h2 id="log-title">
                "Log "
                <span class="hint">
                    {move || if ended.get() { "(complete)" } else { "(live)" }}
                </span>
            </h2>
            <div class="log mono" node_ref=scroller tabindex="0" aria-label="Job log" aria-live="off">
                <Show when=move || lines.read().is_empty()>
                    <p class="empty">"No log lines yet."</p>
                </Show>
                <For each=move || lines.get() key=|l| l.n let(l)>
                    <div class=format!("line {}", l.stream.as_str()) data-n=l.n>
                        <span class="ln" aria-hidden="true">{l.n}</span>
                        {(l.stream == LogStream::Stderr).then(|| view! { <span class="tag">"stderr "</span> })}
                        <span class="text">{l.text}</span>
                    </div>
                </For>
                {move || notes.get().into_iter().map(|n| view! { <p class="notice">{n}</p> }).collect_view()}
            </div>
        </section>
    }
}

/// Opens the event stream and feeds `lines` until the job is finished.
#[cfg(feature = "hydrate")]
fn follow(
    id: &str,
    lines: RwSignal<Vec<LogLine>>,
    notes: RwSignal<Vec<String>>,
    status: RwSignal<Option<JobStatus>>,
    ended: RwSignal<bool>,
    scroller: NodeRef<leptos::html::Div>,
) {
    use send_wrapper::SendWrapper;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    /// The JSON of a `log` event.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Line {
        n: i64,
        stream: LogStream,
        time_ms: i64,
        text: String,
    }

    let Ok(source) = EventSource::new(&format!("/api/tasks/{id}/events")) else {
        notes.update(|n| n.push("The browser cannot open the live log.".into()));
        return;
    };
    let data = |ev: &MessageEvent| ev.data().as_string().unwrap_or_default();

    let on_log = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let Ok(l) = serde_json::from_str::<Line>(&data(&ev)) else {
            return;
        };
        let el = scroller.get_untracked();
        let at_bottom = el
            .as_ref()
            .is_none_or(|el| el.scroll_top() + el.client_height() >= el.scroll_height() - 8);
        lines.update(|v| {
            if v.last().is_none_or(|last| last.n < l.n) {
                v.push(LogLine {
                    n: l.n,
                    stream: l.stream,
                    time_ms: l.time_ms,
                    text: l.text,
                });
            }
        });
        if at_bottom {
            request_animation_frame(move || {
                if let Some(el) = scroller.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                }
            });
        }
    });
    let on_status = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        if let Some(s) = JobStatus::parse(&data(&ev)) {
            status.set(Some(s));
        }
    });
    // After a final status the server sends the last lines and ends the
    // stream; closing then keeps the browser from reconnecting and
    // replaying it. Other errors are left to the browser's own retries.
    let es = source.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
        if status.get_untracked().is_some_and(JobStatus::is_finished) {
            es.close();
            ended.set(true);
        }
    });
    let _ = source.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    let on_gap = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        notes.update(|n| n.push(data(&ev)));
    });
    let listen = |name: &str, f: &Closure<dyn FnMut(MessageEvent)>| {
        let _ = source.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
    };
    listen("log", &on_log);
    listen("status", &on_status);
    listen("gap", &on_gap);

    let held = SendWrapper::new((source, on_log, on_status, on_gap, on_error));
    on_cleanup(move || held.0.close());
}
