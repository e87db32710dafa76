//! The options page's preferences form, generated from the background's
//! [`PrefEntry`] list.

use paperclip_core::prefs::{Category, PrefEntry, PrefKind};
use paperclip_core::protocol::{GetPreferences, SetPreference};
use paperclip_platform as platform;
use serde_json::Value;
use yew::prelude::*;

fn title(c: Category) -> &'static str {
    match c {
        Category::Agent => "Assistant",
        Category::Ui => "Appearance",
        Category::Performance => "Performance",
        Category::Privacy => "Privacy and storage",
    }
}

/// Reads the control's value as the JSON the preference takes.
fn read_input(kind: &PrefKind, input: &web_sys::HtmlInputElement) -> Result<Value, String> {
    let text = input.value();
    match kind {
        PrefKind::Bool => Ok(Value::Bool(input.checked())),
        PrefKind::Whole { .. } | PrefKind::Number { .. } => {
            let n: f64 = text
                .trim()
                .parse()
                .map_err(|_| format!("{text:?} is not a number"))?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| format!("{text:?} is not a number"))
        }
        PrefKind::Origins { .. } => Ok(Value::Array(
            text.split([',', '\n', ' '])
                .filter(|s| !s.trim().is_empty())
                .map(|s| Value::String(s.trim().into()))
                .collect(),
        )),
        PrefKind::Choice { .. } => Ok(Value::String(text)),
        PrefKind::Actions { .. } => Err("quick actions are edited in their own section".into()),
    }
}

#[derive(Properties, PartialEq)]
struct RowProps {
    entry: PrefEntry,
    on_saved: Callback<(String, Result<Value, String>)>,
}

/// One labelled control; saves on change.
#[function_component(PrefRow)]
fn pref_row(props: &RowProps) -> Html {
    let e = &props.entry;
    let id = format!("pref-{}", e.key.replace('.', "-"));
    let save = {
        let key = e.key.clone();
        let on_saved = props.on_saved.clone();
        move |value: Result<Value, String>, input: Option<web_sys::HtmlInputElement>| {
            let key = key.clone();
            let on_saved = on_saved.clone();
            // Turning on what sends data out of the browser asks Firefox's
            // consent first, inside the user's change (none in Chromium).
            let kinds = match &value {
                Ok(value) => paperclip_core::consent::for_preference(&key, value),
                Err(_) => &[],
            };
            let asked = platform::consent::request(&[], kinds);
            wasm_bindgen_futures::spawn_local(async move {
                let r = match (value, platform::consent::granted_after(asked).await) {
                    (Ok(_), Ok(false)) => {
                        if let Some(input) = input {
                            input.set_checked(false);
                        }
                        Err(format!(
                            "{key}: Firefox's consent was not given, so nothing was changed."
                        ))
                    }
                    (Ok(_), Err(e)) => Err(format!("{key}: {e}")),
                    (Ok(value), Ok(true)) => platform::call(SetPreference {
                        key: key.clone(),
                        value,
                    })
                    .await
                    .map(|s| s.value)
                    .map_err(|e| e.message),
                    (Err(e), _) => Err(format!("{key}: {e}")),
                };
                on_saved.emit((key, r));
            });
        }
    };
    let on_input_change = {
        let kind = e.kind.clone();
        let save = save.clone();
        Callback::from(move |ev: Event| {
            let input: web_sys::HtmlInputElement = ev.target_unchecked_into();
            // An emptied number field is not a value yet: nothing to save.
            let empty_number = matches!(kind, PrefKind::Whole { .. } | PrefKind::Number { .. })
                && input.value().trim().is_empty();
            if !empty_number {
                save(read_input(&kind, &input), Some(input));
            }
        })
    };
    let on_select_change = Callback::from(move |ev: Event| {
        let select: web_sys::HtmlSelectElement = ev.target_unchecked_into();
        save(Ok(Value::String(select.value())), None);
    });
    let control = match &e.kind {
        PrefKind::Bool => html! {
            <input id={id.clone()} type="checkbox" checked={e.value == Value::Bool(true)} onchange={on_input_change} />
        },
        PrefKind::Choice { options } => html! {
            <select id={id.clone()} onchange={on_select_change}>
                { for options.iter().map(|o| html! {
                    <option value={o.clone()} selected={e.value.as_str() == Some(o)}>{ o.clone() }</option>
                }) }
            </select>
        },
        PrefKind::Whole { min, max } => html! {
            <input id={id.clone()} type="number" min={min.to_string()} max={max.to_string()} step="1"
                value={e.value.to_string()} onchange={on_input_change} />
        },
        PrefKind::Number { min, max } => html! {
            <input id={id.clone()} type="number" min={min.to_string()} max={max.to_string()} step="0.1"
                value={e.value.to_string()} onchange={on_input_change} />
        },
        PrefKind::Origins { .. } => {
            let text = e
                .value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            html! {
                <input id={id.clone()} type="text" placeholder="https://example.org, https://docs.rs"
                    value={text} onchange={on_input_change} />
            }
        }
        // Shown (and edited) in "Your quick actions".
        PrefKind::Actions { .. } => return html! {},
    };
    html! {
        <div class="pref">
            <label for={id}>{ e.description.clone() }</label>
            { control }
        </div>
    }
}

/// Every preference, grouped by category; each saves on change and shows
/// the background's verdict.
#[function_component(PreferencesSection)]
pub fn preferences_section() -> Html {
    let (entries, reload) = paperclip_ui::use_rpc_live(
        GetPreferences::default(),
        |l: paperclip_core::protocol::PreferenceList| l.entries,
        &[paperclip_core::protocol::Topic::Preferences],
    );
    let status = use_state(|| None::<Result<String, String>>);
    let on_saved = {
        let status = status.clone();
        Callback::from(move |(key, r): (String, Result<Value, String>)| {
            status.set(Some(r.map(|v| format!("Saved {key} = {v}."))));
            reload();
        })
    };
    let body = match &*entries {
        None => html! { <p aria-busy="true">{ "Loading…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Some(Ok(list)) => html! {
            { for [Category::Agent, Category::Ui, Category::Performance, Category::Privacy].into_iter().map(|c| html! {
                <fieldset>
                    <legend>{ title(c) }</legend>
                    { for list.iter().filter(|e| e.category == c && !matches!(e.kind, PrefKind::Actions { .. })).map(|e| html! {
                        <PrefRow key={e.key.clone()} entry={e.clone()} on_saved={on_saved.clone()} />
                    }) }
                </fieldset>
            }) }
        },
    };
    html! {
        <section class="preferences">
            <h2>{ "Preferences" }</h2>
            { body }
            { paperclip_ui::status_line(&status) }
        </section>
    }
}
