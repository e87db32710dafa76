//! The panel's error groups: severity and category of each, filtered by
//! either with two selects (keyboard-usable), with the stack and context of
//! the latest record.

use paperclip_core::telemetry::errors::{Category, ErrorGroup, Severity};
use paperclip_ui::format_time;
use yew::prelude::*;

/// Props: the groups the engine reported, most recent first.
#[derive(Properties, PartialEq)]
pub struct ErrorsProps {
    /// The groups.
    pub groups: Vec<ErrorGroup>,
}

/// What a select's value means: `all`, or one name.
fn chosen<T>(value: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    (value != "all").then(|| parse(value)).flatten()
}

/// The error groups with their filters.
#[function_component(ErrorsView)]
pub fn errors_view(props: &ErrorsProps) -> Html {
    let severity = use_state(|| None::<Severity>);
    let category = use_state(|| None::<Category>);
    let on_severity = {
        let severity = severity.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            severity.set(chosen(&select.value(), Severity::parse));
        })
    };
    let on_category = {
        let category = category.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            category.set(chosen(&select.value(), Category::parse));
        })
    };
    let shown: Vec<&ErrorGroup> = props
        .groups
        .iter()
        .filter(|g| severity.is_none_or(|s| g.sample.severity == s))
        .filter(|g| category.is_none_or(|c| g.sample.category == c))
        .collect();
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
            </div>
            <p class="meta" role="status">{ format!("{} of {} error groups", shown.len(), props.groups.len()) }</p>
            if props.groups.is_empty() {
                <p class="meta">{ "No errors recorded." }</p>
            } else if !shown.is_empty() {
                <table class="errors" aria-label="Errors">
                    <thead><tr><th>{ "Severity" }</th><th>{ "Category" }</th><th>{ "Error" }</th><th>{ "Where" }</th>
                        <th>{ "Count" }</th><th>{ "First seen" }</th><th>{ "Last seen" }</th></tr></thead>
                    <tbody>
                    { for shown.iter().map(|g| {
                        let context = g.sample.context.iter()
                            .map(|(k, v)| format!("{k} = {v}"))
                            .collect::<Vec<_>>()
                            .join("\n");
                        html! {
                            <tr class={classes!("error", g.sample.severity.as_str())}>
                                <td class="severity">{ g.sample.severity.as_str() }</td>
                                <td class="category">{ g.sample.category.as_str() }</td>
                                <td><details><summary>{ format!("{}: {}", g.kind, g.title) }</summary>
                                    <p>{ g.sample.message.clone() }</p>
                                    if !context.is_empty() { <pre class="context">{ context }</pre> }
                                    if let Some(stack) = &g.sample.stack { <pre>{ stack.clone() }</pre> }
                                </details></td>
                                <td>{ g.sample.source.component.clone() }</td>
                                <td>{ g.count }</td>
                                <td>{ format_time(g.first_seen_ms) }</td>
                                <td>{ format_time(g.last_seen_ms) }</td>
                            </tr>
                        }
                    }) }
                    </tbody>
                </table>
            }
        </div>
    }
}
