//! The options page's export and import: "Export all" in parts (the file
//! put together here), an import under a merge policy,
//! sent in parts (checked whole by the background before anything is
//! written, then written part by part; `paperclip_core::import`), and the
//! settings an imported file carries, which are only listed until the user
//! applies them.

use paperclip_core::export::{self, MergePolicy, OfferedPreference, MAX_IMPORT_BYTES};
use paperclip_core::prefs::Category;
use paperclip_core::protocol::{
    ExportBegin, ExportPart, ImportBegin, ImportPart, Imported, SetPreference,
};
use paperclip_platform as platform;
use serde_json::Value;
use yew::prelude::*;

fn policy_from(value: &str) -> MergePolicy {
    match value {
        "skip" => MergePolicy::Skip,
        "overwrite" => MergePolicy::Overwrite,
        _ => MergePolicy::KeepNewest,
    }
}

/// Splits export file `text` with the browser's `JSON` (no JSON code in
/// this page's wasm): the header (the file without its conversations) and
/// each conversation's JSON. Only the shape is checked here; the
/// background validates everything.
fn split(text: &str) -> Result<(String, Vec<String>), String> {
    let refused = |what: String| format!("import refused, nothing changed: {what}");
    let file = js_sys::JSON::parse(text).map_err(|e| {
        let why = js_sys::Error::from(e).message();
        refused(format!("$: not a JSON object: {why}"))
    })?;
    if !file.is_object() || js_sys::Array::is_array(&file) {
        return Err(refused("$: not a JSON object".into()));
    }
    let list = js_sys::Reflect::get(&file, &"conversations".into()).unwrap_or_default();
    if list.is_undefined() {
        return Err(refused("$: missing field `conversations`".into()));
    }
    if !js_sys::Array::is_array(&list) {
        return Err(refused("$.conversations: not a list".into()));
    }
    let stringify = |v: &wasm_bindgen::JsValue| {
        js_sys::JSON::stringify(v)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_else(|| "null".into())
    };
    let texts = js_sys::Array::from(&list)
        .iter()
        .map(|c| stringify(&c))
        .collect();
    let _ = js_sys::Reflect::delete_property(
        wasm_bindgen::JsCast::unchecked_ref::<js_sys::Object>(&file),
        &"conversations".into(),
    );
    Ok((stringify(&file), texts))
}

/// Imports export file `text` under `policy`, telling `progress` how far
/// it is.
async fn import_text(
    text: &str,
    policy: MergePolicy,
    progress: impl Fn(String),
) -> Result<Imported, String> {
    let (header, texts) = split(text)?;
    let total = texts.len();
    let begun = platform::call(ImportBegin {
        header,
        total: total as u32,
        policy,
    })
    .await
    .map_err(|e| e.message)?;
    let sizes: Vec<usize> = texts.iter().map(String::len).collect();
    let mut parts = paperclip_core::import::cut(&sizes);
    if parts.is_empty() {
        // No conversations: one empty part completes the import.
        parts.push(0..0);
    }
    for doing in ["Checking", "Importing"] {
        for part in &parts {
            progress(format!(
                "{doing} the file… {} of {total} conversations",
                part.start
            ));
            let step = platform::call(ImportPart {
                import: begun.import,
                first: part.start as u32,
                conversations: texts[part.clone()].to_vec(),
            })
            .await
            .map_err(|e| e.message)?;
            if let Some(done) = step.done {
                return Ok(done);
            }
        }
    }
    Err("the import did not complete: import the file again".into())
}

/// "Export all" in parts: the background gives the file's frame and every
/// id, then the conversations a part at a time, and the file is put
/// together here (a conversation deleted meanwhile is left out); tells
/// `progress` how far it is and returns how many conversations it holds.
async fn export_in_parts(progress: impl Fn(String)) -> Result<usize, String> {
    let begun = platform::call(ExportBegin {})
        .await
        .map_err(|e| e.message)?;
    let total = begun.ids.len();
    let mut file = paperclip_ui::FileBuilder::new("application/json")?;
    file.push(&begun.head);
    let (mut next, mut count) = (0, 0);
    while next < total {
        progress(format!("Exporting… {next} of {total} conversations"));
        let end = total.min(next + paperclip_core::import::MAX_PART_CONVERSATIONS);
        let part = platform::call(ExportPart {
            ids: begun.ids[next..end].to_vec(),
        })
        .await
        .map_err(|e| e.message)?;
        if part.read == 0 {
            return Err("the export stopped: export again".into());
        }
        for piece in &part.conversations {
            file.push(export::separator(count));
            file.push(piece);
            count += 1;
        }
        file.fold()?;
        next += part.read as usize;
    }
    file.push(export::closing(count));
    file.push(&begun.tail);
    file.download("paperclip-export.json")?;
    Ok(count)
}

