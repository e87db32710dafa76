//! `cargo xtask bench telemetry` (`bench/telemetry.js`).

use super::*;

use paperclip_core::protocol::{
    self, PageRecord, ProtocolError, RecordTelemetry, Reply, Request, Response, Rpc,
    TelemetryRecorded,
};
use paperclip_core::telemetry::metrics::{
    Counter, Histogram, Series, SnapshotValue, CARDINALITY_OVERFLOW, DROPPED,
};
use paperclip_core::telemetry::page_buffer::PageBuffer;
use paperclip_core::telemetry::panel::{PanelAnswer, PanelQuery};
use paperclip_core::telemetry::span::{names, OpenSpan, SpanKind};
use paperclip_core::telemetry::{AttrValue, DropReason, Engine, EngineConfig, Signal};
use paperclip_platform as platform;

/// Longest a record waits in a page, ms (`platform::telemetry::FLUSH_MS`).
const PAGE_FLUSH_MS: f64 = 1_000.0;
/// Records the breakdown makes between two flushes.
const BREAKDOWN_BATCH: usize = 100;
/// Simulated time between two records of the UI cases, ms: a busy page
/// making 100 records a second, so its 1-second timer sends every 100.
const PAGE_RECORD_EVERY_MS: f64 = 10.0;
/// The label sets the labelled cases cycle through (the same in the JS peer).
const PROVIDERS: [&str; 4] = ["openai", "anthropic", "ollama", "gemini"];
/// Drop reasons that mean an item was lost (the others count attributes
/// or labels left out of an item that was kept).
const ITEM_LOSSES: [DropReason; 8] = [
    DropReason::SampledOut,
    DropReason::BufferFull,
    DropReason::Evicted,
    DropReason::InvalidValue,
    DropReason::QueueFull,
    DropReason::Expired,
    DropReason::Rejected,
    DropReason::ExportDisabled,
];

/// A cheap LCG (Numerical Recipes; the JS peer runs the same one) for
/// histogram values: 0.1 ms to 500 ms.
fn next_value(state: &mut u32) -> f64 {
    *state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    f64::from((*state >> 8) % 5_000) / 10.0 + 0.1
}

/// A random number in `[0, 1)` from the same LCG (sampling decisions).
fn next_unit(state: &mut u32) -> f64 {
    *state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    f64::from(*state) / 4_294_967_296.0
}

/// `performance.now()` of this context.
fn perf_now() -> f64 {
    paperclip_platform::clock::monotonic_ms()
}

/// A page's telemetry buffer and the background's side of its batches:
/// what `platform::telemetry` (the same [`PageBuffer`]) and the worker's
/// `RecordTelemetry` handler run, minus `runtime.sendMessage` itself.
struct PagePath {
    source: &'static str,
    buffer: PageBuffer,
    last_flush_ms: f64,
    batches: u64,
    accepted: u64,
    refused: u64,
}

impl PagePath {
    fn new(source: &'static str) -> Self {
        Self {
            source,
            buffer: PageBuffer::default(),
            last_flush_ms: T0_MS as f64,
            batches: 0,
            accepted: 0,
            refused: 0,
        }
    }

    /// `platform::telemetry::count`.
    fn count(&mut self, engine: &mut Engine, name: &str, labels: &[(&str, &str)], now_ms: f64) {
        if self.buffer.count(name, labels, 1) {
            self.flush(engine, now_ms);
        }
    }

    /// `platform::telemetry::timing`.
    fn timing(
        &mut self,
        engine: &mut Engine,
        name: &str,
        labels: &[(&str, &str)],
        ms: f64,
        now_ms: f64,
    ) {
        if self.buffer.timing(name, labels, ms) {
            self.flush(engine, now_ms);
        }
    }

    /// `platform::telemetry::event`.
    fn event(&mut self, engine: &mut Engine, name: &str, props: &[(&str, &str)], now_ms: f64) {
        let due = self.buffer.push(PageRecord::Event {
            name: name.to_string(),
            properties: owned(props),
        });
        if due {
            self.flush(engine, now_ms);
        }
    }

    /// The page's timer: sends what waited [`PAGE_FLUSH_MS`].
    fn timer(&mut self, engine: &mut Engine, now_ms: f64) {
        if !self.buffer.is_empty() && now_ms - self.last_flush_ms >= PAGE_FLUSH_MS {
            self.flush(engine, now_ms);
        }
    }

