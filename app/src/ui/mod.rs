//! Pages and components of the Tasks app, served under `/apps/tasks`.
//!
//! - [`signin`]: the sign-in form, also shown in place of any page when
//!   nobody is signed in, and the sign-out button.
//! - [`scripts`]: the scripts table, the script page (form, run history
//!   chart) and the run dialog.
//! - [`jobs`]: the jobs list and the job page with its live log.
//! - [`schedules`]: every scheduled script and its next fire times.
//! - [`users`]: users and API tokens (admin).
//! - [`widgets`]: small pieces the pages share.
//!
//! Which controls a page offers depends on the signed-in role, but that is
//! only courtesy: every server function checks the role again.

mod jobs;
mod schedules;
mod scripts;
mod signin;
mod users;
mod widgets;

use crate::api;
use crate::model::{Me, Role};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="data:," />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The signed-in user, loaded once per page load. Signing in or out
/// reloads the page, so it never goes stale.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub Resource<Result<Option<Me>, ServerFnError>>);

/// The app's root: stylesheet, title, routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(CurrentUser(Resource::new(|| (), |_| api::current_user())));
    view! {
        <Stylesheet id="leptos" href="/pkg/taskwright.css" />
        <Title text="Taskwright" />
        <Router>
            <Frame>
                <Routes fallback=|| view! { <p class="empty">"No such page."</p> }>
                    <Route path=path!("/apps/tasks") view=scripts::ScriptsPage />
                    <Route path=path!("/apps/tasks/new") view=scripts::NewScriptPage />
                    <Route path=path!("/apps/tasks/scripts/:name") view=scripts::ScriptPage />
                    <Route path=path!("/apps/tasks/jobs") view=jobs::JobsPage />
                    <Route path=path!("/apps/tasks/jobs/:id") view=jobs::JobPage />
                    <Route path=path!("/apps/tasks/schedules") view=schedules::SchedulesPage />
                    <Route path=path!("/apps/tasks/users") view=users::UsersPage />
                    <Route path=path!("/apps/tasks/signin") view=signin::SignInPage />
                </Routes>
            </Frame>
        </Router>
    }
}

/// Header, navigation and main area around every page. Marks the document
/// once the WASM has hydrated it, so tests and people know buttons work.
#[component]
fn Frame(children: Children) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let user = expect_context::<CurrentUser>().0;
    view! {
        <header class="topbar">
            <a class="brand" href="/apps/tasks">"Taskwright"</a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(me)) => view! { <Nav me /> }.into_any(),
                        _ => view! { <span class="tagline">"Scripts and jobs"</span> }.into_any(),
                    }
                })}
            </Suspense>
        </header>
        <main data-hydrated=move || hydrated.get().then_some("true")>{children()}</main>
    }
}

#[component]
fn Nav(me: Me) -> impl IntoView {
    let admin = me.role >= Role::Admin;
    view! {
        <nav class="nav" aria-label="Main">
            <A href="/apps/tasks" exact=true>"Scripts"</A>
            <A href="/apps/tasks/jobs">"Jobs"</A>
            <A href="/apps/tasks/schedules">"Schedules"</A>
            {admin.then(|| view! { <A href="/apps/tasks/users">"Users"</A> })}
        </nav>
        <span class="who">
            <span class="username">{me.username.clone()}</span>
            " "
            <span class="role">{format!("({})", me.role.as_str())}</span>
        </span>
        <signin::SignOutButton />
    }
}

/// Renders `page` for a signed-in user with at least `min`; asks anyone
/// else to sign in, or says the role is not enough.
#[component]
pub fn Guard<F, V>(min: Role, page: F) -> impl IntoView
where
    F: Fn(Me) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let user = expect_context::<CurrentUser>().0;
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match user.await {
                        Ok(Some(me)) if me.role >= min => page(me).into_any(),
                        Ok(Some(me)) => view! {
                            <p class="error" role="alert">
                                {format!(
                                    "This page needs the {} role; you are signed in as {} with the {} role.",
                                    min.as_str(),
                                    me.username,
                                    me.role.as_str(),
                                )}
                            </p>
                        }
                        .into_any(),
                        Ok(None) => view! { <signin::SignInForm /> }.into_any(),
                        Err(e) => view! {
                            <p class="error" role="alert">
                                {format!("The server did not answer: {}", api::error_text(&e))}
                            </p>
                        }
                        .into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
