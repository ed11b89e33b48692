//! Small pieces the pages share: status badges, error messages, field
//! errors, confirmation buttons.

use crate::api;
use crate::model::{FieldError, JobStatus};
use leptos::prelude::*;

/// A job's status as a coloured badge; the colour is never the only cue.
#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<JobStatus>) -> impl IntoView {
    view! {
        <span class=move || {
            format!("badge status-{}", status.get().as_str().to_ascii_lowercase())
        }>{move || status.get().as_str()}</span>
    }
}

/// The first eight characters of a job id, for tables.
pub fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// A server function's failure, said so a person understands it.
#[component]
pub fn ErrorText(error: ServerFnError) -> impl IntoView {
    view! { <p class="error" role="alert">{api::error_text(&error)}</p> }
}

/// The messages for `field` among `errors`, shown beside that field.
#[component]
pub fn FieldErrors(
    errors: RwSignal<Vec<FieldError>>,
    field: &'static str,
    id: &'static str,
) -> impl IntoView {
    let text = move || {
        errors
            .read()
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    view! {
        <span class="field-error" id=id role="alert" data-field=field>
            {text}
        </span>
    }
}

/// A button that asks again before it acts: the first press shows the
/// question with "Yes" and "No" buttons.
#[component]
pub fn ConfirmButton<F>(
    label: &'static str,
    question: String,
    on_confirm: F,
    #[prop(optional)] class: &'static str,
) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
{
    let asking = RwSignal::new(false);
    view! {
        <Show
            when=move || asking.get()
            fallback=move || {
                view! {
                    <button class=format!("btn {class}") on:click=move |_| asking.set(true)>
                        {label}
                    </button>
                }
            }
        >
            <span class="confirm" role="group" aria-label=question.clone()>
                <span>{question.clone()}</span>
                " "
                <button
                    class="btn danger"
                    on:click={
                        let on_confirm = on_confirm.clone();
                        move |_| {
                            asking.set(false);
                            on_confirm();
                        }
                    }
                >
                    "Yes"
                </button>
                " "
                <button class="btn" on:click=move |_| asking.set(false)>
                    "No"
                </button>
            </span>
        </Show>
    }
}