    /// One round trip per batch: the page builds and encodes the request,
    /// the background decodes it, takes it into the engine and encodes its
    /// reply, the page reads the reply.
    fn flush(&mut self, engine: &mut Engine, now_ms: f64) {
        self.last_flush_ms = now_ms;
        for batch in self.buffer.take(self.source) {
            let sent = batch.records.len() as u64;
            // The page (`platform::call`).
            let message = platform::to_js(&batch.to_wire());
            // The background (`on_message`).
            let reply: Reply<Response> = match platform::decode_js::<Request>(&message) {
                Ok(Request::RecordTelemetry(batch)) => {
                    Reply::Ok(engine.accept_page(&batch, now_ms, 0.5).into())
                }
                Ok(other) => Reply::Err(ProtocolError::failed(format!(
                    "unexpected {}",
                    other.name()
                ))),
                Err(e) => Reply::Err(e),
            };
            let reply = platform::to_js(&protocol::encode(&reply));
            // The page again.
            let done: Result<TelemetryRecorded, ProtocolError> =
                platform::from_js(&reply).and_then(|json| RecordTelemetry::read_reply(&json));
            self.batches += 1;
            match done {
                Ok(done) => {
                    self.accepted += u64::from(done.accepted);
                    self.refused += u64::from(done.dropped);
                }
                Err(_) => self.refused += sent,
            }
        }
    }
}

