//! The panel's telemetry dashboard: [`TelemetrySection`] subscribes to the
//! background's live port ([`TELEMETRY_PORT`], an update a second) and
//! shows health, metrics with their percentiles, grouped errors and a
//! timeline of the last ten minutes' spans, with a Chrome-trace download
//! (it opens in Perfetto).

use paperclip_core::protocol::{QueryTelemetry, TelemetryUpdate, TELEMETRY_PORT};
use paperclip_core::telemetry::health::Status;
use paperclip_core::telemetry::metrics::SnapshotValue;
use paperclip_core::telemetry::panel::{PanelAnswer, PanelQuery};
use paperclip_platform as platform;
use paperclip_ui::format_time;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Healthy => "healthy",
        Status::Degraded => "degraded",
        Status::Down => "down",
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}"))
}

fn download_trace() {
    wasm_bindgen_futures::spawn_local(async {
        let now_ns = (paperclip_platform::clock::now_ms() * 1e6) as u64;
        let query = PanelQuery::ChromeTrace {
            from_ns: now_ns.saturating_sub(3_600_000_000_000),
            to_ns: now_ns + 1_000_000_000,
        };
        match platform::call(QueryTelemetry { query }).await {
            Ok(answer) => {
                if let PanelAnswer::ChromeTrace(trace) = answer.answer {
                    let _ =
                        paperclip_ui::download("paperclip-trace.json", &trace, "application/json");
                }
            }
            Err(e) => web_sys::console::error_1(&e.message.into()),
        }
    });
}

/// Which part of the live telemetry a tab shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum View {
    /// The request log.
    Asks,
    /// Metrics, funnels and the export state.
    Dashboard,
    /// The error groups.
    Errors,
    /// The spans.
    Timeline,
}

/// Props: the part to show.
#[derive(Properties, PartialEq)]
pub struct TelemetryProps {
    /// The part.
    pub view: View,
}

