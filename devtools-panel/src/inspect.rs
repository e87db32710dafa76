//! The Storage tab's inspector, beside the conversations: what each store
//! holds as a chart, the preferences (each edited and checked by the
//! background as on the options page, reset to its default, exported as a
//! JSON file and imported from one — checked whole before anything is
//! applied), and the context cache's entries (listed without their values,
//! deleted one by one, exported as JSON).

use paperclip_core::prefs::PrefEntry;
use paperclip_core::prefs_file;
use paperclip_core::protocol::{
    CacheEntryInfo, CacheEntryList, DeleteCacheEntry, GetPreferences, GetStorageStatus,
    ListCacheEntries, PreferenceList, SetPreference, StorageStatus, Topic,
};
use paperclip_platform as platform;
use paperclip_ui::format_time;
use serde_json::Value;
use yew::prelude::*;

/// How many cache entries the list shows.
const CACHE_SHOWN: u32 = 200;

/// Records per store, as bars.
#[function_component(StoreChart)]
pub fn store_chart() -> Html {
    let (status, _) = paperclip_ui::use_rpc_live(
        GetStorageStatus {},
        |s: StorageStatus| s,
        &[Topic::Storage, Topic::Conversations],
    );
    let Some(Ok(s)) = &*status else {
        return html! {};
    };
    let stores = [
        ("Conversations", s.conversations),
        ("Context cache", s.cache_entries),
        ("Telemetry rows", s.telemetry_records),
        ("Quarantined", s.quarantine.len() as u64),
    ];
    let top = stores.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    html! {
        <section class="store-chart" aria-label="Records per store">
            <h2>{ "Records per store" }</h2>
            <p class="meta">{ format!("{:.1} MB used of {:.0} MB", s.usage_bytes as f64 / 1_048_576.0, s.quota_bytes as f64 / 1_048_576.0) }</p>
            <ul class="bars">
            { for stores.iter().map(|(name, n)| html! {
                <li class="store">
                    <span class="name">{ format!("{name}: {n}") }</span>
                    <span class="bar" style={format!("width: {:.1}%", *n as f64 / top * 100.0)}></span>
                </li>
            }) }
            </ul>
        </section>
    }
}

async fn set(key: String, value: Value) -> Result<(), String> {
    platform::call(SetPreference { key, value })
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}

/// The preferences: edit, reset, export, import.
#[function_component(PrefsInspector)]
pub fn prefs_inspector() -> Html {
    let (list, reload) = paperclip_ui::use_rpc_live(
        GetPreferences { category: None },
        |l: PreferenceList| l.entries,
        &[Topic::Preferences],
    );
    let message = use_state(|| None::<Result<String, String>>);
    let entries: Vec<PrefEntry> = match &*list {
        Some(Ok(e)) => e.clone(),
        Some(Err(e)) => return html! { <p class="error" role="alert">{ e.clone() }</p> },
        None => return html! { <p aria-busy="true">{ "Loading…" }</p> },
    };
    let apply = {
        let (message, reload) = (message.clone(), reload.clone());
        Callback::from(move |(key, value, done): (String, Value, String)| {
            let (message, reload) = (message.clone(), reload.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = set(key.clone(), value).await;
                message.set(Some(r.map(|_| done).map_err(|e| format!("{key}: {e}"))));
                reload();
            });
        })
    };
    let export = {
        let (message, entries) = (message.clone(), entries.clone());
        Callback::from(move |_: MouseEvent| {
            let text = prefs_file::write(entries.iter().map(|e| (e.key.as_str(), &e.value)));
            let r = paperclip_ui::download("paperclip-preferences.json", &text, "application/json")
                .map(|_| format!("Exported {} preferences.", entries.len()));
            message.set(Some(r));
        })
    };
    let on_file = {
        let (message, reload) = (message.clone(), reload.clone());
        Callback::from(move |e: Event| {
            let Some(file) = paperclip_ui::take_chosen_file(&e) else {
                return;
            };
            let (message, reload) = (message.clone(), reload.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let name = file.name();
                let read = paperclip_ui::read_text_within(file, prefs_file::MAX_PREFS_FILE_BYTES)
                    .await
                    .and_then(|t| prefs_file::read(&t).map_err(|e| format!("{name}: {e}")));
                // Checked whole first: a bad file changes nothing.
                let r = match read {
                    Err(e) => Err(format!("{e}; nothing was changed")),
                    Ok(entries) => {
                        let n = entries.len();
                        let mut failed = None;
                        for (key, value) in entries {
                            if let Err(e) = set(key.clone(), value).await {
                                failed = Some(format!("{key}: {e}"));
                                break;
                            }
                        }
                        match failed {
                            None => Ok(format!("Applied {n} preferences from {name}.")),
                            Some(e) => Err(e),
                        }
                    }
                };
                message.set(Some(r));
                reload();
            });
        })
    };
    html! {
        <section class="prefs-inspector" aria-label="Preferences">
            <h2>{ "Preferences" }</h2>
            <div class="filters">
                <button type="button" onclick={export}>{ "Export preferences (JSON)" }</button>
                <label for="prefs-file">{ "Import preferences" }</label>
                <input id="prefs-file" type="file" accept=".json,application/json" onchange={on_file} />
            </div>
            { paperclip_ui::status_line(&message) }
            <table class="prefs" aria-label="Preference values">
                <thead><tr><th>{ "Key" }</th><th>{ "Value (JSON)" }</th><th>{ "Default" }</th><th></th></tr></thead>
                <tbody>
                { for entries.iter().map(|e| html! {
                    <PrefRow key={e.key.clone()} entry={e.clone()} apply={apply.clone()} />
                }) }
                </tbody>
            </table>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct PrefRowProps {
    entry: PrefEntry,
    apply: Callback<(String, Value, String)>,
}

/// One preference: its value as JSON text, saved with Enter or "Save".
#[function_component(PrefRow)]
fn pref_row(props: &PrefRowProps) -> Html {
    let e = &props.entry;
    let text = use_state(|| e.value.to_string());
    {
        // A value changed elsewhere shows here.
        let text = text.clone();
        use_effect_with(e.value.clone(), move |v| text.set(v.to_string()));
    }
    let error = use_state(|| None::<String>);
    let on_input = {
        let text = text.clone();
        Callback::from(move |ev: InputEvent| {
            let input: web_sys::HtmlInputElement = ev.target_unchecked_into();
            text.set(input.value());
        })
    };
    let save = {
        let (text, error, apply, key) = (
            text.clone(),
            error.clone(),
            props.apply.clone(),
            e.key.clone(),
        );
        Callback::from(move |ev: SubmitEvent| {
            ev.prevent_default();
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => {
                    error.set(None);
                    apply.emit((key.clone(), v, format!("Saved {key}.")));
                }
                Err(err) => error.set(Some(format!("{key}: not JSON ({err})"))),
            }
        })
    };
    let reset = {
        let (apply, key, default) = (props.apply.clone(), e.key.clone(), e.default.clone());
        Callback::from(move |_: MouseEvent| {
            apply.emit((
                key.clone(),
                default.clone(),
                format!("Reset {key} to its default."),
            ))
        })
    };
    let form = format!("pref-{}", e.key.replace('.', "-"));
    html! {
        <tr class="pref">
            <td class="key" title={e.description.clone()}>{ e.key.clone() }</td>
            <td>
                <form id={form.clone()} onsubmit={save}>
                    <input type="text" aria-label={format!("Value of {}", e.key)} value={(*text).clone()} oninput={on_input} />
                </form>
                if let Some(err) = &*error { <p class="error" role="alert">{ err.clone() }</p> }
            </td>
            <td class="default">{ e.default.to_string() }</td>
            <td>
                <button type="submit" form={form} aria-label={format!("Save {}", e.key)}>{ "Save" }</button>
                <button type="button" onclick={reset} disabled={e.value == e.default} aria-label={format!("Reset {}", e.key)}>{ "Reset" }</button>
            </td>
        </tr>
    }
}

