//! The panel's telemetry dashboard: [`TelemetrySection`] subscribes to the
//! background's live port ([`TELEMETRY_PORT`], an update a second) and
//! shows health, metrics with their percentiles, grouped errors and a
//! timeline of the spans of a time range (the live port's last ten minutes, or up
//! to seven days read back with the stored rows), with a Chrome-trace download
//! (it opens in Perfetto).

use paperclip_core::protocol::{QueryTelemetry, TelemetryAnswer, TelemetryUpdate, TELEMETRY_PORT};
use paperclip_core::telemetry::bundle::SessionBundle;
use paperclip_core::telemetry::health::Status;
use paperclip_core::telemetry::panel::{PanelAnswer, PanelQuery};
use paperclip_core::telemetry::span::Span;
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

fn download_trace(range: Range) {
    wasm_bindgen_futures::spawn_local(async move {
        let now_ns = (paperclip_platform::clock::now_ms() * 1e6) as u64;
        let query = PanelQuery::ChromeTrace {
            from_ns: now_ns.saturating_sub((range.ms() * 1e6) as u64),
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

/// How far back the Asks and Timeline tabs look: the live port's last ten
/// minutes, or a longer range read from the background (the engine's spans
/// and the stored rows of earlier worker instances together).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Range {
    /// The live port's last ten minutes.
    Live,
    /// The last hour.
    Hour,
    /// The last 24 hours.
    Day,
    /// The last seven days (what the store keeps).
    Week,
}

impl Range {
    const ALL: [Range; 4] = [Range::Live, Range::Hour, Range::Day, Range::Week];

    fn key(self) -> &'static str {
        match self {
            Range::Live => "live",
            Range::Hour => "hour",
            Range::Day => "day",
            Range::Week => "week",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Range::Live => "Last ten minutes (live)",
            Range::Hour => "Last hour",
            Range::Day => "Last 24 hours",
            Range::Week => "Last 7 days",
        }
    }

    fn ms(self) -> f64 {
        match self {
            Range::Live => 600_000.0,
            Range::Hour => 3_600_000.0,
            Range::Day => 86_400_000.0,
            Range::Week => 7.0 * 86_400_000.0,
        }
    }
}

/// How many spans of a range the panel keeps (the newest), and where the
/// choice is kept.
const KEEP: [usize; 3] = [300, 1_000, 5_000];
const KEEP_KEY: &str = "paperclip.panel.keep";
/// Where the chosen range is kept.
const RANGE_KEY: &str = "paperclip.panel.range";
/// The most spans a range holds in the panel.
const RANGE_SPANS: u32 = 5_000;

/// The spans of `range` (not the live one), live and stored.
async fn spans_of(range: Range) -> Result<Vec<Span>, String> {
    let now_ns = (paperclip_platform::clock::now_ms() * 1e6) as u64;
    let query = PanelQuery::Spans {
        from_ns: now_ns.saturating_sub((range.ms() * 1e6) as u64),
        to_ns: now_ns + 1_000_000_000,
        limit: RANGE_SPANS,
    };
    match platform::call(QueryTelemetry { query }).await {
        Ok(TelemetryAnswer {
            answer: PanelAnswer::Spans(spans),
        }) => Ok(spans),
        Ok(_) => Err("The background answered another question.".into()),
        Err(e) => Err(e.message),
    }
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
    let range = use_state(|| {
        let saved = crate::saved::get(RANGE_KEY);
        Range::ALL
            .into_iter()
            .find(|r| Some(r.key()) == saved.as_deref())
            .unwrap_or(Range::Live)
    });
    let reload = use_state(|| 0u32);
    let open_bundle = use_state(|| None::<std::rc::Rc<SessionBundle>>);
    let stored = use_state(|| None::<Result<Vec<Span>, String>>);
    {
        let stored = stored.clone();
        use_effect_with((*range, *reload), move |(range, _)| {
            stored.set(None);
            if *range != Range::Live {
                let range = *range;
                wasm_bindgen_futures::spawn_local(async move {
                    stored.set(Some(spans_of(range).await));
                });
            }
        });
    }
    let update = use_state(|| None::<TelemetryUpdate>);
    // Paused: updates from the port are dropped until "Resume".
    let paused = use_state(|| false);
    let paused_now = use_mut_ref(|| false);
    let keep = use_state(|| {
        crate::saved::get(KEEP_KEY)
            .and_then(|k| k.parse().ok())
            .filter(|k| KEEP.contains(k))
            .unwrap_or(KEEP[1])
    });
    {
        let update = update.setter();
        let paused_now = paused_now.clone();
        use_effect_with((), move |_| {
            let port = platform::connect_port(TELEMETRY_PORT);
            let on_message = Closure::<dyn Fn(JsValue)>::new(move |m: JsValue| {
                if *paused_now.borrow() {
                    return;
                }
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
    // A session bundle opened replaces what the live port sent.
    let read_only = open_bundle.is_some();
    if let Some(b) = &*open_bundle {
        metrics = b.metrics.clone();
        health = b.health.clone();
        errors = b.errors.clone();
        spans = b.spans.clone();
        export = None;
        funnels = Vec::new();
    }
    let on_open = {
        let open_bundle = open_bundle.clone();
        Callback::from(move |b| open_bundle.set(b))
    };
    let view = props.view;
    let on_range = {
        let range = range.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            if let Some(r) = Range::ALL.into_iter().find(|r| r.key() == select.value()) {
                crate::saved::set(RANGE_KEY, r.key());
                range.set(r);
            }
        })
    };
    let on_reload = {
        let reload = reload.clone();
        Callback::from(move |_: MouseEvent| reload.set(*reload + 1))
    };
    let on_pause = {
        let (paused, paused_now) = (paused.clone(), paused_now.clone());
        Callback::from(move |_: MouseEvent| {
            let next = !*paused;
            *paused_now.borrow_mut() = next;
            paused.set(next);
        })
    };
    let on_keep = {
        let keep = keep.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            if let Ok(n) = select.value().parse::<usize>() {
                crate::saved::set(KEEP_KEY, &n.to_string());
                keep.set(n);
            }
        })
    };
    let keep_select = html! {
        <label>{ " Keep the last " }
            <select aria-label="Spans kept" onchange={on_keep}>
                { for KEEP.into_iter().map(|n| html! {
                    <option value={n.to_string()} selected={n == *keep}>{ format!("{n} spans") }</option>
                }) }
            </select>
        </label>
    };
    let range_bar = html! {
        <p class="range">
            <label>{ "Time range " }
                <select aria-label="Time range" onchange={on_range}>
                    { for Range::ALL.into_iter().map(|r| html! {
                        <option value={r.key()} selected={r == *range}>{ r.name() }</option>
                    }) }
                </select>
            </label>
            { keep_select.clone() }
            if *range != Range::Live {
                { " " }<button type="button" onclick={on_reload}>{ "Reload" }</button>
            } else {
                { " " }<button type="button" onclick={on_pause} aria-pressed={paused.to_string()}>
                    { if *paused { "Resume live updates" } else { "Pause live updates" } }</button>
                if *paused { <span class="meta" role="status">{ " Paused: what is shown stays as it was." }</span> }
            }
        </p>
    };
    // A bundle has its own range.
    let range_bar = if read_only {
        html! { <p class="range">{ keep_select }</p> }
    } else {
        range_bar
    };
    // The spans the Asks and Timeline tabs show.
    let shown: Result<Vec<Span>, Html> = match (*range, &*stored) {
        _ if read_only => Ok(spans[spans.len().saturating_sub(*keep)..].to_vec()),
        (Range::Live, _) => Ok(spans.clone()),
        (_, Some(Ok(s))) => Ok(s[s.len().saturating_sub(*keep)..].to_vec()),
        (_, Some(Err(e))) => Err(html! { <p class="error" role="alert">{ e.clone() }</p> }),
        (_, None) => Err(html! { <p aria-busy="true">{ "Loading…" }</p> }),
    };
    let with_spans = |f: &dyn Fn(Vec<Span>) -> Html| match &shown {
        Ok(s) => f(s.clone()),
        Err(h) => h.clone(),
    };
    html! {
        <section class="telemetry" aria-label="Telemetry">
            <crate::bundle::BundleBar range_ms={range.ms()} open={(*open_bundle).clone()} {on_open} />
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
                { range_bar.clone() }
                { with_spans(&|spans| html! { <crate::asks::AsksView {spans} range={range.name()} /> }) }
            }
            if view == View::Dashboard {
                <crate::dashboard::DashboardView metrics={metrics.clone()} funnels={funnels.clone()} export={export.clone()} />
            }
            if view == View::Errors {
                <h2>{ "Errors" }</h2>
                <crate::errors::ErrorsView groups={errors} {read_only} />
            }
            if view == View::Timeline {
                <h2>{ "Timeline" }</h2>
                { range_bar.clone() }
                <button onclick={{ let r = *range; Callback::from(move |_| download_trace(r)) }}>{ "Download Chrome trace (Perfetto)" }</button>
                { with_spans(&|spans| html! { <crate::timeline::TimelineView {spans} /> }) }
            }
        </section>
    }
}
