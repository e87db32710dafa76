//! The panel's error groups: severity and category of each, filtered by
//! either with two selects (keyboard-usable), with the stack and context of
//! the latest record; each can be resolved (a resolved group seen again
//! shows as regressed), muted (hidden unless "Show muted") or reopened, and
//! the groups shown can be exported as JSON.

use paperclip_core::protocol::{ErrorTriage, GetErrorTriage, SetErrorTriage, Topic};
use paperclip_core::telemetry::errors::{Category, ErrorGroup, Fingerprint, Severity};
use paperclip_core::telemetry::triage::{GroupState, Triage};
use paperclip_platform as platform;
use paperclip_ui::format_time;
use yew::prelude::*;

/// Props: the groups the engine reported, most recent first.
#[derive(Properties, PartialEq)]
pub struct ErrorsProps {
    /// The groups.
    pub groups: Vec<ErrorGroup>,
    /// Whether they come from a session bundle (no resolving or muting).
    #[prop_or_default]
    pub read_only: bool,
}

/// Rows drawn at first, and added by "Show more".
const PAGE: usize = 100;

/// Where the filters are kept.
const SEVERITY_KEY: &str = "paperclip.panel.error_severity";
const CATEGORY_KEY: &str = "paperclip.panel.error_category";

/// What a select's value means: `all`, or one name.
fn chosen<T>(value: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    (value != "all").then(|| parse(value)).flatten()
}

