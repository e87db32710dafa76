//! The panel's request log: one row per ask of the last ten minutes
//! (`core::telemetry::asks`, read from its spans) — when, the site, what
//! was asked for, the path it took (each provider attempt and its outcome,
//! then where the answer came from), how long reading the page and the
//! whole ask took, and how it ended; "Trace" shows its spans as a
//! waterfall.

use paperclip_core::telemetry::asks::{asks, AskRow};
use paperclip_core::telemetry::span::{Span, TraceId};
use paperclip_ui::format_time;
use yew::prelude::*;

/// Props: the spans the live port sent.
#[derive(Properties, PartialEq)]
pub struct AsksProps {
    /// The spans (the last ten minutes).
    pub spans: Vec<Span>,
}

/// The path an ask took: its provider attempts, then its answer's source.
fn path(a: &AskRow) -> String {
    let mut steps: Vec<String> = a
        .attempts
        .iter()
        .map(|t| format!("{}: {} ({:.0} ms)", t.provider, t.outcome, t.ms))
        .collect();
    if a.cache_hit == Some(true) {
        steps.push("cache: hit".into());
    }
    steps.push(format!("answer: {}", a.level));
    steps.join(" → ")
}

/// The request log.
#[function_component(AsksView)]
pub fn asks_view(props: &AsksProps) -> Html {
    let selected = use_state(|| None::<TraceId>);
    let rows = asks(&props.spans, 50);
    if rows.is_empty() {
        return html! { <p class="meta">{ "No asks in the last ten minutes." }</p> };
    }
    let trace: Vec<Span> = match *selected {
        Some(id) => props
            .spans
            .iter()
            .filter(|s| s.trace_id == id)
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    html! {
        <div class="asks">
            <table class="asks" aria-label="Asks">
                <thead><tr><th>{ "Time" }</th><th>{ "Site" }</th><th>{ "Action" }</th><th>{ "Path" }</th>
                    <th>{ "Reading the page" }</th><th>{ "Total" }</th><th>{ "Outcome" }</th><th>{ "Trace" }</th></tr></thead>
                <tbody>
                { for rows.iter().map(|a| {
                    let id = a.trace_id;
                    let when = format_time(a.start_ms);
                    let onclick = {
                        let selected = selected.clone();
                        Callback::from(move |_| selected.set(Some(id)))
                    };
                    html! {
                        <tr class={classes!("ask", (*selected == Some(id)).then_some("selected"))}>
                            <td>{ when.clone() }</td>
                            <td class="site">{ a.site.clone().unwrap_or_else(|| "–".into()) }</td>
                            <td>{ a.action.clone() }</td>
                            <td class="path">{ path(a) }</td>
                            <td>{ a.context_ms.map_or("–".into(), |ms| format!("{ms:.0} ms")) }</td>
                            <td>{ format!("{:.0} ms", a.ms) }</td>
                            <td class="outcome">{ a.outcome.clone() }</td>
                            <td><button type="button" aria-label={format!("Show the trace of the ask at {when}")} {onclick}>{ "Trace" }</button></td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            if !trace.is_empty() {
                <h4>{ "Trace of the selected ask" }</h4>
                <div class="ask-trace">{ crate::timeline::waterfall(&trace) }</div>
            }
        </div>
    }
}