/// Live telemetry: the health line, then the part the tab shows.
#[function_component(TelemetrySection)]
pub fn telemetry_section(props: &TelemetryProps) -> Html {
    let metric_filter = use_state(String::new);
    let update = use_state(|| None::<TelemetryUpdate>);
    {
        let update = update.setter();
        use_effect_with((), move |_| {
            let port = platform::connect_port(TELEMETRY_PORT);
            let on_message = Closure::<dyn Fn(JsValue)>::new(move |m: JsValue| {
                if let Ok(u) = platform::decode_js::<TelemetryUpdate>(&m) {
                    update.set(Some(u));
                }
            });
            platform::listen(&port.on_message(), on_message);
            move || port.disconnect()
        });
    }
    let Some(u) = &*update else {
        return html! { <section class="telemetry" aria-label="Telemetry"><p aria-busy="true">{ "Connecting to telemetry…" }</p></section> };
    };
    let mut metrics = Vec::new();
    let mut health = None;
    let mut errors = Vec::new();
    let mut spans = Vec::new();
    let mut export = None;
    let mut funnels = Vec::new();
    let TelemetryUpdate::Update { answers, .. } = u;
    for answer in answers {
        match answer {
            PanelAnswer::Metrics(m) => metrics = m.clone(),
            PanelAnswer::Health(h) => health = Some(h.clone()),
            PanelAnswer::Errors(e) => errors = e.clone(),
            PanelAnswer::Spans(s) => spans = s.clone(),
            PanelAnswer::Export(e) => export = Some(e.clone()),
            PanelAnswer::Funnels(f) => funnels = f.clone(),
            _ => {}
        }
    }
    let on_metric_filter = {
        let metric_filter = metric_filter.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            metric_filter.set(input.value().trim().to_lowercase());
        })
    };
    // A metric series shows when its name or one of its labels contains
    // the filter's text.
    let wanted = |name: &str, labels: &str| {
        metric_filter.is_empty()
            || name.to_lowercase().contains(&*metric_filter)
            || labels.to_lowercase().contains(&*metric_filter)
    };
    let view = props.view;
    html! {
        <section class="telemetry" aria-label="Telemetry">
            if let Some(h) = &health {
                <p class={classes!("health", status_name(h.overall.status))} role="status">
                    { format!("Overall: {}", status_name(h.overall.status)) }
                    { for h.components.iter().map(|(name, c)| html! {
                        <span class={classes!("component", status_name(c.status))}>
                            { format!(" · {name}: {} since {}{}", status_name(c.status), format_time(c.since_ms),
                                if c.message.is_empty() { String::new() } else { format!(" ({})", c.message) }) }
                        </span>
                    }) }
                </p>
            }
            if view == View::Asks {
                <h2>{ "Asks" }</h2>
                <crate::asks::AsksView spans={spans.clone()} />
            }
            if view == View::Dashboard {
            if let Some(e) = &export {
                <p class="meta">{ format!("Remote export: {} · {} batches queued", if e.enabled { "on" } else { "off" }, e.queued_batches) }</p>
            }
            <h2>{ "Metrics" }</h2>
            <input type="search" aria-label="Filter metrics by name or label" placeholder="name or label" oninput={on_metric_filter} />
            <table class="metrics" aria-label="Metrics">
                <thead><tr><th>{ "Name" }</th><th>{ "Labels" }</th><th>{ "Count / value" }</th>
                    <th>{ "p50" }</th><th>{ "p90" }</th><th>{ "p95" }</th><th>{ "p99" }</th></tr></thead>
                <tbody>
                { for metrics.iter().flat_map(|m| m.series.iter().map(move |s| (m, s))).filter_map(|(m, s)| {
                    let labels = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                    if !wanted(&m.descriptor.name, &labels) {
                        return None;
                    }
                    let (value, p) = match &s.value {
                        SnapshotValue::Counter(n) => (n.to_string(), None),
                        SnapshotValue::UpDownCounter(n) => (n.to_string(), None),
                        SnapshotValue::Gauge(v) => (ms(*v), None),
                        SnapshotValue::Histogram(h) => (h.count.to_string(), Some(*h)),
                    };
                    Some(html! {
                        <tr class="metric">
                            <td>{ m.descriptor.name.clone() }</td>
                            <td>{ labels }</td>
                            <td>{ value }</td>
                            <td>{ p.as_ref().map_or("".into(), |h| ms(h.p50)) }</td>
                            <td>{ p.as_ref().map_or("".into(), |h| ms(h.p90)) }</td>
                            <td>{ p.as_ref().map_or("".into(), |h| ms(h.p95)) }</td>
                            <td>{ p.as_ref().map_or("".into(), |h| ms(h.p99)) }</td>
                        </tr>
                    })
                }) }
                </tbody>
            </table>
            <h2>{ "Funnels" }</h2>
            <table class="funnels" aria-label="Funnels">
                <thead><tr><th>{ "Funnel" }</th><th>{ "Step" }</th><th>{ "Count" }</th><th>{ "From the start" }</th></tr></thead>
                <tbody>
                { for funnels.iter().flat_map(|f| f.steps.iter().map(move |st| (f, st))).map(|(f, st)| html! {
                    <tr>
                        <td>{ f.name.clone() }</td>
                        <td>{ st.name.clone() }</td>
                        <td>{ st.count }</td>
                        <td>{ st.from_start.map_or("–".into(), |r| format!("{:.0}%", r * 100.0)) }</td>
                    </tr>
                }) }
                </tbody>
            </table>
            }
            if view == View::Errors {
                <h2>{ "Errors" }</h2>
                <crate::errors::ErrorsView groups={errors} />
            }
            if view == View::Timeline {
                <h2>{ "Timeline (last ten minutes)" }</h2>
                <button onclick={Callback::from(|_| download_trace())}>{ "Download Chrome trace (Perfetto)" }</button>
                <crate::timeline::TimelineView spans={spans.clone()} />
            }
        </section>
    }
}
