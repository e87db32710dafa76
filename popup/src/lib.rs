//! The toolbar popup (`popup.html`) and the options page (`options.html`).
//!
//! The popup (`popup.rs`): an "Ask Clippy" field, "Ask Clippy on this
//! page", who answers now, "Clippy on this site", a storage warning and the
//! recent conversations, each opening in its site's tab, and the usage today and this
//! month per provider (`usage.rs`, also the options page's usage table). The options page
//! shows the providers, reliability, preferences, export/import, storage
//! health and the version.
//! Which view mounts is chosen by `<body data-page>`.
#![forbid(unsafe_code)]

mod actions;
mod data;
mod import;
mod local;
mod popup;
mod providers;
mod resilience;
mod settings;
mod sync;
mod telemetry;
mod usage;

use paperclip_core::protocol::Ping;
use paperclip_platform as platform;
use paperclip_ui::ErrorBoundary;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

#[function_component(Options)]
fn options() -> Html {
    let version = use_state(String::new);
    {
        let version = version.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match platform::call(Ping {}).await {
                    Ok(p) => version.set(format!("{} (protocol {})", p.version, p.protocol)),
                    Err(e) => version.set(format!("background unreachable: {}", e.message)),
                }
            });
        });
    }
    // Deleting data changes what every section shows: they mount again
    // (and load afresh) under a new key.
    let generation = use_state(|| 0u32);
    let reload_sections = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(*generation + 1))
    };
    html! {
        <main class="options">
            <h1>{ "Paperclip options" }</h1>
            <div class="sections" key={*generation}>
            <section>
                <h2>{ "Provider" }</h2>
                <p>{ "Without a provider, Clippy answers with the built-in offline provider: from the page itself, no API key, nothing leaves your browser. With providers, answers come from the first one below (the primary), and the page's text goes to it when you ask; if it fails, the second one (the fallback) answers, then an earlier answer to the same question about the same page, then the offline answer. Every fallback answer is labelled." }</p>
            </section>
            <ErrorBoundary name="options.providers"><providers::ProvidersSection /></ErrorBoundary>
            <ErrorBoundary name="options.local-models"><local::LocalModelsSection /></ErrorBoundary>
            <ErrorBoundary name="options.reliability"><resilience::ResilienceSection /></ErrorBoundary>
            <ErrorBoundary name="options.usage"><usage::UsageSection /></ErrorBoundary>
            <ErrorBoundary name="options.preferences"><settings::PreferencesSection /></ErrorBoundary>
            <ErrorBoundary name="options.quick-actions"><actions::QuickActionsSection /></ErrorBoundary>
            <ErrorBoundary name="options.sync"><sync::SyncSection /></ErrorBoundary>
            <ErrorBoundary name="options.export"><import::DataSection /></ErrorBoundary>
            <ErrorBoundary name="options.telemetry"><telemetry::TelemetrySection /></ErrorBoundary>
            <ErrorBoundary name="options.storage"><paperclip_ui::StorageSection /></ErrorBoundary>
            </div>
            <ErrorBoundary name="options.delete"><data::DataControl on_deleted={reload_sections} /></ErrorBoundary>
            <section>
                <h2>{ "About" }</h2>
                <p class="version">{ (*version).clone() }</p>
            </section>
        </main>
    }
}

/// Mounts the view named by `<body data-page>`.
#[wasm_bindgen(start)]
pub fn main() {
    let page = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
        .and_then(|b| b.get_attribute("data-page"))
        .unwrap_or_default();
    // Panics become error records in the background's telemetry.
    paperclip_ui::install_panic_hook(if page == "options" {
        "options"
    } else {
        "popup"
    });
    paperclip_ui::live::start();
    if page == "options" {
        yew::Renderer::<Options>::new().render();
    } else {
        yew::Renderer::<popup::Popup>::new().render();
    }
}
