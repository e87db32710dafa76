//! The panel's Dashboard tab: a small chart per instrument over time
//! (`core::telemetry::chart`: counters as a rate, histograms as their
//! p50/p95/p99 band), the metrics table with percentiles, filtered by
//! name or label, and custom views — a chosen set of instruments, pinned
//! on their charts, saved under a name and chosen again later (kept in
//! `localStorage` with the filter) — then the funnels.

use std::collections::BTreeSet;

use paperclip_core::telemetry::chart::chart;
use paperclip_core::telemetry::funnel::FunnelReport;
use paperclip_core::telemetry::metrics::{InstrumentSnapshot, SnapshotValue};
use paperclip_core::telemetry::panel::ExportStatus;
use yew::prelude::*;

use crate::saved;

/// Where the filter, the views and the view chosen are kept.
const FILTER_KEY: &str = "paperclip.panel.metric_filter";
const VIEWS_KEY: &str = "paperclip.panel.views";
const VIEW_KEY: &str = "paperclip.panel.view";
/// The most views kept, and the longest name.
const MAX_VIEWS: usize = 50;
const MAX_VIEW_NAME: usize = 60;

/// Saved views: each name with its instruments.
type Views = Vec<(String, BTreeSet<String>)>;

fn saved_views() -> Views {
    saved::get(VIEWS_KEY)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn save_views(views: &Views) {
    if let Ok(text) = serde_json::to_string(views) {
        saved::set(VIEWS_KEY, &text);
    }
}

fn value(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}"))
}

/// Props: what the live port (or a bundle) holds.
#[derive(Properties, PartialEq)]
pub struct DashboardProps {
    /// Every instrument.
    pub metrics: Vec<InstrumentSnapshot>,
    /// The funnels.
    pub funnels: Vec<FunnelReport>,
    /// The export state.
    pub export: Option<ExportStatus>,
}

