//! The WASM entry point: hydrates the server-rendered Tasks app in the browser.
//! Built by `cargo leptos build`; never run directly.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
