//! Signing in and out. Both reload the page afterwards, so everything on it
//! is fetched again with the new session.

use crate::api;
use leptos::prelude::*;

/// `/apps/tasks/signin`: the form on its own; goes to the scripts after.
#[component]
pub fn SignInPage() -> impl IntoView {
    view! { <SignInForm after="/apps/tasks" /> }
}

/// The sign-in form. Shown wherever a page needs a user and nobody is
/// signed in; after signing in `after` loads, or else the same page again.
#[component]
pub fn SignInForm(#[prop(optional)] after: Option<&'static str>) -> impl IntoView {
    let action = ServerAction::<api::SignIn>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            reload(after);
        }
    });
    view! {
        <section class="card signin">
            <h1>"Sign in"</h1>
            <ActionForm action>
                <div class="field">
                    <label for="signin-username">"User name"</label>
                    <input
                        id="signin-username"
                        name="username"
                        autocomplete="username"
                        required
                    />
                </div>
                <div class="field">
                    <label for="signin-password">"Password"</label>
                    <input
                        id="signin-password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                    />
                </div>
                <button class="btn primary" type="submit" disabled=move || action.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
            <p class="error" role="alert">
                {move || match action.value().get() {
                    Some(Err(e)) => api::error_text(&e),
                    _ => String::new(),
                }}
            </p>
        </section>
    }
}

/// Ends the session, then shows the sign-in page.
#[component]
pub fn SignOutButton() -> impl IntoView {
    let action = ServerAction::<api::SignOut>::new();
    Effect::new(move |_| {
        if action.value().get().is_some() {
            reload(Some("/apps/tasks/signin"));
        }
    });
    view! {
        <button class="btn small" on:click=move |_| {
            action.dispatch(api::SignOut {});
        }>"Sign out"</button>
    }
}

/// Loads `to` (or the current page again) from the server.
fn reload(to: Option<&str>) {
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        let _ = match to {
            Some(url) => location.set_href(url),
            None => location.reload(),
        };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = to;
}
