//! The toolbar popup (`popup.html`) and the options page (`options.html`).
//!
//! The popup lists recent conversations from the background
//! ([`paperclip_core::protocol::ListConversations`]), shows the agent on
//! the current tab ([`paperclip_core::protocol::ActivateTab`]) and the
//! usage today and this month per provider (`usage.rs`, also the options
//! page's usage table). The options
//! page shows the provider (the built-in offline one, for now), the
//! preferences, export/import, storage health and the version.
//! Which view mounts is chosen by `<body data-page>`.
#![forbid(unsafe_code)]

mod providers;
mod resilience;
mod settings;
mod telemetry;
mod usage;

use paperclip_core::activation::{self, Access, TabInfo};
use paperclip_core::export::{MergePolicy, MAX_IMPORT_BYTES};
use paperclip_core::protocol::{
    ActivateTab, ConversationList, ExportConversations, ImportConversations, ListConversations,
    Ping,
};
use paperclip_platform as platform;
use paperclip_ui::{Animation, Character, ConversationTable};
use wasm_bindgen::prelude::*;
use yew::prelude::*;

/// The tab "Ask Clippy on this page" means, and this page's own tab when it
/// is in one (a popup page opened in a window of its own, not the toolbar
/// popup). A page the browser keeps extensions off is refused here, with
/// the reason, when its URL is known.
async fn target_tab() -> Result<(TabInfo, Option<TabInfo>), String> {
    let own = platform::tabs::current().await?;
    let candidates = match own {
        None => {
            platform::tabs::query(&[("active", true.into()), ("currentWindow", true.into())])
                .await?
        }
        Some(_) => {
            platform::tabs::query(&[("active", true.into()), ("windowType", "normal".into())])
                .await?
        }
    };
    let tab = activation::target(own.as_ref(), &candidates).map_err(|e| e.to_string())?;
    if let Some(url) = tab.url.as_deref() {
        if let Access::Restricted(_) = activation::page_access(url) {
            return Err(activation::refusal(Some(url), ""));
        }
    }
    Ok((tab, own))
}

/// Shows the agent on the page the user means, then closes the popup (or
/// the popup page's own tab).
async fn ask_clippy_on_this_page() -> Result<(), String> {
    let (tab, own) = target_tab().await?;
    platform::call(ActivateTab { tab_id: tab.id })
        .await
        .map_err(|e| e.message)?;
    match own {
        Some(own) => platform::tabs::remove(own.id).await?,
        None => {
            if let Some(w) = web_sys::window() {
                let _ = w.close();
            }
        }
    }
    Ok(())
}

#[function_component(Popup)]
fn popup() -> Html {
    let list = use_state(|| None::<Result<ConversationList, String>>);
    let status = use_state(String::new);
    {
        let list = list.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let r = platform::call(ListConversations {
                    limit: 20,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.message);
                list.set(Some(r));
            });
        });
    }
    let activate = {
        let status = status.clone();
        Callback::from(move |_| {
            let status = status.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = ask_clippy_on_this_page().await {
                    status.set(e);
                }
            });
        })
    };
    html! {
        <main class="popup">
            <header>
                <Character animation={Animation::Idle(paperclip_core::character::IdleVariant::Bob)} />
                <h1>{ "Paperclip" }</h1>
            </header>
            <button class="primary" onclick={activate}>{ "Ask Clippy on this page" }</button>
            if !status.is_empty() {
                <p class="error" role="alert">{ (*status).clone() }</p>
            }
            <h2>{ "Recent conversations" }</h2>
            { match &*list {
                None => html! { <p aria-busy="true">{ "Loading…" }</p> },
                Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
                Some(Ok(l)) => html! {
                    <>
                        if !l.persistent {
                            <p class="notice" role="status">{ "Storage is unavailable: history is kept in memory only." }</p>
                        }
                        if let Some(percent) = l.quota_percent {
                            <p class="notice" role="alert">{ format!("Browser storage is {percent}% full. Export and delete old conversations in Options.") }</p>
                        }
                        <ConversationTable items={l.items.clone()} />
                    </>
                },
            } }
            <usage::PopupUsage />
        </main>
    }
}

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
    html! {
        <main class="options">
            <h1>{ "Paperclip options" }</h1>
            <section>
                <h2>{ "Provider" }</h2>
                <p>{ "Without a provider, Clippy answers with the built-in offline provider: from the page itself, no API key, nothing leaves your browser. With providers, answers come from the first one below (the primary), and the page's text goes to it when you ask; if it fails, the second one (the fallback) answers, then an earlier answer to the same question about the same page, then the offline answer. Every fallback answer is labelled." }</p>
            </section>
            <providers::ProvidersSection />
            <resilience::ResilienceSection />
            <usage::UsageSection />
            <settings::PreferencesSection />
            <DataSection />
            <telemetry::TelemetrySection />
            <paperclip_ui::StorageSection />
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
    paperclip_platform::telemetry::init(if page == "options" {
        "options"
    } else {
        "popup"
    });
    if page == "options" {
        yew::Renderer::<Options>::new().render();
    } else {
        yew::Renderer::<Popup>::new().render();
    }
}
