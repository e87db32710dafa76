//! The panel's Timeline tab: the spans of the time range chosen (or an
//! imported Chrome trace file) as bars, filtered by name, zoomed and panned
//! with the buttons, the keys (+, -, ←, →, 0 on the focused timeline) or
//! the mouse wheel and dragging.

use paperclip_core::telemetry::span::{Span, SpanStatus};
use paperclip_core::telemetry::trace_import::{self, pan, zoom, TraceBar, MAX_TRACE_BYTES};
use yew::prelude::*;

/// Where the name filter is kept.
const FILTER_KEY: &str = "paperclip.panel.timeline_filter";

/// Where the component chosen is kept.
const COMPONENT_KEY: &str = "paperclip.panel.timeline_component";

/// A span's component: its name up to the first dot (`provider` for
/// `provider.request`).
fn component_of(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// The most bars drawn at once.
const MAX_BARS: usize = 300;

/// One bar to draw, in ms on its own clock.
#[derive(Clone, PartialEq)]
struct Bar {
    name: String,
    start_ms: f64,
    ms: f64,
    failed: bool,
}

fn from_spans(spans: &[Span]) -> Vec<Bar> {
    spans
        .iter()
        .map(|s| Bar {
            name: s.name.clone(),
            start_ms: s.start_ns as f64 / 1e6,
            ms: s.duration_ns() as f64 / 1e6,
            failed: matches!(s.status, SpanStatus::Error { .. }),
        })
        .collect()
}

fn from_trace(bars: &[TraceBar]) -> Vec<Bar> {
    bars.iter()
        .map(|b| Bar {
            name: b.name.clone(),
            start_ms: b.start_us / 1e3,
            ms: b.dur_us / 1e3,
            failed: b.failed,
        })
        .collect()
}

/// Props: the live spans.
#[derive(Properties, PartialEq)]
pub struct TimelineProps {
    /// The spans of the time range chosen.
    pub spans: Vec<Span>,
}

/// The timeline with its controls.
#[function_component(TimelineView)]
pub fn timeline_view(props: &TimelineProps) -> Html {
    let window = use_state(|| (0.0f64, 1.0f64));
    let filter = use_state(|| crate::saved::get(FILTER_KEY).unwrap_or_default());
    let component = use_state(|| crate::saved::get(COMPONENT_KEY).unwrap_or_default());
    let imported = use_state(|| None::<(String, Vec<TraceBar>)>);
    let message = use_state(|| None::<Result<String, String>>);
    let drag = use_mut_ref(|| None::<f64>);
    let bars = match &*imported {
        Some((_, bars)) => from_trace(bars),
        None => from_spans(&props.spans),
    };
    let start = bars
        .iter()
        .map(|b| b.start_ms)
        .fold(f64::INFINITY, f64::min);
    let end = bars
        .iter()
        .map(|b| b.start_ms + b.ms)
        .fold(f64::NEG_INFINITY, f64::max);
    let whole = (end - start).max(1e-3);
    let (lo, hi) = *window;
    let (from, to) = (start + lo * whole, start + hi * whole);
    let needle = filter.to_lowercase();
    let mut components: Vec<&str> = bars.iter().map(|b| component_of(&b.name)).collect();
    components.sort_unstable();
    components.dedup();
    // A component kept from before that has no spans now: all of them.
    let active = if components.contains(&component.as_str()) {
        component.as_str()
    } else {
        ""
    };
    let matching: Vec<&Bar> = bars
        .iter()
        .filter(|b| needle.is_empty() || b.name.to_lowercase().contains(&needle))
        .filter(|b| active.is_empty() || component_of(&b.name) == active)
        .collect();
    let on_component = {
        let component = component.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            crate::saved::set(COMPONENT_KEY, &select.value());
            component.set(select.value());
        })
    };
    // A note's range as the window's shares of the whole.
    let on_zoom = {
        let window = window.clone();
        Callback::from(move |(a, b): (f64, f64)| {
            let lo = ((a - start) / whole).clamp(0.0, 1.0);
            let hi = ((b - start) / whole).clamp(0.0, 1.0);
            window.set(if hi - lo > 1e-9 {
                (lo, hi)
            } else {
                zoom((lo, lo), 1.0)
            });
        })
    };
    let shown: Vec<&&Bar> = matching
        .iter()
        .filter(|b| b.start_ms <= to && b.start_ms + b.ms >= from)
        .take(MAX_BARS)
        .collect();
    let set = |w: (f64, f64)| {
        let window = window.clone();
        move |_| window.set(w)
    };
    let on_key = {
        let window = window.clone();
        Callback::from(move |e: KeyboardEvent| {
            let w = *window;
            let next = match e.key().as_str() {
                "+" | "=" => zoom(w, 0.5),
                "-" | "_" => zoom(w, 2.0),
                "ArrowLeft" => pan(w, -(w.1 - w.0) / 10.0),
                "ArrowRight" => pan(w, (w.1 - w.0) / 10.0),
                "0" => (0.0, 1.0),
                _ => return,
            };
            e.prevent_default();
            window.set(next);
        })
    };
    let on_wheel = {
        let window = window.clone();
        Callback::from(move |e: WheelEvent| {
            e.prevent_default();
            window.set(zoom(*window, if e.delta_y() < 0.0 { 0.8 } else { 1.25 }));
        })
    };
    let on_down = {
        let drag = drag.clone();
        Callback::from(move |e: MouseEvent| *drag.borrow_mut() = Some(f64::from(e.client_x())))
    };
    let on_up = {
        let (drag, window) = (drag.clone(), window.clone());
        Callback::from(move |e: MouseEvent| {
            let Some(x0) = drag.borrow_mut().take() else {
                return;
            };
            let width = e
                .target_dyn_into::<web_sys::Element>()
                .and_then(|t| t.closest("ol.timeline").ok().flatten())
                .map_or(0.0, |el| f64::from(el.client_width()));
            if width > 0.0 {
                let w = *window;
                // Dragging right brings earlier spans in.
                window.set(pan(
                    w,
                    -(f64::from(e.client_x()) - x0) / width * (w.1 - w.0),
                ));
            }
        })
    };
    let on_filter = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let text = input.value().trim().to_string();
            crate::saved::set(FILTER_KEY, &text);
            filter.set(text);
        })
    };
    let on_file = {
        let (imported, message, window) = (imported.clone(), message.clone(), window.clone());
        Callback::from(move |e: Event| {
            let Some(file) = paperclip_ui::take_chosen_file(&e) else {
                return;
            };
            let (imported, message, window) = (imported.clone(), message.clone(), window.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let name = file.name();
                let read = paperclip_ui::read_text_within(file, MAX_TRACE_BYTES)
                    .await
                    .and_then(|text| {
                        trace_import::parse(&text).map_err(|e| format!("{name}: {e}"))
                    });
                match read {
                    Ok(bars) => {
                        message.set(Some(Ok(format!("Showing {name}: {} spans.", bars.len()))));
                        imported.set(Some((name, bars)));
                        window.set((0.0, 1.0));
                    }
                    // The timeline shown stays as it was.
                    Err(e) => message.set(Some(Err(e))),
                }
            });
        })
    };
    let back_to_live = {
        let (imported, message, window) = (imported.clone(), message.clone(), window.clone());
        Callback::from(move |_| {
            imported.set(None);
            message.set(None);
            window.set((0.0, 1.0));
        })
    };
    let span = (to - from).max(1e-3);
    html! {
        <div class="timeline-view">
            <div class="filters">
                <input type="search" aria-label="Filter spans by name" placeholder="span name" value={(*filter).clone()} oninput={on_filter} />
                <select aria-label="Component" onchange={on_component}>
                    <option value="" selected={active.is_empty()}>{ "All components" }</option>
                    { for components.iter().map(|c| html! {
                        <option value={c.to_string()} selected={*c == active}>{ c.to_string() }</option>
                    }) }
                </select>
                <button type="button" onclick={set(zoom(*window, 0.5))}>{ "Zoom in" }</button>
                <button type="button" onclick={set(zoom(*window, 2.0))}>{ "Zoom out" }</button>
                <button type="button" onclick={set((0.0, 1.0))}>{ "Show all" }</button>
                <label for="trace-file">{ "Import a Chrome trace" }</label>
                <input id="trace-file" type="file" accept=".json,application/json" onchange={on_file} />
                if imported.is_some() {
                    <button type="button" onclick={back_to_live}>{ "Back to the live spans" }</button>
                }
            </div>
            { paperclip_ui::status_line(&message) }
            if imported.is_none() && !bars.is_empty() {
                <crate::notes::NotesBar from_ms={from} to_ms={to} {on_zoom} />
            }
            <p class="meta" role="status">{ format!("{} of {} spans shown · {:.1} ms from {:.1} ms",
                shown.len(), matching.len(), to - from, from - start) }</p>
            if bars.is_empty() {
                <p class="meta">{ "No spans yet: ask Clippy something." }</p>
            } else {
                <ol class="timeline" aria-label="Spans" tabindex="0" onkeydown={on_key} onwheel={on_wheel}
                    onmousedown={on_down} onmouseup={on_up}>
                    { for shown.iter().map(|b| {
                        let left = ((b.start_ms - from) / span * 100.0).max(0.0);
                        let right = ((b.start_ms + b.ms - from) / span * 100.0).min(100.0);
                        let w = (right - left).max(0.3);
                        html! {
                            <li class={classes!("span", b.failed.then_some("failed"))}>
                                <span class="name">{ format!("{} · {:.1} ms", b.name, b.ms) }</span>
                                <span class="bar" style={format!("margin-left: {left:.2}%; width: {w:.2}%")}></span>
                            </li>
                        }
                    }) }
                </ol>
            }
        </div>
    }
}

/// The timeline: one row per span, placed by start and length in the
/// window it shares with the others.
pub(crate) fn waterfall(spans: &[Span]) -> Html {
    let Some(start) = spans.iter().map(|s| s.start_ns).min() else {
        return html! { <p class="meta">{ "No spans yet: ask Clippy something." }</p> };
    };
    let end = spans
        .iter()
        .map(|s| s.end_ns)
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let width = (end - start) as f64;
    html! {
        <ol class="timeline" aria-label="Spans">
            { for spans.iter().rev().take(60).map(|s| {
                let left = (s.start_ns - start) as f64 / width * 100.0;
                let w = (s.duration_ns() as f64 / width * 100.0).max(0.3);
                let failed = matches!(s.status, paperclip_core::telemetry::span::SpanStatus::Error { .. });
                html! {
                    <li class={classes!("span", failed.then_some("failed"))}>
                        <span class="name">{ format!("{} · {:.1} ms", s.name, s.duration_ns() as f64 / 1e6) }</span>
                        <span class="bar" style={format!("margin-left: {left:.2}%; width: {w:.2}%")}></span>
                    </li>
                }
            }) }
        </ol>
    }
}
