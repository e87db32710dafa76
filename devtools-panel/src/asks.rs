//! The panel's request log: one row per ask of the time range chosen
//! (`core::telemetry::asks`, read from its spans) — when, the site, what
//! was asked for, the path it took (each provider attempt and its outcome,
//! then where the answer came from), how long reading the page and the
//! whole ask took, and how it ended; "Trace" shows its spans as a
//! waterfall.

use paperclip_core::telemetry::asks::{asks, AskRow, PathStep};
use paperclip_core::telemetry::compare::compare;
use paperclip_core::telemetry::span::{Span, TraceId};
use paperclip_ui::format_time;
use yew::prelude::*;

/// Props: the spans the live port sent.
#[derive(Properties, PartialEq)]
pub struct AsksProps {
    /// The spans of the range chosen.
    pub spans: Vec<Span>,
    /// The range's name.
    pub range: &'static str,
}

/// The most asks listed.
const MAX_ASKS: usize = 1_000;
/// Rows drawn at first, and added by "Show more".
const PAGE: usize = 50;

/// The path an ask took: its provider attempts, waits and breaker
/// decisions, then its answer's source.
fn path(a: &AskRow) -> String {
    let mut steps: Vec<String> = a
        .steps
        .iter()
        .map(|s| match s {
            PathStep::Attempt(t) => format!("{}: {} ({:.0} ms)", t.provider, t.outcome, t.ms),
            PathStep::Wait { kind, reason, ms } => match reason {
                Some(r) if kind == "retry" => format!("retry after {ms:.0} ms ({r})"),
                _ => format!("{kind} wait {ms:.0} ms"),
            },
            PathStep::Breaker { decision } => format!("breaker: {decision}"),
        })
        .collect();
    if a.cache_hit == Some(true) {
        steps.push("cache: hit".into());
    }
    steps.push(format!("answer: {}", a.level));
    steps.join(" → ")
}

/// The spans of asks `a` and `b` side by side, with the differences.
fn comparison(spans: &[Span], rows: &[AskRow], a: TraceId, b: TraceId) -> Html {
    let of =
        |id: TraceId| -> Vec<Span> { spans.iter().filter(|s| s.trace_id == id).cloned().collect() };
    let when = |id: TraceId| {
        rows.iter()
            .find(|r| r.trace_id == id)
            .map_or_else(String::new, |r| format_time(r.start_ms))
    };
    let deltas = compare(&of(a), &of(b));
    html! {
        <section class="comparison" aria-label="Comparison">
            <h4>{ format!("The ask at {} against the ask at {}", when(a), when(b)) }</h4>
            <table class="comparison" aria-label="Span by span">
                <thead><tr><th>{ "Span" }</th><th>{ "#" }</th><th>{ "First" }</th><th>{ "Second" }</th><th>{ "Difference" }</th></tr></thead>
                <tbody>
                { for deltas.iter().map(|d| html! {
                    <tr>
                        <td class="span-name">{ d.name.clone() }</td>
                        <td>{ d.occurrence + 1 }</td>
                        <td>{ ms_or_dash(d.a_ms) }</td>
                        <td>{ ms_or_dash(d.b_ms) }</td>
                        <td class="delta">{ d.delta_ms().map_or("–".into(), |v| format!("{v:+.0} ms")) }</td>
                    </tr>
                }) }
                </tbody>
            </table>
        </section>
    }
}

fn ms_or_dash(v: Option<f64>) -> String {
    v.map_or("–".into(), |ms| format!("{ms:.0} ms"))
}

/// The request log.
#[function_component(AsksView)]
pub fn asks_view(props: &AsksProps) -> Html {
    let selected = use_state(|| None::<TraceId>);
    // The asks ticked for comparison (two at most: a third replaces the
    // first ticked).
    let compared = use_state(Vec::<TraceId>::new);
    // Rows drawn: a page at first, more on request.
    let limit = use_state(|| PAGE);
    let more = {
        let limit = limit.clone();
        Callback::from(move |_: MouseEvent| limit.set(*limit + PAGE))
    };
    let rows = asks(&props.spans, MAX_ASKS);
    if rows.is_empty() {
        return html! { <p class="meta">{ format!("No asks in this range ({}).", props.range.to_lowercase()) }</p> };
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
                    <th>{ "Queue" }</th><th>{ "First byte / text" }</th><th>{ "Tokens in / out" }</th><th>{ "Cost" }</th>
                    <th>{ "Reading the page" }</th><th>{ "Total" }</th><th>{ "Outcome" }</th><th>{ "Trace" }</th><th>{ "Compare" }</th></tr></thead>
                <tbody>
                { for rows.iter().take(*limit).map(|a| {
                    let id = a.trace_id;
                    let when = format_time(a.start_ms);
                    let onclick = {
                        let selected = selected.clone();
                        Callback::from(move |_| selected.set(Some(id)))
                    };
                    let ticked = compared.contains(&id);
                    let on_compare = {
                        let compared = compared.clone();
                        Callback::from(move |_: Event| {
                            let mut next = (*compared).clone();
                            if let Some(i) = next.iter().position(|t| *t == id) {
                                next.remove(i);
                            } else {
                                next.push(id);
                                if next.len() > 2 {
                                    next.remove(0);
                                }
                            }
                            compared.set(next);
                        })
                    };
                    html! {
                        <tr class={classes!("ask", (*selected == Some(id)).then_some("selected"))}>
                            <td>{ when.clone() }</td>
                            <td class="site">{ a.site.clone().unwrap_or_else(|| "–".into()) }</td>
                            <td>{ a.action.clone() }</td>
                            <td class="path">{ path(a) }</td>
                            <td class="queue">{ ms_or_dash(a.queue_ms) }</td>
                            <td class="first">{ format!("{} / {}", ms_or_dash(a.ttfb_ms), ms_or_dash(a.first_token_ms)) }</td>
                            <td class="tokens">{ match (a.tokens_in, a.tokens_out) {
                                (Some(i), Some(o)) => format!("{i} / {o}"),
                                _ => "–".into(),
                            } }</td>
                            <td class="cost">{ a.cost_usd.map_or("–".into(), |c| format!("${c:.4}")) }</td>
                            <td>{ ms_or_dash(a.context_ms) }</td>
                            <td>{ format!("{:.0} ms", a.ms) }</td>
                            <td class="outcome">{ a.outcome.clone() }</td>
                            <td><button type="button" aria-label={format!("Show the trace of the ask at {when}")} {onclick}>{ "Trace" }</button></td>
                            <td><input type="checkbox" checked={ticked} onchange={on_compare}
                                aria-label={format!("Compare the ask at {when}")} /></td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            if rows.len() > *limit {
                <p><button type="button" onclick={more}>{ format!("Show {} more of {}", (rows.len() - *limit).min(PAGE), rows.len() - *limit) }</button></p>
            }
            if let [a, b] = compared.as_slice() {
                { comparison(&props.spans, &rows, *a, *b) }
            }
            if !trace.is_empty() {
                <h4>{ "Trace of the selected ask" }</h4>
                <div class="ask-trace">{ crate::timeline::waterfall(&trace) }</div>
            }
        </div>
    }
}