fn svg(m: &InstrumentSnapshot) -> Html {
    let Some(c) = chart(m) else {
        return html! { <p class="meta">{ "Not enough points yet." }</p> };
    };
    let label = format!(
        "{} over {:.0} s, top {:.1}: {}",
        m.descriptor.name,
        (c.to_ms - c.from_ms) / 1000.0,
        c.max,
        c.last
            .iter()
            .map(|(n, v)| format!("{n} {v:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    html! {
        <svg class="chart" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label={label}>
            { for c.lines.iter().map(|l| {
                let points = l.points.iter()
                    .map(|(x, y)| format!("{:.2},{:.2}", x * 100.0, 29.0 - y * 28.0))
                    .collect::<Vec<_>>()
                    .join(" ");
                html! { <polyline class={classes!("line", l.name.replace(' ', "-"))} {points} /> }
            }) }
        </svg>
    }
}

/// The Dashboard tab.
#[function_component(DashboardView)]
pub fn dashboard_view(props: &DashboardProps) -> Html {
    let filter = use_state(|| saved::get(FILTER_KEY).unwrap_or_default());
    let views = use_state(saved_views);
    let view = use_state(|| saved::get(VIEW_KEY).unwrap_or_default());
    let pinned = use_state(BTreeSet::<String>::new);
    let name = use_state(String::new);
    let message = use_state(|| None::<Result<String, String>>);
    let chosen: Option<BTreeSet<String>> = views
        .iter()
        .find(|(n, _)| *n == *view)
        .map(|(_, set)| set.clone());
    let needle = filter.to_lowercase();
    let wanted = |metric: &str, labels: &str| {
        chosen.as_ref().is_none_or(|set| set.contains(metric))
            && (needle.is_empty()
                || metric.to_lowercase().contains(&needle)
                || labels.to_lowercase().contains(&needle))
    };
    let on_filter = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let text = input.value().trim().to_lowercase();
            saved::set(FILTER_KEY, &text);
            filter.set(text);
        })
    };
    let on_view = {
        let view = view.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            saved::set(VIEW_KEY, &select.value());
            view.set(select.value());
        })
    };
    let on_name = {
        let name = name.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            name.set(input.value());
        })
    };
    let save = {
        let (views, view, pinned, name, message) = (
            views.clone(),
            view.clone(),
            pinned.clone(),
            name.clone(),
            message.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let n = name.trim().to_string();
            let refused = if n.is_empty() {
                Some("Name the view first.".to_string())
            } else if n.chars().count() > MAX_VIEW_NAME {
                Some(format!(
                    "A view's name is at most {MAX_VIEW_NAME} characters."
                ))
            } else if pinned.is_empty() {
                Some("Pin at least one chart for the view.".into())
            } else if views.len() >= MAX_VIEWS && !views.iter().any(|(v, _)| *v == n) {
                Some(format!(
                    "At most {MAX_VIEWS} views are kept; delete one first."
                ))
            } else {
                None
            };
            if let Some(why) = refused {
                message.set(Some(Err(why)));
                return;
            }
            let mut next: Views = (*views).clone();
            next.retain(|(v, _)| *v != n);
            next.push((n.clone(), (*pinned).clone()));
            save_views(&next);
            saved::set(VIEW_KEY, &n);
            message.set(Some(Ok(format!(
                "Saved the view {n:?} ({} metrics).",
                pinned.len()
            ))));
            views.set(next);
            view.set(n);
            pinned.set(BTreeSet::new());
        })
    };
    let delete = {
        let (views, view, message) = (views.clone(), view.clone(), message.clone());
        Callback::from(move |_: MouseEvent| {
            let mut next: Views = (*views).clone();
            next.retain(|(v, _)| *v != *view);
            save_views(&next);
            saved::set(VIEW_KEY, "");
            message.set(Some(Ok(format!("Deleted the view {:?}.", *view))));
            views.set(next);
            view.set(String::new());
        })
    };
    let shown: Vec<&InstrumentSnapshot> = props
        .metrics
        .iter()
        .filter(|m| {
            let labels = m
                .series
                .iter()
                .flat_map(|s| s.labels.iter().map(|(k, v)| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(" ");
            wanted(&m.descriptor.name, &labels)
        })
        .collect();
    html! {
        <div class="dashboard">
            if let Some(e) = &props.export {
                <p class="meta">{ format!("Remote export: {} · {} batches queued", if e.enabled { "on" } else { "off" }, e.queued_batches) }</p>
            }
            <h2>{ "Metrics" }</h2>
            <div class="filters">
                <input type="search" aria-label="Filter metrics by name or label" placeholder="name or label" value={(*filter).clone()} oninput={on_filter} />
                <label for="metric-view">{ "View" }</label>
                <select id="metric-view" onchange={on_view}>
                    <option value="" selected={chosen.is_none()}>{ "All metrics" }</option>
                    { for views.iter().map(|(n, _)| html! {
                        <option value={n.clone()} selected={*n == *view}>{ n.clone() }</option>
                    }) }
                </select>
                if chosen.is_some() {
                    <button type="button" onclick={delete}>{ "Delete this view" }</button>
                } else {
                    <input type="text" aria-label="New view's name" placeholder="view name" value={(*name).clone()} oninput={on_name} />
                    <button type="button" onclick={save}>{ format!("Save pinned as a view ({})", pinned.len()) }</button>
                }
            </div>
            { paperclip_ui::status_line(&message) }
            <div class="charts">
            { for shown.iter().map(|m| {
                let metric = m.descriptor.name.clone();
                let is_pinned = pinned.contains(&metric);
                let on_pin = {
                    let (pinned, metric) = (pinned.clone(), metric.clone());
                    Callback::from(move |_: Event| {
                        let mut next = (*pinned).clone();
                        if !next.remove(&metric) {
                            next.insert(metric.clone());
                        }
                        pinned.set(next);
                    })
                };
                html! {
                    <figure class="metric-chart">
                        <figcaption>
                            { format!("{} ({})", metric, m.descriptor.unit) }
                            if chosen.is_none() {
                                <label class="pin">
                                    <input type="checkbox" checked={is_pinned} onchange={on_pin}
                                        aria-label={format!("Pin {metric}")} />{ " pin" }
                                </label>
                            }
                        </figcaption>
                        { svg(m) }
                    </figure>
                }
            }) }
            </div>
            <table class="metrics" aria-label="Metrics">
                <thead><tr><th>{ "Name" }</th><th>{ "Labels" }</th><th>{ "Count / value" }</th>
                    <th>{ "p50" }</th><th>{ "p90" }</th><th>{ "p95" }</th><th>{ "p99" }</th></tr></thead>
                <tbody>
                { for props.metrics.iter().flat_map(|m| m.series.iter().map(move |s| (m, s))).filter_map(|(m, s)| {
                    let labels = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                    if !wanted(&m.descriptor.name, &labels) {
                        return None;
                    }
                    let (shown, p) = match &s.value {
                        SnapshotValue::Counter(n) => (n.to_string(), None),
                        SnapshotValue::UpDownCounter(n) => (n.to_string(), None),
                        SnapshotValue::Gauge(v) => (value(*v), None),
                        SnapshotValue::Histogram(h) => (h.count.to_string(), Some(*h)),
                    };
                    Some(html! {
                        <tr class="metric">
                            <td>{ m.descriptor.name.clone() }</td>
                            <td>{ labels }</td>
                            <td>{ shown }</td>
                            <td>{ p.as_ref().map_or("".into(), |h| value(h.p50)) }</td>
                            <td>{ p.as_ref().map_or("".into(), |h| value(h.p90)) }</td>
                            <td>{ p.as_ref().map_or("".into(), |h| value(h.p95)) }</td>
                            <td>{ p.as_ref().map_or("".into(), |h| value(h.p99)) }</td>
                        </tr>
                    })
                }) }
                </tbody>
            </table>
            <h2>{ "Funnels" }</h2>
            <table class="funnels" aria-label="Funnels">
                <thead><tr><th>{ "Funnel" }</th><th>{ "Step" }</th><th>{ "Count" }</th><th>{ "From the start" }</th></tr></thead>
                <tbody>
                { for props.funnels.iter().flat_map(|f| f.steps.iter().map(move |st| (f, st))).map(|(f, st)| html! {
                    <tr>
                        <td>{ f.name.clone() }</td>
                        <td>{ st.name.clone() }</td>
                        <td>{ st.count }</td>
                        <td>{ st.from_start.map_or("–".into(), |r| format!("{:.0}%", r * 100.0)) }</td>
                    </tr>
                }) }
                </tbody>
            </table>
        </div>
    }
}