/// Export and import of conversations.
#[function_component(DataSection)]
pub fn data_section() -> Html {
    let status = use_state(|| None::<Result<String, String>>);
    // The settings the last imported file carries, waiting for the user.
    let offered = use_state(Vec::<OfferedPreference>::new);
    let policy = use_state(|| MergePolicy::KeepNewest);
    let export_all = {
        let status = status.clone();
        Callback::from(move |_| {
            let status = status.clone();
            status.set(Some(Ok("Exporting…".into())));
            wasm_bindgen_futures::spawn_local(async move {
                let shown = status.clone();
                let r = export_in_parts(move |p| shown.set(Some(Ok(p))))
                    .await
                    .map(|count| format!("Exported {count} conversations."));
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
        let offered = offered.clone();
        let policy = *policy;
        Callback::from(move |e: Event| {
            let Some(file) = paperclip_ui::take_chosen_file(&e) else {
                return;
            };
            offered.set(Vec::new());
            status.set(Some(Ok("Reading the file…".into())));
            let status = status.clone();
            let offered = offered.clone();
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
                        Ok(text) => {
                            let shown = status.clone();
                            import_text(&text, policy, move |p| shown.set(Some(Ok(p))))
                                .await
                                .map(|i| {
                                    let said = format!(
                                        "Imported: {} added, {} replaced, {} kept as they were.",
                                        i.added, i.overwritten, i.skipped
                                    );
                                    offered.set(i.preferences);
                                    said
                                })
                        }
                        Err(e) => Err(e),
                    }
                };
                status.set(Some(r));
            });
        })
    };
    // Applied or declined: the list goes and the outcome is the status.
    let on_offered_done = {
        let (status, offered) = (status.clone(), offered.clone());
        Callback::from(move |r: Result<String, String>| {
            if r.is_ok() {
                offered.set(Vec::new());
            }
            status.set(Some(r));
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
            if !offered.is_empty() {
                <OfferedSettings offered={(*offered).clone()} on_done={on_offered_done} />
            }
        </section>
    }
}

/// A preference value as the user reads it.
fn shown(v: &Value) -> String {
    match v {
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => "off".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[derive(Properties, PartialEq)]
struct OfferedProps {
    offered: Vec<OfferedPreference>,
    on_done: Callback<Result<String, String>>,
}

/// The imported file's settings that differ from the current ones, with
/// "Apply these settings" and "Keep my settings": nothing changes until
/// the user picks.
#[function_component(OfferedSettings)]
fn offered_settings(p: &OfferedProps) -> Html {
    let apply = {
        let offered = p.offered.clone();
        let on_done = p.on_done.clone();
        Callback::from(move |_| {
            let offered = offered.clone();
            let on_done = on_done.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let mut failed = Vec::new();
                for o in &offered {
                    let set = SetPreference {
                        key: o.key.clone(),
                        value: o.value.clone(),
                    };
                    if let Err(e) = platform::call(set).await {
                        failed.push(format!("{}: {}", o.key, e.message));
                    }
                }
                let applied = offered.len() - failed.len();
                on_done.emit(if failed.is_empty() {
                    Ok(format!("Applied {applied} settings from the file."))
                } else {
                    Err(format!(
                        "Applied {applied} settings; not applied: {}",
                        failed.join("; ")
                    ))
                });
            });
        })
    };
    let keep = p
        .on_done
        .reform(|_| Ok("Kept your settings; none from the file was applied.".to_string()));
    let privacy = p
        .offered
        .iter()
        .filter(|o| o.category == Category::Privacy)
        .count();
    html! {
        <div class="offered-settings" role="group" aria-labelledby="offered-heading">
            <h3 id="offered-heading">{ format!("The file also has {} settings that differ from yours", p.offered.len()) }</h3>
            <p>{ "They were not applied. Look at them, then apply them or keep yours." }
                if privacy > 0 {
                    <strong>{ format!(" {privacy} of them change privacy settings.") }</strong>
                }
            </p>
            <table class="offered" aria-label="Settings in the imported file">
                <thead><tr>
                    <th scope="col">{ "Setting" }</th>
                    <th scope="col">{ "Yours" }</th>
                    <th scope="col">{ "In the file" }</th>
                </tr></thead>
                <tbody>
                { for p.offered.iter().map(|o| html! {
                    <tr key={o.key.clone()} data-key={o.key.clone()} class={classes!((o.category == Category::Privacy).then_some("privacy"))}>
                        <td><code>{ o.key.clone() }</code><br />{ o.description.clone() }</td>
                        <td class="current">{ shown(&o.current) }</td>
                        <td class="value">{ shown(&o.value) }</td>
                    </tr>
                }) }
                </tbody>
            </table>
            <p>
                <button onclick={apply}>{ "Apply these settings" }</button>
                { " " }
                <button onclick={keep}>{ "Keep my settings" }</button>
            </p>
        </div>
    }
}
