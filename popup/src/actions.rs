//! The options page's *Your quick actions*: the user's own actions (name,
//! prompt with `{selection}`, `{page}`, `{title}`, `{url}`, whether it
//! needs a selection), added and deleted here, saved as the
//! `agent.quick_actions` preference (validated in the core before anything
//! is saved; the background validates again).

use paperclip_core::prefs::PrefEntry;
use paperclip_core::protocol::{GetPreferences, PreferenceList, SetPreference, Topic};
use paperclip_core::quick::{validate_actions, CustomAction, MAX_CUSTOM_ACTIONS};
use paperclip_platform as platform;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

const KEY: &str = "agent.quick_actions";

fn actions_of(list: PreferenceList) -> Vec<CustomAction> {
    list.entries
        .into_iter()
        .find(|e: &PrefEntry| e.key == KEY)
        .and_then(|e| serde_json::from_value(e.value).ok())
        .unwrap_or_default()
}

/// Saves `actions` (validated first: nothing is saved on bad input).
fn save(
    actions: Vec<CustomAction>,
    done: String,
    status: UseStateHandle<Option<Result<String, String>>>,
    after: impl FnOnce() + 'static,
) {
    let actions = match validate_actions(actions) {
        Ok(a) => a,
        Err(e) => return status.set(Some(Err(format!("Not saved: {e}.")))),
    };
    let value = serde_json::to_value(&actions).unwrap_or_default();
    wasm_bindgen_futures::spawn_local(async move {
        match platform::call(SetPreference {
            key: KEY.into(),
            value,
        })
        .await
        {
            Ok(_) => {
                status.set(Some(Ok(done)));
                after();
            }
            Err(e) => status.set(Some(Err(format!("Not saved: {}", e.message)))),
        }
    });
}

/// The section.
#[function_component(QuickActionsSection)]
pub fn quick_actions_section() -> Html {
    let (actions, reload) =
        paperclip_ui::use_rpc_live(GetPreferences::default(), actions_of, &[Topic::Preferences]);
    let status = use_state(|| None::<Result<String, String>>);
    let (name, template, needs) = (use_node_ref(), use_node_ref(), use_node_ref());
    let current = match &*actions {
        Some(Ok(a)) => Some(a.clone()),
        _ => None,
    };
    let on_add = {
        let (current, status, reload) = (current.clone(), status.clone(), reload.clone());
        let (name, template, needs) = (name.clone(), template.clone(), needs.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(mut list) = current.clone() else {
                return;
            };
            let (Some(n), Some(t), Some(s)) = (
                name.cast::<HtmlInputElement>(),
                template.cast::<HtmlTextAreaElement>(),
                needs.cast::<HtmlInputElement>(),
            ) else {
                return;
            };
            let action = match CustomAction::new(&n.value(), &t.value(), s.checked()) {
                Ok(a) => a,
                Err(e) => return status.set(Some(Err(format!("Not saved: {e}.")))),
            };
            let done = format!("Saved the action “{}”.", action.name);
            list.push(action);
            let reload = reload.clone();
            save(list, done, status.clone(), move || {
                n.set_value("");
                t.set_value("");
                s.set_checked(false);
                reload();
            });
        })
    };
    let rows = current.clone().unwrap_or_default();
    let body = match &*actions {
        None => html! { <p aria-busy="true">{ "Loading…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Some(Ok(list)) if list.is_empty() => {
            html! { <p class="empty">{ "No actions of your own yet." }</p> }
        }
        Some(Ok(_)) => html! {
            <table class="actions">
                <thead><tr><th scope="col">{ "Name" }</th><th scope="col">{ "Prompt" }</th><th scope="col">{ "Needs a selection" }</th><th scope="col">{ "Delete" }</th></tr></thead>
                <tbody>
                { for rows.iter().enumerate().map(|(i, a)| {
                    let on_delete = {
                        let (rows, status, reload) = (rows.clone(), status.clone(), reload.clone());
                        Callback::from(move |_| {
                            let mut list = rows.clone();
                            let gone = list.remove(i);
                            let reload = reload.clone();
                            save(list, format!("Deleted the action “{}”.", gone.name), status.clone(), move || reload());
                        })
                    };
                    html! {
                        <tr key={a.name.clone()}>
                            <td>{ a.name.clone() }</td>
                            <td class="template">{ a.template.clone() }</td>
                            <td>{ if a.needs_selection { "yes" } else { "no" } }</td>
                            <td><button type="button" aria-label={format!("Delete the action {}", a.name)} onclick={on_delete}>{ "Delete" }</button></td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    let full = rows.len() >= MAX_CUSTOM_ACTIONS;
    html! {
        <section class="quick-actions">
            <h2>{ "Your quick actions" }</h2>
            <p>{ "Your own buttons in Clippy and entries in the page's context menu (\u{201c}Clippy: name\u{201d}). The prompt may use {selection}, {page}, {title} and {url}: they are filled with what your privacy settings share when you choose the action." }</p>
            { body }
            <form class="action-form" onsubmit={on_add}>
                <label for="action-name">{ "Name" }</label>
                <input id="action-name" type="text" maxlength="40" ref={name} placeholder="Tweet it" />
                <label for="action-template">{ "Prompt" }</label>
                <textarea id="action-template" ref={template} rows="3" placeholder="Write a tweet about {title}: {selection}" />
                <label class="check"><input id="action-needs-selection" type="checkbox" ref={needs} />{ " Needs selected text" }</label>
                <button type="submit" disabled={full || current.is_none()}>{ "Add action" }</button>
                if full {
                    <p class="hint">{ format!("You have the maximum of {MAX_CUSTOM_ACTIONS} actions.") }</p>
                }
            </form>
            { paperclip_ui::status_line(&status) }
        </section>
    }
}
