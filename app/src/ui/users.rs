//! `/apps/tasks/users` (admin): users with their roles, and API tokens.
//! A new token is shown once, with a copy button.

use super::widgets::{ErrorText, FieldErrors};
use super::Guard;
use crate::api;
use crate::model::*;
use leptos::prelude::*;

#[component]
pub fn UsersPage() -> impl IntoView {
    view! { <Guard min=Role::Admin page=|_| view! { <Users /> } /> }
}

#[component]
fn Users() -> impl IntoView {
    let changed = RwSignal::new(0u32);
    let users = Resource::new(move || changed.get(), |_| api::list_users());
    let tokens = Resource::new(move || changed.get(), |_| api::list_tokens());
    view! {
        <h1>"Users"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading users…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Err(e) => view! { <ErrorText error=e /> }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap">
                            <table class="users">
                                <thead>
                                    <tr>
                                        <th scope="col">"User"</th>
                                        <th scope="col">"Role"</th>
                                        <th scope="col">"Created (UTC)"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.into_iter().map(|u| view! {
                                        <tr data-user=u.username.clone()>
                                            <td>{u.username.clone()}</td>
                                            <td>{u.role.as_str()}</td>
                                            <td>{format_ms(u.created_ms)}</td>
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
        <NewUser changed />
        <h2>"API tokens"</h2>
        <Transition fallback=|| view! { <p class="loading">"Loading tokens…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Err(e) => view! { <ErrorText error=e /> }.into_any(),
                    Ok(list) if list.is_empty() => {
                        view! { <p class="empty">"No API tokens."</p> }.into_any()
                    }
                    Ok(list) => view! { <TokenTable list changed /> }.into_any(),
                }
            })}
        </Transition>
        <NewToken changed />
    }
}

#[component]
fn NewUser(changed: RwSignal<u32>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("viewer".to_string());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let create = ServerAction::<api::CreateUser>::new();
    Effect::new(move |_| match create.value().get() {
        Some(Ok(SaveOutcome::Invalid(list))) => errors.set(list),
        Some(Ok(SaveOutcome::Saved { .. })) => {
            errors.set(Vec::new());
            username.set(String::new());
            password.set(String::new());
            changed.update(|c| *c += 1);
        }
        _ => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(api::CreateUser {
            username: username.get_untracked(),
            password: password.get_untracked(),
            role: Role::parse(&role.get_untracked()).unwrap_or(Role::Viewer),
        });
    };
    view! {
        <form class="card" on:submit=submit>
            <h2>"New user"</h2>
            <div class="row">
                <div class="field">
                    <label for="u-name">"User name"</label>
                    <input id="u-name" bind:value=username autocomplete="off" aria-describedby="e-username" />
                    <FieldErrors errors field="username" id="e-username" />
                </div>
                <div class="field">
                    <label for="u-password">"Password (at least 8 characters)"</label>
                    <input id="u-password" type="password" autocomplete="new-password" bind:value=password aria-describedby="e-password" />
                    <FieldErrors errors field="password" id="e-password" />
                </div>
                <div class="field">
                    <label for="u-role">"Role"</label>
                    <select id="u-role" bind:value=role>
                        <option value="viewer">"viewer"</option>
                        <option value="runner">"runner"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </div>
            </div>
            <button class="btn primary" type="submit">"Create user"</button>
            <p class="error" role="alert">
                {move || match create.value().get() {
                    Some(Err(e)) => api::error_text(&e),
                    _ => String::new(),
                }}
            </p>
        </form>
    }
}

#[component]
fn TokenTable(list: Vec<ApiToken>, changed: RwSignal<u32>) -> impl IntoView {
    let revoke = ServerAction::<api::RevokeToken>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = revoke.value().get() {
            changed.update(|c| *c += 1);
        }
    });
    view! {
        <div class="table-wrap">
            <table class="tokens">
                <thead>
                    <tr>
                        <th scope="col">"Id"</th>
                        <th scope="col">"User"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Created (UTC)"</th>
                        <th scope="col">"Last used (UTC)"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|t| {
                        let id = t.id;
                        view! {
                            <tr data-token=t.id>
                                <td>{t.id}</td>
                                <td>{t.username}</td>
                                <td>{t.name.clone()}</td>
                                <td>{format_ms(t.created_ms)}</td>
                                <td>{t.last_used_ms.map(format_ms)}</td>
                                <td>
                                    <button
                                        class="btn small danger"
                                        aria-label=format!("Revoke token {}", t.name)
                                        on:click=move |_| { revoke.dispatch(api::RevokeToken { id }); }
                                    >"Revoke"</button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <p class="error" role="alert">
            {move || match revoke.value().get() {
                Some(Err(e)) => api::error_text(&e),
                _ => String::new(),
            }}
        </p>
    }
}

#[component]
fn NewToken(changed: RwSignal<u32>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let create = ServerAction::<api::CreateToken>::new();
    let copied = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            copied.set(false);
            changed.update(|c| *c += 1);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(api::CreateToken {
            username: username.get_untracked(),
            name: name.get_untracked(),
        });
    };
    view! {
        <form class="card" on:submit=submit>
            <h2>"New API token"</h2>
            <div class="row">
                <div class="field">
                    <label for="t-user">"For user"</label>
                    <input id="t-user" bind:value=username autocomplete="off" required />
                </div>
                <div class="field">
                    <label for="t-name">"Token name"</label>
                    <input id="t-name" bind:value=name placeholder="api token" />
                </div>
            </div>
            <button class="btn primary" type="submit">"Create token"</button>
            {move || match create.value().get() {
                Some(Ok(t)) => {
                    let token = t.token.clone();
                    view! {
                        <div class="issued" role="status">
                            <label for="t-secret">"Your new token (shown only now)"</label>
                            <input id="t-secret" class="mono" readonly value=t.token.clone() />
                            <button
                                class="btn small"
                                type="button"
                                on:click=move |_| {
                                    copy_text(&token);
                                    copied.set(true);
                                }
                            >
                                {move || if copied.get() { "Copied" } else { "Copy" }}
                            </button>
                        </div>
                    }
                        .into_any()
                }
                Some(Err(e)) => view! { <ErrorText error=e /> }.into_any(),
                None => ().into_any(),
            }}
        </form>
    }
}

fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}
