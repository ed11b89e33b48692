//! Pages and components of the Tasks app, served under `/apps/tasks`.

use crate::api;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
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

/// The app's root: stylesheet, title, routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/taskwright.css" />
        <Title text="Taskwright" />
        <Router>
            <Frame>
                <Routes fallback=|| view! { <p class="empty">"No such page."</p> }>
                    <Route path=path!("/apps/tasks") view=Home />
                </Routes>
            </Frame>
        </Router>
    }
}

/// Header and main area around every page. Marks the document once the
/// WASM has hydrated it, so tests and people know buttons work.
#[component]
fn Frame(children: Children) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <header class="topbar">
            <a class="brand" href="/apps/tasks">"Taskwright"</a>
            <span class="tagline">"Scripts and jobs"</span>
        </header>
        <main data-hydrated=move || hydrated.get().then_some("true")>{children()}</main>
    }
}

/// The landing page: server health on request.
#[component]
fn Home() -> impl IntoView {
    let check = ServerAction::<api::GetHealth>::new();
    let result = check.value();
    view! {
        <h1>"Tasks"</h1>
        <p>"Run Python and bash scripts as jobs, by hand or on a schedule."</p>
        <button class="btn" on:click=move |_| { check.dispatch(api::GetHealth {}); }>
            "Check server"
        </button>
        <p class="health" aria-live="polite">
            {move || match result.get() {
                None => String::new(),
                Some(Ok(h)) => format!(
                    "Taskwright {} — database {}, {} waiting, {} running",
                    h.version, h.database, h.waiting, h.running
                ),
                Some(Err(e)) => format!("The server did not answer: {e}"),
            }}
        </p>
    }
}
