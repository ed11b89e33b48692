//! `/apps/tasks/schedules`: every scheduled script, its expression, time
//! zone and next fire times.

use super::scripts::script_href;
use super::widgets::ErrorText;
use super::Guard;
use crate::api;
use crate::model::*;
use leptos::prelude::*;

#[component]
pub fn SchedulesPage() -> impl IntoView {
    view! { <Guard min=Role::Viewer page=|_| view! { <Schedules /> } /> }
}

#[component]
fn Schedules() -> impl IntoView {
    let list = Resource::new(|| (), |_| api::list_schedules());
    view! {
        <h1>"Schedules"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading schedules…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => view! { <ErrorText error=e /> }.into_any(),
                    Ok(l) if l.is_empty() => {
                        view! { <p class="empty">"No script has a schedule."</p> }.into_any()
                    }
                    Ok(l) => view! {
                        <div class="table-wrap">
                            <table class="schedules">
                                <thead>
                                    <tr>
                                        <th scope="col">"Script"</th>
                                        <th scope="col">"Expression"</th>
                                        <th scope="col">"Time zone"</th>
                                        <th scope="col">"Disabled"</th>
                                        <th scope="col">"Next fire times"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {l.into_iter().map(|s| view! {
                                        <tr data-script=s.name.clone()>
                                            <td><a href=script_href(&s.name)>{s.name.clone()}</a></td>
                                            <td class="mono">{s.cron}</td>
                                            <td>{s.time_zone}</td>
                                            <td>{if s.disabled { "yes" } else { "" }}</td>
                                            <td>
                                                {s.error.map(|e| view! { <p class="error">{e}</p> })}
                                                <ol class="fires mono">
                                                    {s.next.into_iter().map(|t| view! {
                                                        <li>{t.replacen('T', " ", 1)}</li>
                                                    }).collect_view()}
                                                </ol>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any(),
                }
            })}
        </Transition>
    }
}