/// The context cache's entries.
#[function_component(CacheInspector)]
pub fn cache_inspector() -> Html {
    let (list, reload) = paperclip_ui::use_rpc_live(
        ListCacheEntries { limit: CACHE_SHOWN },
        |l: CacheEntryList| l,
        &[Topic::Storage],
    );
    let message = use_state(|| None::<Result<String, String>>);
    let list = match &*list {
        Some(Ok(l)) => l.clone(),
        Some(Err(e)) => return html! { <p class="error" role="alert">{ e.clone() }</p> },
        None => return html! { <p aria-busy="true">{ "Loading…" }</p> },
    };
    let export = {
        let (message, entries) = (message.clone(), list.entries.clone());
        Callback::from(move |_: MouseEvent| {
            let text = serde_json::to_string_pretty(&entries).unwrap_or_default();
            let r =
                paperclip_ui::download("paperclip-cache-entries.json", &text, "application/json")
                    .map(|_| format!("Exported {} cache entries.", entries.len()));
            message.set(Some(r));
        })
    };
    let delete = |e: &CacheEntryInfo| {
        let (message, reload, key) = (message.clone(), reload.clone(), e.key.clone());
        Callback::from(move |_: MouseEvent| {
            let (message, reload, key) = (message.clone(), reload.clone(), key.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = platform::call(DeleteCacheEntry { key: key.clone() })
                    .await
                    .map(|_| format!("Deleted the cache entry {key}."))
                    .map_err(|e| e.message);
                message.set(Some(r));
                reload();
            });
        })
    };
    html! {
        <section class="cache-inspector" aria-label="Context cache">
            <h2>{ "Context cache" }</h2>
            <div class="filters">
                <button type="button" onclick={export} disabled={list.entries.is_empty()}>{ "Export shown (JSON)" }</button>
            </div>
            <p class="meta" role="status">{ format!("{} of {} entries shown (most recently used first)", list.entries.len(), list.total) }</p>
            { paperclip_ui::status_line(&message) }
            if !list.entries.is_empty() {
                <table class="cache" aria-label="Cache entries">
                    <thead><tr><th>{ "Key" }</th><th>{ "Size" }</th><th>{ "Stored" }</th><th>{ "Expires" }</th><th>{ "Last used" }</th><th></th></tr></thead>
                    <tbody>
                    { for list.entries.iter().map(|e| html! {
                        <tr class="cache-entry">
                            <td class="key" title={e.key.clone()}>{ e.key.clone() }</td>
                            <td>{ format!("{} B", e.bytes) }</td>
                            <td>{ format_time(e.stored_ms as f64) }</td>
                            <td>{ e.expires_ms.map_or("never".into(), |t| format_time(t as f64)) }</td>
                            <td>{ format_time(e.last_used_ms as f64) }</td>
                            <td><button type="button" onclick={delete(e)} aria-label={format!("Delete the cache entry {}", e.key)}>{ "Delete" }</button></td>
                        </tr>
                    }) }
                    </tbody>
                </table>
            }
        </section>
    }
}
