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

mod data;
mod popup;
mod providers;
mod resilience;
mod settings;
mod telemetry;
mod usage;

use paperclip_core::export::{MergePolicy, MAX_IMPORT_BYTES};
use paperclip_core::protocol::{ExportConversations, ImportConversations, Ping};
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
            <ErrorBoundary name="options.reliability"><resilience::ResilienceSection /></ErrorBoundary>
            <ErrorBoundary name="options.usage"><usage::UsageSection /></ErrorBoundary>
            <ErrorBoundary name="options.preferences"><settings::PreferencesSection /></ErrorBoundary>
            <ErrorBoundary name="options.export"><DataSection /></ErrorBoundary>
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

fn policy_from(value: &str) -> MergePolicy {
    match value {
        "skip" => MergePolicy::Skip,
        "overwrite" => MergePolicy::Overwrite,
        _ => MergePolicy::KeepNewest,
    }
}

/// Export and import of conversations.
#[function_component(DataSection)]
fn data_section() -> Html {
    let status = use_state(|| None::<Result<String, String>>);
    let policy = use_state(|| MergePolicy::KeepNewest);
    let export_all = {
        let status = status.clone();
        Callback::from(move |_| {
            let status = status.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let r = match platform::call(ExportConversations { ids: None }).await {
                    Ok(e) => {
                        paperclip_ui::download("paperclip-export.json", &e.json, "application/json")
                            .map(|_| format!("Exported {} conversations.", e.count))
                    }
                    Err(e) => Err(e.message),
                };
                status.set(Some(r));
            });
        })
    };
    let on_policy = {
        let policy = policy.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            policy.set(policy_from(&select.value()));
        })
    };
    let on_file = {
        let status = status.clone();
        let policy = *policy;
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            input.set_value("");
            let status = status.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let size = file.size();
                let r = if size > MAX_IMPORT_BYTES as f64 {
                    Err(format!(
                        "{} is {:.1} MB; the limit is {} MB. Nothing was changed.",
                        file.name(),
                        size / 1e6,
                        MAX_IMPORT_BYTES / 1_000_000
                    ))
                } else {
                    match paperclip_ui::read_text(file).await {
                        Ok(json) => platform::call(ImportConversations { json, policy })
                            .await
                            .map(|i| {
                                format!(
                                    "Imported: {} added, {} replaced, {} kept as they were.",
                                    i.added, i.overwritten, i.skipped
                                )
                            })
                            .map_err(|e| e.message),
                        Err(e) => Err(e),
                    }
                };
                status.set(Some(r));
            });
        })
    };
    html! {
        <section class="data">
            <h2>{ "Your data" }</h2>
            <p>{ "Conversations are stored in this browser only. Export them as a file, or import a file exported by Paperclip." }</p>
            <p><button onclick={export_all}>{ "Export all conversations" }</button></p>
            <p>
                <label for="merge-policy">{ "When an imported conversation already exists: " }</label>
                <select id="merge-policy" onchange={on_policy}>
                    <option value="keep_newest" selected=true>{ "keep the newer one" }</option>
                    <option value="skip">{ "keep mine" }</option>
                    <option value="overwrite">{ "replace with the imported one" }</option>
                </select>
            </p>
            <p>
                <label for="import-file">{ "Import conversations from a file: " }</label>
                <input id="import-file" type="file" accept=".json,application/json" onchange={on_file} />
            </p>
            { paperclip_ui::status_line(&status) }
        </section>
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