fn owned(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// The telemetry engine as the worker holds it, with the instruments of
/// the timed loops registered and bound once.
#[wasm_bindgen]
pub struct BenchTelemetry {
    engine: Engine,
    asks: Counter,
    asks_bound: Series<Counter>,
    latency_bound: Series<Histogram>,
    page: PagePath,
    lcg: u32,
    clock_ms: f64,
    trace: u64,
}

fn fresh_engine() -> Engine {
    Engine::new(EngineConfig::default(), T0_MS as f64).expect("the default config is valid")
}

#[wasm_bindgen]
impl BenchTelemetry {
    /// A fresh engine (default configuration: everything kept, export off).
    #[wasm_bindgen(constructor)]
    pub fn new() -> BenchTelemetry {
        let mut engine = fresh_engine();
        let m = engine.metrics_mut();
        let asks = m
            .counter("paperclip.asks", "{ask}", "questions asked")
            .expect("a valid name");
        let latency = m
            .histogram("provider.latency", "ms", "time to the last byte")
            .expect("a valid name");
        let labels = [("provider", PROVIDERS[0]), ("outcome", "ok")];
        let asks_bound = m.series(asks, &labels);
        let latency_bound = m.series(latency, &labels);
        BenchTelemetry {
            engine,
            asks,
            asks_bound,
            latency_bound,
            page: PagePath::new("popup"),
            lcg: 12_345,
            clock_ms: T0_MS as f64,
            trace: 1,
        }
    }

    /// `n` counter adds through a bound series handle (the worker's hot path).
    #[wasm_bindgen(js_name = counterAdds)]
    pub fn counter_adds(&mut self, n: u32) {
        let series = std::hint::black_box(self.asks_bound);
        let m = self.engine.metrics_mut();
        for _ in 0..n {
            m.add(series, 1);
        }
    }

    /// `n` counter adds with the labels given each call (hashed and found
    /// without allocating), cycling through four label sets.
    #[wasm_bindgen(js_name = counterAddsLabelled)]
    pub fn counter_adds_labelled(&mut self, n: u32) {
        let m = self.engine.metrics_mut();
        for i in 0..n as usize {
            let labels = [("provider", PROVIDERS[i & 3]), ("outcome", "ok")];
            m.add_with(self.asks, std::hint::black_box(&labels), 1);
        }
    }

    /// `n` histogram records through a bound series handle.
    #[wasm_bindgen(js_name = histogramRecords)]
    pub fn histogram_records(&mut self, n: u32) {
        let series = std::hint::black_box(self.latency_bound);
        let m = self.engine.metrics_mut();
        for _ in 0..n {
            m.record(series, next_value(&mut self.lcg));
        }
    }

    /// One bound counter add (timed one JS → wasm call per operation).
    #[wasm_bindgen(js_name = counterAdd)]
    pub fn counter_add(&mut self) {
        self.engine.metrics_mut().add(self.asks_bound, 1);
    }

    /// One bound histogram record of `value`.
    #[wasm_bindgen(js_name = histogramRecord)]
    pub fn histogram_record(&mut self, value: f64) {
        self.engine.metrics_mut().record(self.latency_bound, value);
    }

    /// `n` counter adds made in a UI page (the popup), 100 a simulated
    /// second: aggregated in the page's buffer and sent by its 1-second
    /// timer as `RecordTelemetry` through the wire JSON both ways, decoded
    /// and taken in by the engine.
    #[wasm_bindgen(js_name = uiCounterAdds)]
    pub fn ui_counter_adds(&mut self, n: u32) {
        for i in 0..n as usize {
            self.clock_ms += PAGE_RECORD_EVERY_MS;
            self.page.timer(&mut self.engine, self.clock_ms);
            let labels = [("button", PROVIDERS[i & 3]), ("outcome", "ok")];
            self.page
                .count(&mut self.engine, "ui.clicks", &labels, self.clock_ms);
        }
    }

    /// `n` histogram records made in a UI page, as [`Self::ui_counter_adds`].
    #[wasm_bindgen(js_name = uiHistogramRecords)]
    pub fn ui_histogram_records(&mut self, n: u32) {
        for i in 0..n as usize {
            self.clock_ms += PAGE_RECORD_EVERY_MS;
            self.page.timer(&mut self.engine, self.clock_ms);
            let labels = [("view", PROVIDERS[i & 3]), ("outcome", "ok")];
            let ms = next_value(&mut self.lcg);
            self.page
                .timing(&mut self.engine, "ui.render_ms", &labels, ms, self.clock_ms);
        }
    }

    /// `n` trace and event records as an ask makes them in the worker:
    /// alternately a finished span (two attributes) and an event (three
    /// properties). The stores are bounded, so this is their steady state
    /// (the oldest evicted, and counted).
    #[wasm_bindgen(js_name = spanEventRecords)]
    pub fn span_event_records(&mut self, n: u32) {
        for i in 0..u64::from(n) {
            self.clock_ms += 0.001;
            let r = next_unit(&mut self.lcg);
            if i % 2 == 0 {
                self.trace += 1;
                let now_ns = (self.clock_ms * 1e6) as u64;
                let mut span = OpenSpan::root(
                    names::PROVIDER_ATTEMPT,
                    SpanKind::Client,
                    (self.trace, i),
                    self.trace,
                    now_ns,
                );
                span.set_attribute("provider", PROVIDERS[(i & 3) as usize]);
                span.set_attribute("http.response.status_code", 200i64);
                self.engine.span(span.finish(now_ns + 1_000), self.clock_ms);
            } else {
                let props = [
                    ("ask_id", AttrValue::Int(self.trace as i64)),
                    ("provider", AttrValue::from(PROVIDERS[(i & 3) as usize])),
                    ("cached", AttrValue::Bool(false)),
                ];
                self.engine.event("ask.answered", &props, self.clock_ms, r);
            }
        }
    }

    /// The sustained load on a fresh engine: `metrics_per_min` metric
    /// records and `events_per_min` events spread evenly over
    /// `duration_ms` of simulated time, with the engine's `tick` every
    /// simulated second (collection every minute) and the pages' buffers
    /// flushed at 100 records or after a second. A fifth of the metric
    /// records and half the events come from a page (the popup) through
    /// `RecordTelemetry`; the rest are the worker's own (bound counter
    /// adds, labelled counter adds, histogram records).
    ///
    /// Returns the accounting as JSON: for metrics and for events what was
    /// offered, what the engine kept, what it counted in
    /// `telemetry.dropped` (by reason) and the difference (`unaccounted`,
    /// which must be 0); `load_ms` is the wall time of the load alone.
    pub fn sustained(
        &mut self,
        metrics_per_min: u32,
        events_per_min: u32,
        duration_ms: f64,
    ) -> String {
        let mut engine = fresh_engine();
        let mut page = PagePath::new("popup");
        let mut lcg = 777u32;
        let t0 = T0_MS as f64;
        let m = engine.metrics_mut();
        let asks = m.counter("paperclip.asks", "{ask}", "").expect("valid");
        let tokens = m.counter("provider.tokens", "{token}", "").expect("valid");
        let latency = m.histogram("provider.latency", "ms", "").expect("valid");
        let asks_bound = m.series(asks, &[("provider", "openai"), ("outcome", "ok")]);
        let latency_bound = m.series(latency, &[("provider", "openai"), ("outcome", "ok")]);

        let metric_step = 60_000.0 / f64::from(metrics_per_min.max(1));
        let event_step = 60_000.0 / f64::from(events_per_min.max(1));
        let n_metrics = if metrics_per_min == 0 {
            0
        } else {
            (duration_ms / metric_step).floor() as u64
        };
        let n_events = if events_per_min == 0 {
            0
        } else {
            (duration_ms / event_step).floor() as u64
        };
        let (mut mi, mut ei) = (0u64, 0u64);
        let mut next_tick = t0 + 1_000.0;
        let mut ticks = 0u64;
        let mut offered_metrics = 0u64;
        let mut offered_events = 0u64;
        let started = perf_now();
        while mi < n_metrics || ei < n_events {
            let tm = if mi < n_metrics {
                t0 + mi as f64 * metric_step
            } else {
                f64::INFINITY
            };
            let te = if ei < n_events {
                t0 + ei as f64 * event_step
            } else {
                f64::INFINITY
            };
            let now = tm.min(te);
            while next_tick <= now {
                page.timer(&mut engine, next_tick);
                engine.tick(next_tick, next_unit(&mut lcg));
                next_tick += 1_000.0;
                ticks += 1;
            }
            if tm <= te {
                let provider = PROVIDERS[(mi & 3) as usize];
                let m = engine.metrics_mut();
                match mi % 10 {
                    0..=3 => m.add(asks_bound, 1),
                    4 | 5 => m.add_with(tokens, &[("provider", provider), ("kind", "output")], 1),
                    6 | 7 => m.record(latency_bound, next_value(&mut lcg)),
                    8 => page.count(&mut engine, "ui.clicks", &[("button", provider)], now),
                    _ => {
                        let ms = next_value(&mut lcg);
                        page.timing(&mut engine, "ui.render_ms", &[("view", provider)], ms, now);
                    }
                }
                offered_metrics += 1;
                mi += 1;
            } else {
                let provider = PROVIDERS[(ei & 3) as usize];
                if ei % 2 == 0 {
                    let props = [
                        ("ask_id", AttrValue::Int(ei as i64)),
                        ("provider", AttrValue::from(provider)),
                    ];
                    engine.event("ask.answered", &props, now, next_unit(&mut lcg));
                } else {
                    page.event(&mut engine, "ui.opened", &[("view", provider)], now);
                }
                offered_events += 1;
                ei += 1;
            }
        }
        // The pages' last batch and the last collection.
        let end = t0 + duration_ms;
        page.flush(&mut engine, end);
        engine.tick(end.max(next_tick), 0.5);
        let load_ms = perf_now() - started;

        let PanelAnswer::Metrics(instruments) = engine.query(&PanelQuery::Metrics) else {
            unreachable!("a metrics query answers with metrics")
        };
        let mut kept_metrics = 0u64;
        let mut per_instrument = serde_json::Map::new();
        for i in &instruments {
            if i.descriptor.name == DROPPED || i.descriptor.name == CARDINALITY_OVERFLOW {
                continue;
            }
            let n: u64 = i
                .series
                .iter()
                .map(|s| match &s.value {
                    SnapshotValue::Counter(v) => *v,
                    SnapshotValue::Histogram(h) => h.count,
                    _ => 0,
                })
                .sum();
            kept_metrics += n;
            per_instrument.insert(i.descriptor.name.clone(), n.into());
        }
        let kept_events = engine.events().len() as u64;
        let registry = engine.metrics();
        let drops = |signal: Signal| {
            let mut by_reason = serde_json::Map::new();
            let mut lost = 0u64;
            let mut other = 0u64;
            for reason in DropReason::ALL {
                let n = registry.dropped(reason, signal);
                if n > 0 {
                    by_reason.insert(reason.as_str().into(), n.into());
                    if ITEM_LOSSES.contains(&reason) {
                        lost += n;
                    } else {
                        other += n;
                    }
                }
            }
            (lost, other, by_reason)
        };
        let (metrics_lost, metrics_attr, metrics_by_reason) = drops(Signal::Metrics);
        let (events_lost, events_attr, events_by_reason) = drops(Signal::Events);
        let unaccounted =
            |offered: u64, kept: u64, lost: u64| offered as i64 - (kept + lost) as i64;
        serde_json::json!({
            "simulated_ms": duration_ms,
            "metrics_per_min": metrics_per_min,
            "events_per_min": events_per_min,
            "ticks": ticks,
            "load_ms": load_ms,
            "records": offered_metrics + offered_events,
            "page_batches": page.batches,
            "page_accepted": page.accepted,
            "page_refused": page.refused,
            "metrics": {
                "offered": offered_metrics,
                "kept": kept_metrics,
                "dropped_counted": metrics_lost,
                "dropped_by_reason": metrics_by_reason,
                "attribute_drops": metrics_attr,
                "unaccounted": unaccounted(offered_metrics, kept_metrics, metrics_lost),
                "kept_by_instrument": per_instrument,
            },
            "events": {
                "offered": offered_events,
                "kept": kept_events,
                "dropped_counted": events_lost,
                "dropped_by_reason": events_by_reason,
                "attribute_drops": events_attr,
                "unaccounted": unaccounted(offered_events, kept_events, events_lost),
            },
        })
        .to_string()
    }
}

#[wasm_bindgen]
impl BenchTelemetry {
    /// Where the UI → worker path's time goes: `n` counter records made in
    /// a page (four label sets), aggregated and sent every 100, each stage
    /// timed apart. Returns JSON
    /// of nanoseconds per record by stage.
    #[wasm_bindgen(js_name = uiPathBreakdown)]
    pub fn ui_path_breakdown(&mut self, n: u32) -> String {
        let mut stages = [0f64; 6];
        let mut done = 0u32;
        let mut buffer = PageBuffer::default();
        while done < n {
            let size = (n - done).min(BREAKDOWN_BATCH as u32);
            let t0 = perf_now();
            for i in 0..size as usize {
                let labels = [("button", PROVIDERS[i & 3]), ("outcome", "ok")];
                buffer.count("ui.clicks", &labels, 1);
            }
            let batches = buffer.take("popup");
            let t1 = perf_now();
            let wires: Vec<_> = batches.into_iter().map(|b| b.to_wire()).collect();
            let t2 = perf_now();
            let messages: Vec<_> = wires.iter().map(|w| platform::to_js(w)).collect();
            let t3 = perf_now();
            let requests: Vec<_> = messages
                .iter()
                .map(platform::decode_js::<Request>)
                .collect();
            let t4 = perf_now();
            self.clock_ms += 1.0;
            let replies: Vec<Reply<Response>> = requests
                .into_iter()
                .map(|request| match request {
                    Ok(Request::RecordTelemetry(batch)) => {
                        Reply::Ok(self.engine.accept_page(&batch, self.clock_ms, 0.5).into())
                    }
                    _ => Reply::Err(ProtocolError::failed("unexpected request")),
                })
                .collect();
            let t5 = perf_now();
            for reply in &replies {
                let reply = platform::to_js(&protocol::encode(reply));
                let read = platform::from_js(&reply).and_then(|j| RecordTelemetry::read_reply(&j));
                std::hint::black_box(read.is_ok());
            }
            let t6 = perf_now();
            for (slot, dt) in
                stages
                    .iter_mut()
                    .zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5])
            {
                *slot += dt;
            }
            done += size;
        }
        let per = |ms: f64| ms * 1e6 / f64::from(n.max(1));
        serde_json::json!({
            "records": n,
            "page_push_ns": per(stages[0]),
            "page_encode_ns": per(stages[1]),
            "page_to_js_ns": per(stages[2]),
            "worker_decode_js_ns": per(stages[3]),
            "worker_accept_page_ns": per(stages[4]),
            "reply_round_trip_ns": per(stages[5]),
            "total_ns": per(stages.iter().sum()),
        })
        .to_string()
    }
}

impl Default for BenchTelemetry {
    fn default() -> Self {
        Self::new()
    }
}
