//! The scripts table, the script page with its form and run history, and
//! the run dialog.

use super::widgets::{short_id, ConfirmButton, ErrorText, FieldErrors, StatusBadge};
use super::Guard;
use crate::api;
use crate::model::*;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

/// `/apps/tasks`: every script, with a filter box.
#[component]
pub fn ScriptsPage() -> impl IntoView {
    view! { <Guard min=Role::Viewer page=|me| view! { <ScriptsTable me /> } /> }
}

#[component]
fn ScriptsTable(me: Me) -> impl IntoView {
    let scripts = Resource::new(|| (), |_| api::list_scripts());
    let filter = RwSignal::new(String::new());
    let run_name = RwSignal::new(None::<String>);
    let can_run = me.role >= Role::Runner;
    view! {
        <div class="page-head">
            <h1>"Scripts"</h1>
            {(me.role >= Role::Admin)
                .then(|| view! { <a class="btn primary" href="/apps/tasks/new">"New script"</a> })}
        </div>
        <div class="field inline">
            <label for="script-filter">"Filter"</label>
            <input
                id="script-filter"
                type="search"
                placeholder="name or type"
                bind:value=filter
            />
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading scripts…"</p> }>
            {move || Suspend::new(async move {
                match scripts.await {
                    Err(e) => view! { <ErrorText error=e /> }.into_any(),
                    Ok(rows) if rows.is_empty() => {
                        view! { <p class="empty">"No scripts yet."</p> }.into_any()
                    }
                    Ok(rows) => {
                        view! {
                            <div class="table-wrap">
                                <table class="scripts">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Name"</th>
                                            <th scope="col">"Type"</th>
                                            <th scope="col">"Schedule"</th>
                                            <th scope="col">"Next run (UTC offset shown)"</th>
                                            <th scope="col">"Disabled"</th>
                                            <th scope="col">"Last run"</th>
                                            <th scope="col"><span class="sr-only">"Actions"</span></th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows
                                            .into_iter()
                                            .map(|row| view! { <ScriptRowView row filter can_run run_name /> })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
        <RunDialog name=run_name />
    }
}

#[component]
fn ScriptRowView(
    row: ScriptRow,
    filter: RwSignal<String>,
    can_run: bool,
    run_name: RwSignal<Option<String>>,
) -> impl IntoView {
    let s = row.script;
    let haystack = format!("{} {}", s.name, s.script_type.as_str()).to_lowercase();
    let visible = move || haystack.contains(filter.get().trim().to_lowercase().as_str());
    let href = script_href(&s.name);
    let name = s.name.clone();
    view! {
        <tr class:hidden=move || !visible() data-script=s.name.clone()>
            <td><a href=href>{s.name.clone()}</a></td>
            <td>{s.script_type.as_str()}</td>
            <td class="mono">
                {s.cron.clone().map(|c| match &s.time_zone {
                    Some(tz) => format!("{c} ({tz})"),
                    None => c,
                })}
            </td>
            <td>{row.next_run.map(|t| pretty_time(&t))}</td>
            <td>{if s.disabled { "yes" } else { "" }}</td>
            <td>
                {row.last_job.map(|j| {
                    let status = j.status;
                    view! {
                        <a href=format!("/apps/tasks/jobs/{}", j.id)>
                            <StatusBadge status />
                            " "
                            {format_ms(j.submitted_ms)}
                        </a>
                    }
                })}
            </td>
            <td>
                {can_run.then(|| view! {
                    <button
                        class="btn small"
                        aria-label=format!("Run {name}")
                        on:click={
                            let name = name.clone();
                            move |_| run_name.set(Some(name.clone()))
                        }
                    >"Run"</button>
                })}
            </td>
        </tr>
    }
}

/// The link to a script's page; names may hold spaces.
pub fn script_href(name: &str) -> String {
    format!("/apps/tasks/scripts/{}", encode_path(name))
}

fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Undoes [`encode_path`] (names cannot hold `%` themselves).
fn decode_path(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `2026-12-03T18:00:00+01:00` → `2026-12-03 18:00:00 +01:00`.
fn pretty_time(rfc3339: &str) -> String {
    let t = rfc3339.replacen('T', " ", 1);
    match t.len() {
        n if n > 19 => format!("{} {}", &t[..19], &t[19..]),
        _ => t,
    }
}

/// Asks for parameters and starts a job of the script named in `name`,
/// then opens the job's page. Hidden while `name` is `None`.
#[component]
pub fn RunDialog(name: RwSignal<Option<String>>) -> impl IntoView {
    let params = RwSignal::new(String::new());
    let run = ServerAction::<api::RunScript>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = run.value().get() {
            name.set(None);
            navigate(&format!("/apps/tasks/jobs/{id}"), Default::default());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(n) = name.get_untracked() {
            run.dispatch(api::RunScript {
                name: n,
                parameters: Some(params.get_untracked()),
            });
        }
    };
    view! {
        <Show when=move || name.get().is_some()>
            <div class="backdrop">
                <div
                    class="dialog card"
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby="run-title"
                    on:keydown=move |ev| {
                        if ev.key() == "Escape" {
                            name.set(None);
                        }
                    }
                >
                    <h2 id="run-title">{move || format!("Run {}", name.get().unwrap_or_default())}</h2>
                    <form on:submit=submit>
                        <div class="field">
                            <label for="run-parameters">"Parameters"</label>
                            <textarea
                                id="run-parameters"
                                class="mono"
                                rows="4"
                                placeholder="Passed to the script as its parameters (often JSON)"
                                bind:value=params
                                autofocus
                            ></textarea>
                        </div>
                        <div class="actions">
                            <button class="btn primary" type="submit" disabled=move || run.pending().get()>
                                "Start job"
                            </button>
                            <button class="btn" type="button" on:click=move |_| name.set(None)>
                                "Close"
                            </button>
                        </div>
                        <p class="error" role="alert">
                            {move || match run.value().get() {
                                Some(Err(e)) => api::error_text(&e),
                                _ => String::new(),
                            }}
                        </p>
                    </form>
                </div>
            </div>
        </Show>
    }
}

/// `/apps/tasks/new`: the form for a new script (admin).
#[component]
pub fn NewScriptPage() -> impl IntoView {
    view! {
        <Guard
            min=Role::Admin
            page=|_| {
                view! {
                    <h1>"New script"</h1>
                    <ScriptForm initial=None refresh=RwSignal::new(0) message=RwSignal::new(String::new()) />
                }
            }
        />
    }
}

/// `/apps/tasks/scripts/:name`: a script's run history, its form (admin)
/// or its definition (others), and the run dialog.
#[component]
pub fn ScriptPage() -> impl IntoView {
    view! { <Guard min=Role::Viewer page=|me| view! { <ScriptDetail me /> } /> }
}

#[component]
fn ScriptDetail(me: Me) -> impl IntoView {
    let params = use_params_map();
    let name = move || decode_path(&params.read().get("name").unwrap_or_default());
    let refresh = RwSignal::new(0u32);
    // Outlives the form, which is built again after each save.
    let message = RwSignal::new(String::new());
    let script = Resource::new(move || (name(), refresh.get()), |(n, _)| api::get_script(n));
    let run_name = RwSignal::new(None::<String>);
    let deleted = ServerAction::<api::DeleteScript>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = deleted.value().get() {
            navigate("/apps/tasks", Default::default());
        }
    });
    let role = me.role;
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the script…"</p> }>
            {move || Suspend::new(async move {
                match script.await {
                    Err(e) => view! { <ErrorText error=e /> }.into_any(),
                    Ok(s) => {
                        let n = s.name.clone();
                        let n2 = s.name.clone();
                        view! {
                            <div class="page-head">
                                <h1>{s.name.clone()}</h1>
                                {(role >= Role::Runner).then(|| view! {
                                    <button class="btn primary" on:click=move |_| run_name.set(Some(n.clone()))>
                                        "Run"
                                    </button>
                                })}
                                {(role >= Role::Admin).then(|| view! {
                                    <ConfirmButton
                                        label="Delete script"
                                        class="danger"
                                        question=format!("Delete the script {n2:?}?")
                                        on_confirm=move || { deleted.dispatch(api::DeleteScript { name: n2.clone() }); }
                                    />
                                })}
                            </div>
                            <p class="error" role="alert">
                                {move || match deleted.value().get() {
                                    Some(Err(e)) => api::error_text(&e),
                                    _ => String::new(),
                                }}
                            </p>
                            <RunHistory name=s.name.clone() />
                            {if role >= Role::Admin {
                                view! { <ScriptForm initial=Some(s) refresh message /> }.into_any()
                            } else {
                                view! { <ScriptView s /> }.into_any()
                            }}
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
        <RunDialog name=run_name />
    }
}

/// A script's definition, read-only (for viewers and runners).
#[component]
fn ScriptView(s: Script) -> impl IntoView {
    let row = |label: &'static str, value: Option<String>| {
        value.map(|v| view! { <dt>{label}</dt><dd>{v}</dd> })
    };
    view! {
        <dl class="facts">
            {row("Type", Some(s.script_type.as_str().into()))}
            {row("Dependencies", s.dependencies.clone())}
            {row("Output file extension", s.output_file_extension.clone())}
            {row("Schedule", s.cron.clone())}
            {row("Time zone", s.time_zone.clone())}
            {row("Disabled", s.disabled.then(|| "yes".into()))}
            {row("Timeout", s.timeout_seconds.map(|t| format!("{t} s")))}
            {row("Extra file", s.extra_file.as_ref().map(|f| format!("{} ({})", f.name, format_bytes(f.size))))}
        </dl>
        <h2>"Script"</h2>
        <pre class="code-view">{s.script.clone()}</pre>
    }
}

/// The last 50 runs as bars: height is duration, colour is status, each
/// bar links to its job.
#[component]
fn RunHistory(name: String) -> impl IntoView {
    // Loaded in the browser only: a second server-rendered Transition nested
    // in the page's own broke hydration of the whole page.
    let runs = LocalResource::new(move || {
        api::list_jobs(JobFilter {
            script: Some(name.clone()),
            status: None,
            limit: 50,
            offset: 0,
        })
    });
    view! {
        <section class="history" aria-labelledby="history-title">
            <h2 id="history-title">"Last 50 runs"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match runs.await {
                        Err(e) => view! { <ErrorText error=e /> }.into_any(),
                        Ok(page) if page.jobs.is_empty() => {
                            view! { <p class="empty">"Not run yet."</p> }.into_any()
                        }
                        Ok(page) => {
                            let max = page.jobs.iter().filter_map(|j| j.duration_ms).max().unwrap_or(1).max(1);
                            view! {
                                <div class="chart" role="list">
                                    {page
                                        .jobs
                                        .into_iter()
                                        .rev()
                                        .map(|j| {
                                            let d = j.duration_ms.unwrap_or(0);
                                            let pct = (d as f64 / max as f64 * 100.0).max(4.0);
                                            let label = format!(
                                                "{} {} {}{}",
                                                short_id(&j.id),
                                                j.status,
                                                format_ms(j.submitted_ms),
                                                j.duration_ms.map(|d| format!(", {}", format_duration(d))).unwrap_or_default(),
                                            );
                                            view! {
                                                <a
                                                    role="listitem"
                                                    class=format!("bar status-{}", j.status.as_str().to_ascii_lowercase())
                                                    style=format!("height: {pct:.0}%")
                                                    href=format!("/apps/tasks/jobs/{}", j.id)
                                                    title=label.clone()
                                                    aria-label=label
                                                ></a>
                                            }
                                        })
                                        .collect_view()}
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// Every field of a script. Without `initial` it creates one; saving an
/// existing one bumps `refresh` so the page reloads it. The outcome of
/// saving is written to `message`.
#[component]
fn ScriptForm(
    initial: Option<Script>,
    refresh: RwSignal<u32>,
    message: RwSignal<String>,
) -> impl IntoView {
    let creating = initial.is_none();
    let s = initial.clone().unwrap_or_else(|| Script {
        name: String::new(),
        script_type: ScriptType::Python,
        script: String::new(),
        dependencies: None,
        output_file_extension: None,
        disabled: false,
        failure_address: None,
        cron: None,
        time_zone: None,
        allow_overlap: false,
        timeout_seconds: None,
        extra_file: None,
        saved_by: None,
        created_ms: 0,
        updated_ms: 0,
    });
    let opt = |v: &Option<String>| RwSignal::new(v.clone().unwrap_or_default());
    let name = RwSignal::new(s.name.clone());
    let stype = RwSignal::new(s.script_type.as_str().to_string());
    let body = RwSignal::new(s.script.clone());
    let deps = opt(&s.dependencies);
    let ext = opt(&s.output_file_extension);
    let disabled = RwSignal::new(s.disabled);
    let failure = opt(&s.failure_address);
    let cron = opt(&s.cron);
    let tz = opt(&s.time_zone);
    let overlap = RwSignal::new(s.allow_overlap);
    let timeout = RwSignal::new(s.timeout_seconds.map(|t| t.to_string()).unwrap_or_default());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let saving = RwSignal::new(false);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let navigate = use_navigate();

    let build = move || -> Result<Script, FieldError> {
        let some = |v: String| Some(v).filter(|v| !v.trim().is_empty());
        let timeout_seconds = match timeout.get_untracked().trim() {
            "" => None,
            t => Some(t.parse::<u32>().map_err(|_| FieldError {
                field: "timeoutSeconds".into(),
                message: format!("{t:?} is not a whole number of seconds"),
            })?),
        };
        Ok(Script {
            name: name.get_untracked().trim().to_string(),
            script_type: ScriptType::parse(&stype.get_untracked()).unwrap_or(ScriptType::Python),
            script: body.get_untracked(),
            dependencies: some(deps.get_untracked()),
            output_file_extension: some(ext.get_untracked()),
            disabled: disabled.get_untracked(),
            failure_address: some(failure.get_untracked()),
            cron: some(cron.get_untracked()),
            time_zone: some(tz.get_untracked()),
            allow_overlap: overlap.get_untracked(),
            timeout_seconds,
            extra_file: None,
            saved_by: None,
            created_ms: 0,
            updated_ms: 0,
        })
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let script = match build() {
            Ok(s) => s,
            Err(e) => {
                errors.set(vec![e]);
                return;
            }
        };
        let navigate = navigate.clone();
        #[cfg(feature = "hydrate")]
        let file = file_input
            .get_untracked()
            .and_then(|i| i.files())
            .and_then(|f| f.get(0));
        saving.set(true);
        message.set(String::new());
        leptos::task::spawn_local(async move {
            let name = script.name.clone();
            match api::save_script(script, creating).await {
                Ok(SaveOutcome::Invalid(list)) => {
                    errors.set(list);
                    message.set("Not saved: see the messages beside the fields.".into());
                }
                Err(e) => message.set(format!("Not saved: {}", api::error_text(&e))),
                Ok(SaveOutcome::Saved { .. }) => {
                    errors.set(Vec::new());
                    #[cfg(feature = "hydrate")]
                    if let Some(file) = file {
                        if let Err(e) = upload_extra_file(&name, file).await {
                            errors.set(vec![FieldError {
                                field: "extraFile".into(),
                                message: e,
                            }]);
                            message.set("Saved, but the extra file was not uploaded.".into());
                            saving.set(false);
                            return;
                        }
                    }
                    message.set("Saved.".into());
                    if creating {
                        navigate(&script_href(&name), Default::default());
                    } else {
                        refresh.update(|r| *r += 1);
                    }
                }
            }
            saving.set(false);
        });
    };

    // `bind:` sets DOM properties, which server-rendered HTML lacks: the
    // initial values are also written as attributes and text, so the form
    // shows the script before the WASM has loaded.
    let first = |v: RwSignal<String>| v.get_untracked();
    let is_python = s.script_type == ScriptType::Python;
    view! {
        <form class="script-form card" on:submit=submit novalidate>
            <div class="field">
                <label for="f-name">"Name"</label>
                <input
                    id="f-name"
                    value=first(name)
                    bind:value=name
                    readonly=!creating
                    required
                    aria-describedby="e-name"
                />
                <FieldErrors errors field="name" id="e-name" />
            </div>
            <div class="field">
                <label for="f-type">"Type"</label>
                <select id="f-type" bind:value=stype>
                    <option value="python" selected=is_python>"python"</option>
                    <option value="bash" selected=!is_python>"bash"</option>
                </select>
            </div>
            <div class="field">
                <label for="f-script">"Script"</label>
                <CodeEditor body />
                <FieldErrors errors field="script" id="e-script" />
            </div>
            <div class="field">
                <label for="f-deps">"Dependencies (python; one requirement a line)"</label>
                <textarea id="f-deps" class="mono" rows="3" bind:value=deps aria-describedby="e-deps">{textarea_text(first(deps))}</textarea>
                <FieldErrors errors field="dependencies" id="e-deps" />
            </div>
            <ExtraFile initial=s.extra_file.clone() name=s.name.clone() creating refresh file_input />
            <FieldErrors errors field="extraFile" id="e-extra" />
            <div class="row">
                <div class="field">
                    <label for="f-ext">"Output file extension"</label>
                    <input id="f-ext" value=first(ext) bind:value=ext placeholder="csv" aria-describedby="e-ext" />
                    <FieldErrors errors field="outputFileExtension" id="e-ext" />
                </div>
                <div class="field">
                    <label for="f-timeout">"Timeout (seconds)"</label>
                    <input id="f-timeout" inputmode="numeric" value=first(timeout) bind:value=timeout aria-describedby="e-timeout" />
                    <FieldErrors errors field="timeoutSeconds" id="e-timeout" />
                </div>
            </div>
            <div class="field">
                <label for="f-failure">"Failure address (mailed when a run fails)"</label>
                <input id="f-failure" type="email" value=first(failure) bind:value=failure aria-describedby="e-failure" />
                <FieldErrors errors field="failureAddress" id="e-failure" />
            </div>
            <div class="row">
                <div class="field">
                    <label for="f-cron">"Schedule (cron)"</label>
                    <input id="f-cron" class="mono" value=first(cron) bind:value=cron placeholder="0 0 3 * * *" aria-describedby="e-cron" />
                    <FieldErrors errors field="cron" id="e-cron" />
                </div>
                <div class="field">
                    <label for="f-tz">"Time zone"</label>
                    <input id="f-tz" value=first(tz) bind:value=tz placeholder="server default" aria-describedby="e-tz" />
                    <FieldErrors errors field="timeZone" id="e-tz" />
                </div>
            </div>
            <CronPreview cron tz />
            <div class="checks">
                <label><input type="checkbox" checked=disabled.get_untracked() bind:checked=disabled />" Disabled"</label>
                <label><input type="checkbox" checked=overlap.get_untracked() bind:checked=overlap />" Allow overlapping scheduled runs"</label>
            </div>
            <div class="actions">
                <button class="btn primary" type="submit" disabled=move || saving.get()>
                    {if creating { "Create script" } else { "Save" }}
                </button>
                <span class="message" role="status">{move || message.get()}</span>
            </div>
        </form>
    }
}

/// The initial content of a `<textarea>`, for the server-rendered page.
/// Leptos writes a textarea's children without escaping them, so a script
/// holding `</textarea><script>` would otherwise end the element and run in
/// the browser. Escaped, it reads back exactly (the browser decodes it); in
/// the browser `bind:value` sets the real value either way.
fn textarea_text(text: String) -> String {
    html_escape::encode_text(&text).into_owned()
}

/// A monospace text area with line numbers beside it.
#[component]
fn CodeEditor(body: RwSignal<String>) -> impl IntoView {
    let gutter = NodeRef::<leptos::html::Pre>::new();
    let numbers = move || {
        let n = body.with(|b| b.lines().count().max(1) + usize::from(b.ends_with('\n')));
        (1..=n).map(|i| format!("{i}\n")).collect::<String>()
    };
    view! {
        <div class="code-editor">
            <pre class="gutter" aria-hidden="true" node_ref=gutter>{numbers}</pre>
            <textarea
                id="f-script"
                class="mono"
                rows="14"
                spellcheck="false"
                wrap="off"
                bind:value=body
                aria-describedby="e-script"
                on:scroll=move |ev| {
                    let top = event_target::<leptos::web_sys::HtmlTextAreaElement>(&ev).scroll_top();
                    if let Some(g) = gutter.get_untracked() {
                        g.set_scroll_top(top);
                    }
                }
            >{textarea_text(body.get_untracked())}</textarea>
        </div>
    }
}

/// The next five fire times of the expression being typed, or its error.
/// Each change asks the server (the scheduler's own code computes the
/// times); an answer to an older keystroke never overwrites a newer one.
#[component]
fn CronPreview(cron: RwSignal<String>, tz: RwSignal<String>) -> impl IntoView {
    type Preview = Result<Result<Vec<String>, String>, String>;
    let result: RwSignal<Option<Preview>> = RwSignal::new(None);
    let latest = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (c, t) = (cron.get(), tz.get());
        latest.update_value(|n| *n += 1);
        let mine = latest.get_value();
        leptos::task::spawn_local(async move {
            let answer = if c.trim().is_empty() {
                Ok(Ok(Vec::new()))
            } else {
                api::cron_preview(c, Some(t).filter(|t| !t.trim().is_empty()))
                    .await
                    .map_err(|e| e.to_string())
            };
            if latest.get_value() == mine {
                result.set(Some(answer));
            }
        });
    });
    view! {
        <div class="cron-preview" aria-live="polite">
            {move || match result.get() {
                None => ().into_any(),
                Some(Ok(Ok(times))) if times.is_empty() => ().into_any(),
                Some(Ok(Ok(times))) => view! {
                    <p class="hint">"Next fire times:"</p>
                    <ol class="fires mono">
                        {times.into_iter().map(|t| view! { <li>{pretty_time(&t)}</li> }).collect_view()}
                    </ol>
                }
                    .into_any(),
                Some(Ok(Err(message))) => view! {
                    <p class="field-error" id="cron-preview-error" role="alert">{message}</p>
                }
                    .into_any(),
                Some(Err(e)) => view! { <p class="field-error" role="alert">{e}</p> }.into_any(),
            }}
        </div>
    }
}

/// The current extra file (with a remove button) and a picker for a new one,
/// uploaded when the form is saved.
#[component]
fn ExtraFile(
    initial: Option<ExtraFileInfo>,
    name: String,
    creating: bool,
    refresh: RwSignal<u32>,
    file_input: NodeRef<leptos::html::Input>,
) -> impl IntoView {
    let remove = ServerAction::<api::RemoveExtraFile>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = remove.value().get() {
            refresh.update(|r| *r += 1);
        }
    });
    view! {
        <div class="field">
            <label for="f-extra">"Extra file (unpacked next to the script when it is a ZIP)"</label>
            {initial.map(|f| {
                let name = name.clone();
                view! {
                    <p class="current-file">
                        "Current: "
                        <span class="mono">{f.name.clone()}</span>
                        {format!(" ({})", format_bytes(f.size))}
                        " "
                        <button
                            class="btn small danger"
                            type="button"
                            on:click=move |_| { remove.dispatch(api::RemoveExtraFile { name: name.clone() }); }
                        >"Remove file"</button>
                    </p>
                }
            })}
            <input id="f-extra" type="file" node_ref=file_input aria-describedby="e-extra" />
            {creating.then(|| view! { <p class="hint">"Uploaded after the script is created."</p> })}
            <p class="error" role="alert">
                {move || match remove.value().get() {
                    Some(Err(e)) => api::error_text(&e),
                    _ => String::new(),
                }}
            </p>
        </div>
    }
}

/// Sends `file` as the script's extra file through the REST API (a
/// multipart `PUT`); the session cookie goes along.
#[cfg(feature = "hydrate")]
async fn upload_extra_file(name: &str, file: web_sys::File) -> Result<(), String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let js = |e: wasm_bindgen::JsValue| format!("the upload failed: {e:?}");
    let form = web_sys::FormData::new().map_err(js)?;
    form.append_with_blob_and_filename("file", &file, &file.name())
        .map_err(js)?;
    let init = web_sys::RequestInit::new();
    init.set_method("PUT");
    init.set_body(&form);
    let url = format!("/api/scripts/{}/extra-file", encode_path(name));
    let response: web_sys::Response = JsFuture::from(window().fetch_with_str_and_init(&url, &init))
        .await
        .map_err(js)?
        .dyn_into()
        .map_err(js)?;
    if response.ok() {
        return Ok(());
    }
    let text = JsFuture::from(response.text().map_err(js)?)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.pointer("/errors/0/message")
                .or_else(|| v.get("message"))
                .and_then(|m| m.as_str().map(String::from))
        })
        .unwrap_or(text);
    Err(format!(
        "the upload was refused ({}): {message}",
        response.status()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_survive_the_url() {
        let name = "nightly report v1.2 (x)";
        assert_eq!(decode_path(&encode_path(name)), name);
        assert_eq!(script_href("a b"), "/apps/tasks/scripts/a%20b");
        assert_eq!(
            pretty_time("2026-12-03T18:00:00+01:00"),
            "2026-12-03 18:00:00 +01:00"
        );
    }
}