/// The error groups with their filters.
#[function_component(ErrorsView)]
pub fn errors_view(props: &ErrorsProps) -> Html {
    let saved = |key| crate::saved::get(key).unwrap_or_else(|| "all".into());
    let severity = use_state(|| chosen(&saved(SEVERITY_KEY), Severity::parse));
    let category = use_state(|| chosen(&saved(CATEGORY_KEY), Category::parse));
    let on_severity = {
        let severity = severity.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            crate::saved::set(SEVERITY_KEY, &select.value());
            severity.set(chosen(&select.value(), Severity::parse));
        })
    };
    let on_category = {
        let category = category.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            crate::saved::set(CATEGORY_KEY, &select.value());
            category.set(chosen(&select.value(), Category::parse));
        })
    };
    let (book, reload) = paperclip_ui::use_rpc_live(
        GetErrorTriage {},
        |t: ErrorTriage| t.book,
        &[Topic::Telemetry],
    );
    let book = match &*book {
        Some(Ok(book)) => book.clone(),
        _ => Default::default(),
    };
    let show_muted = use_state(|| false);
    // Rows drawn: a page at first, more on request (a first render stays
    // fast with thousands of groups).
    let limit = use_state(|| PAGE);
    let more = {
        let limit = limit.clone();
        Callback::from(move |_: MouseEvent| limit.set(*limit + PAGE))
    };
    let message = use_state(|| None::<Result<String, String>>);
    let triage = {
        let (reload, message) = (reload.clone(), message.clone());
        Callback::from(
            move |(fingerprint, triage, done): (Fingerprint, Option<Triage>, String)| {
                let (reload, message) = (reload.clone(), message.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    let r = platform::call(SetErrorTriage {
                        fingerprint,
                        triage,
                    })
                    .await;
                    message.set(Some(r.map(|_| done).map_err(|e| e.message)));
                    reload();
                });
            },
        )
    };
    let shown: Vec<(&ErrorGroup, GroupState)> = props
        .groups
        .iter()
        .filter(|g| severity.is_none_or(|s| g.sample.severity == s))
        .filter(|g| category.is_none_or(|c| g.sample.category == c))
        .map(|g| (g, book.state(g.fingerprint, g.last_seen_ms)))
        .filter(|(_, state)| *show_muted || *state != GroupState::Muted)
        .collect();
    let export = {
        let message = message.clone();
        let groups: Vec<serde_json::Value> = shown
            .iter()
            .map(|(g, state)| serde_json::json!({"state": state.as_str(), "group": g}))
            .collect();
        Callback::from(move |_| {
            let text = serde_json::to_string_pretty(&groups).unwrap_or_default();
            let r = paperclip_ui::download("paperclip-errors.json", &text, "application/json")
                .map(|_| format!("Exported {} error groups.", groups.len()));
            message.set(Some(r));
        })
    };
    let on_show_muted = {
        let show_muted = show_muted.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            show_muted.set(input.checked());
        })
    };
    html! {
        <div class="error-groups">
            <div class="filters">
                <label for="error-severity">{ "Severity" }</label>
                <select id="error-severity" onchange={on_severity}>
                    <option value="all" selected={severity.is_none()}>{ "All severities" }</option>
                    { for Severity::ALL.into_iter().rev().map(|s| html! {
                        <option value={s.as_str()} selected={*severity == Some(s)}>{ s.as_str() }</option>
                    }) }
                </select>
                <label for="error-category">{ "Category" }</label>
                <select id="error-category" onchange={on_category}>
                    <option value="all" selected={category.is_none()}>{ "All categories" }</option>
                    { for Category::ALL.into_iter().map(|c| html! {
                        <option value={c.as_str()} selected={*category == Some(c)}>{ c.as_str() }</option>
                    }) }
                </select>
                <input id="error-muted" type="checkbox" checked={*show_muted} onchange={on_show_muted} />
                <label for="error-muted">{ "Show muted" }</label>
                <button type="button" onclick={export} disabled={shown.is_empty()}>{ "Export shown (JSON)" }</button>
            </div>
            <p class="meta" role="status">{ format!("{} of {} error groups", shown.len(), props.groups.len()) }</p>
            { paperclip_ui::status_line(&message) }
            if props.groups.is_empty() {
                <p class="meta">{ "No errors recorded." }</p>
            } else if !shown.is_empty() {
                <table class="errors" aria-label="Errors">
                    <thead><tr><th>{ "Severity" }</th><th>{ "Category" }</th><th>{ "Error" }</th><th>{ "Where" }</th>
                        <th>{ "Count" }</th><th>{ "First seen" }</th><th>{ "Last seen" }</th><th>{ "State" }</th></tr></thead>
                    <tbody>
                    { for shown.iter().take(*limit).map(|(g, state)| {
                        let title = format!("{}: {}", g.kind, g.title);
                        let act = |label: &'static str, triage_to: Option<Triage>, done: &'static str| {
                            let name = format!("{label} {title}");
                            let (triage, fp, said) = (triage.clone(), g.fingerprint, format!("{done}: {title}"));
                            let onclick = Callback::from(move |_| {
                                triage.emit((fp, triage_to, said.clone()));
                            });
                            html! {
                                <button type="button" aria-label={name} {onclick}>{ label }</button>
                            }
                        };
                        let now = platform::clock::now_ms();
                        let actions = match state {
                            _ if props.read_only => html! {},
                            GroupState::Open | GroupState::Regressed => html! { <>
                                { act("Resolve", Some(Triage::Resolved { at_ms: now }), "Resolved") }
                                { act("Mute", Some(Triage::Muted {}), "Muted") }
                            </> },
                            GroupState::Resolved => html! { <>
                                { act("Reopen", None, "Reopened") }
                                { act("Mute", Some(Triage::Muted {}), "Muted") }
                            </> },
                            GroupState::Muted => act("Unmute", None, "Unmuted"),
                        };
                        let context = g.sample.context.iter()
                            .map(|(k, v)| format!("{k} = {v}"))
                            .collect::<Vec<_>>()
                            .join("\n");
                        html! {
                            <tr class={classes!("error", g.sample.severity.as_str())}>
                                <td class="severity">{ g.sample.severity.as_str() }</td>
                                <td class="category">{ g.sample.category.as_str() }</td>
                                <td><details><summary>{ title.clone() }</summary>
                                    <p>{ g.sample.message.clone() }</p>
                                    if !context.is_empty() { <pre class="context">{ context }</pre> }
                                    if let Some(stack) = &g.sample.stack { <pre>{ stack.clone() }</pre> }
                                </details></td>
                                <td>{ g.sample.source.component.clone() }</td>
                                <td>{ g.count }</td>
                                <td>{ format_time(g.first_seen_ms) }</td>
                                <td>{ format_time(g.last_seen_ms) }</td>
                                <td class="state"><span class={classes!("triage", state.as_str())}>{ state.as_str() }</span>{ actions }</td>
                            </tr>
                        }
                    }) }
                    </tbody>
                </table>
                if shown.len() > *limit {
                    <p><button type="button" onclick={more}>{ format!("Show {} more of {}", (shown.len() - *limit).min(PAGE), shown.len() - *limit) }</button></p>
                }
            }
        </div>
    }
}
