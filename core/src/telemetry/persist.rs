//! The row exporters' part that needs no browser: [`Engine::rows`] turns
//! what the engine learned in a time window into [`Row`]s. The IndexedDB
//! exporter stores them in the `telemetry` store ([`trim_plan`] says which
//! stored rows go: the retention and the size bound), the console exporter
//! logs them ([`console_line`]), and the custom JSON exporter posts them as
//! one [`JsonDocument`] through the export queue ([`Engine::queue_json`]).
//!
//! ```
//! use paperclip_core::telemetry::{AttrValue, Engine, EngineConfig};
//! let mut engine = Engine::new(EngineConfig::default(), 0.0)?;
//! engine.event("answer.level", &[("level", AttrValue::from("normal"))], 10.0, 0.5);
//! let rows = engine.rows(0.0, 20.0);
//! assert!(rows.iter().any(|r| r.kind == "event" && r.name == "answer.level"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::engine::TickReport;
use super::errors::{Category, ErrorGroup, ErrorRecord, ErrorSource, Fingerprint, Severity};
use super::events::Event;
use super::metrics::{InstrumentKind, SnapshotValue};
use super::otlp::Endpoint;
use super::span::{Span, SpanId, TraceId};
use super::{AttrValue, Engine, Signal};

/// The dimension of a metric row naming its instrument's kind.
pub const INSTRUMENT: &str = "instrument";

/// Rows kept in the `telemetry` store at most.
pub const MAX_ROWS: u64 = 20_000;
/// How long rows are kept, ms (seven days).
pub const RETENTION_MS: f64 = 7.0 * 24.0 * 3_600_000.0;
/// Most events or spans written per window (the rest are counted).
pub const MAX_PER_WINDOW: usize = 2_000;

/// One stored telemetry row (the shape of the `telemetry` store).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Row {
    /// When, ms.
    pub time: f64,
    /// `metric`, `event`, `error` or `span`.
    pub kind: String,
    /// The instrument, event, error kind or span name.
    pub name: String,
    /// The value (a counter's total, a histogram's count, a span's
    /// duration in ms, an error group's count; 1 for events).
    pub value: f64,
    /// Labels (already scrubbed by the engine).
    pub dims: BTreeMap<String, String>,
    /// For a span row, the whole span (its parent, start, status and
    /// scrubbed attributes), so that the panel can show asks and traces
    /// from before the worker last stopped. Kept as JSON text: its
    /// nanosecond times do not fit a JavaScript number, and a text that
    /// does not read back is no span.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "span_text")]
    pub span: Option<Span>,
}

mod span_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Span;

    pub fn serialize<S: Serializer>(span: &Option<Span>, s: S) -> Result<S::Ok, S::Error> {
        match span.as_ref().and_then(|v| serde_json::to_string(v).ok()) {
            Some(text) => s.serialize_some(&text),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Span>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }
}

fn dims<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl Engine {
    /// What to store for the window `(from_ms, to_ms]`: every metric series
    /// as it stands (histograms with their percentiles), the events and
    /// spans of the window, and the error groups seen in it.
    pub fn rows(&self, from_ms: f64, to_ms: f64) -> Vec<Row> {
        let mut out = Vec::new();
        for m in self.metrics().snapshot() {
            let instrument = match m.descriptor.kind {
                InstrumentKind::Counter => "counter",
                InstrumentKind::UpDownCounter => "up_down_counter",
                InstrumentKind::Gauge => "gauge",
                InstrumentKind::Histogram => "histogram",
            };
            for s in &m.series {
                let mut d = dims(s.labels.iter().map(|(k, v)| (k.as_str(), v.clone())));
                d.insert(INSTRUMENT.into(), instrument.into());
                let value = match &s.value {
                    SnapshotValue::Counter(n) => *n as f64,
                    SnapshotValue::UpDownCounter(n) => *n as f64,
                    SnapshotValue::Gauge(v) => match v {
                        Some(v) => *v,
                        None => continue,
                    },
                    SnapshotValue::Histogram(h) => {
                        for (k, v) in [
                            ("p50", h.p50),
                            ("p90", h.p90),
                            ("p95", h.p95),
                            ("p99", h.p99),
                        ] {
                            if let Some(v) = v {
                                d.insert(k.to_string(), format!("{v:.3}"));
                            }
                        }
                        h.count as f64
                    }
                };
                out.push(Row {
                    time: to_ms,
                    kind: "metric".into(),
                    name: m.descriptor.name.clone(),
                    value,
                    dims: d,
                    span: None,
                });
            }
        }
        for e in self
            .events()
            .between(from_ms, to_ms, None, MAX_PER_WINDOW)
            .into_iter()
            .filter(|e| e.time_ms > from_ms)
        {
            out.push(Row {
                time: e.time_ms,
                kind: "event".into(),
                name: e.name.clone(),
                value: 1.0,
                dims: dims(
                    e.properties
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.to_string())),
                ),
                span: None,
            });
        }
        for g in self.errors().list() {
            if g.last_seen_ms > from_ms && g.last_seen_ms <= to_ms {
                out.push(Row {
                    time: g.last_seen_ms,
                    kind: "error".into(),
                    name: g.kind.clone(),
                    value: g.count as f64,
                    dims: dims([
                        ("fingerprint", g.fingerprint.to_string()),
                        ("title", g.title.clone()),
                        ("component", g.sample.source.component.clone()),
                        ("severity", g.sample.severity.as_str().to_string()),
                        ("category", g.sample.category.as_str().to_string()),
                        ("first_seen_ms", format!("{:.0}", g.first_seen_ms)),
                    ]),
                    span: None,
                });
            }
        }
        let (from_ns, to_ns) = ((from_ms * 1e6) as u64, (to_ms * 1e6) as u64);
        for s in self
            .spans()
            .between(from_ns, to_ns)
            .into_iter()
            .filter(|s| s.end_ns > from_ns && s.end_ns <= to_ns)
            .take(MAX_PER_WINDOW)
        {
            out.push(Row {
                time: s.end_ns as f64 / 1e6,
                kind: "span".into(),
                name: s.name.clone(),
                value: s.duration_ns() as f64 / 1e6,
                dims: dims([
                    ("trace_id", s.trace_id.to_string()),
                    ("span_id", s.span_id.to_string()),
                ]),
                span: Some(s.clone()),
            });
        }
        out
    }
}

impl Engine {
    /// Puts back the error groups an earlier instance stored (`rows`, as
    /// [`Engine::rows`] wrote them, newest first): the newest row of each
    /// fingerprint gives its count, first and last seen, severity and
    /// category, so that counts go on where they were after the worker
    /// restarts. Groups already tracked are left alone; rows that do not
    /// read are skipped. Returns how many groups came back.
    pub fn restore_errors(&mut self, rows: &[Row]) -> usize {
        let mut restored = 0;
        for row in rows.iter().filter(|r| r.kind == "error") {
            if let Some(group) = error_group(row) {
                restored += usize::from(self.errors_mut().restore(group));
            }
        }
        restored
    }

    /// Puts back the counters' totals an earlier instance stored (`rows`
    /// newest first, as the store reads them back): the newest row of each
    /// counter series, so that counts go on from there after a restart
    /// (without counting as new increases). Returns how many series came
    /// back.
    pub fn restore_counters(&mut self, rows: &[Row]) -> usize {
        let mut seen = HashSet::new();
        let mut restored = 0;
        for r in rows.iter().filter(|r| {
            r.kind == "metric" && r.dims.get(INSTRUMENT).map(String::as_str) == Some("counter")
        }) {
            let labels: Vec<(&str, &str)> = r
                .dims
                .iter()
                .filter(|(k, _)| k.as_str() != INSTRUMENT)
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let fresh = seen.insert((r.name.clone(), format!("{labels:?}")));
            if !(fresh && r.value.is_finite() && r.value >= 0.0) {
                continue;
            }
            let Ok(c) = self.metrics_mut().counter(&r.name, "1", "") else {
                continue;
            };
            self.metrics_mut().restore_total(c, &labels, r.value as u64);
            restored += 1;
        }
        restored
    }

    /// Puts back the spans an earlier instance stored (`rows`, any kind,
    /// any order) that the span store does not hold yet, oldest first, so
    /// that the asks and the timeline of the last minutes survive a
    /// restart. Returns how many came back.
    pub fn restore_spans(&mut self, rows: &[Row]) -> usize {
        let held: HashSet<(TraceId, SpanId)> = self
            .spans()
            .between(0, u64::MAX)
            .into_iter()
            .map(|s| (s.trace_id, s.span_id))
            .collect();
        let mut back: Vec<Span> = spans_of(rows)
            .into_iter()
            .filter(|s| !held.contains(&(s.trace_id, s.span_id)))
            .collect();
        back.sort_by_key(|s| s.end_ns);
        let n = back.len();
        for s in back {
            self.spans_mut().insert(s);
        }
        n
    }
}

/// The spans that stored rows hold (rows of other kinds, and span rows
/// written before spans were kept whole, hold none).
pub fn spans_of(rows: &[Row]) -> Vec<Span> {
    rows.iter()
        .filter(|r| r.kind == "span")
        .filter_map(|r| r.span.clone())
        .collect()
}

/// The events of `live` and of the stored event rows together, each once
/// (by time and name; the live copy wins), newest first, at most `limit`.
pub fn merge_events(live: Vec<Event>, stored: &[Row], limit: usize) -> Vec<Event> {
    let mut seen = HashSet::new();
    let stored = stored.iter().filter(|r| r.kind == "event").map(|r| Event {
        name: r.name.clone(),
        time_ms: r.time,
        properties: r
            .dims
            .iter()
            .map(|(k, v)| (k.clone(), AttrValue::Str(v.clone())))
            .collect(),
    });
    let mut out: Vec<Event> = live
        .into_iter()
        .chain(stored)
        .filter(|e| seen.insert((e.time_ms.to_bits(), e.name.clone())))
        .collect();
    out.sort_by(|a, b| b.time_ms.total_cmp(&a.time_ms));
    out.truncate(limit);
    out
}

/// The spans of `live` and `stored` together, each once (by trace and span
/// id; the live copy wins), by start time, at most `limit`, overlapping
/// `[from_ns, to_ns]`.
pub fn merge_spans(
    live: Vec<Span>,
    stored: Vec<Span>,
    from_ns: u64,
    to_ns: u64,
    limit: usize,
) -> Vec<Span> {
    let mut seen = HashSet::new();
    let mut out: Vec<Span> = live
        .into_iter()
        .chain(stored)
        .filter(|s| s.overlaps(from_ns, to_ns))
        .filter(|s| seen.insert((s.trace_id, s.span_id)))
        .collect();
    out.sort_by_key(|s| (s.start_ns, std::cmp::Reverse(s.end_ns)));
    out.truncate(limit);
    out
}

/// The error group a stored row describes.
fn error_group(row: &Row) -> Option<ErrorGroup> {
    let dim = |k: &str| row.dims.get(k).map(String::as_str);
    let fingerprint: Fingerprint =
        serde_json::from_value(serde_json::Value::String(dim("fingerprint")?.into())).ok()?;
    let title = dim("title").unwrap_or_default().to_string();
    let count = row.value;
    if !(count.is_finite() && count >= 1.0 && row.time.is_finite()) {
        return None;
    }
    let first_seen_ms = dim("first_seen_ms")
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t <= row.time)
        .unwrap_or(row.time);
    let sample = ErrorRecord {
        message: title.clone(),
        kind: row.name.clone(),
        stack: None,
        context: Vec::new(),
        time_ms: row.time,
        source: ErrorSource {
            component: dim("component").unwrap_or_default().to_string(),
            origin: None,
        },
        fingerprint,
        severity: dim("severity")
            .and_then(Severity::parse)
            .unwrap_or_default(),
        category: dim("category")
            .and_then(Category::parse)
            .unwrap_or_default(),
    };
    Some(ErrorGroup {
        fingerprint,
        kind: row.name.clone(),
        title,
        count: count as u64,
        first_seen_ms,
        last_seen_ms: row.time,
        sample,
    })
}

/// The `format` of every [`JsonDocument`].
pub const JSON_FORMAT: &str = "paperclip.telemetry.v1";

/// What the custom JSON exporter posts: one window of rows.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonDocument {
    /// Always [`JSON_FORMAT`].
    pub format: String,
    /// `paperclip`.
    pub service: String,
    /// The extension's version.
    pub version: String,
    /// The window's start (exclusive) and end, ms since the epoch.
    pub from_ms: f64,
    /// See `from_ms`.
    pub to_ms: f64,
    /// Its rows (metric series, events, error groups, spans).
    pub rows: Vec<Row>,
}

impl Row {
    /// The signal the row belongs to.
    pub fn signal(&self) -> Signal {
        match self.kind.as_str() {
            "metric" => Signal::Metrics,
            "error" => Signal::Errors,
            "span" => Signal::Spans,
            _ => Signal::Events,
        }
    }
}

/// The console exporter's line for `row`: kind, name, value and labels.
pub fn console_line(row: &Row) -> String {
    let dims: Vec<String> = row.dims.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "[telemetry] {} {} = {} {}",
        row.kind,
        row.name,
        row.value,
        dims.join(" ")
    )
    .trim_end()
    .to_string()
}

impl Engine {
    /// Queues the window `(from_ms, to_ms]` of `rows` for the custom JSON
    /// endpoint, with the export queue's retries and bounds (an empty
    /// window queues nothing).
    pub fn queue_json(&mut self, mut rows: Vec<Row>, from_ms: f64, to_ms: f64) -> TickReport {
        let mut report = TickReport::default();
        if rows.is_empty() {
            return report;
        }
        // The document keeps its documented row shape: a span row's whole
        // span stays in this browser (its trace and span ids are in `dims`).
        for r in &mut rows {
            r.span = None;
        }
        let mut items = [0u32; 4];
        for r in &rows {
            items[r.signal().index()] += 1;
        }
        let items: Vec<(Signal, u32)> = Signal::ALL
            .into_iter()
            .map(|s| (s, items[s.index()]))
            .filter(|(_, n)| *n > 0)
            .collect();
        let document = JsonDocument {
            format: JSON_FORMAT.into(),
            service: "paperclip".into(),
            version: self.config().service_version.clone(),
            from_ms,
            to_ms,
            rows,
        };
        let body = serde_json::to_string(&document).expect("rows serialise");
        self.enqueue(Endpoint::Json, body, &items, to_ms, &mut report);
        report
    }
}

/// What to delete from a store of `count` rows at `now_ms`: everything
/// older than the retention, then the oldest beyond [`MAX_ROWS`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrimPlan {
    /// Delete rows with `time` below this.
    pub older_than_ms: f64,
    /// Then delete this many of the oldest remaining rows.
    pub oldest: u64,
}

/// The trim for a store holding `count` rows, `expired` of them past the
/// retention, at `now_ms`.
pub fn trim_plan(count: u64, expired: u64, now_ms: f64) -> TrimPlan {
    TrimPlan {
        older_than_ms: now_ms - RETENTION_MS,
        oldest: count.saturating_sub(expired).saturating_sub(MAX_ROWS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{AttrValue, EngineConfig};
    use proptest::prelude::*;

    #[test]
    fn a_window_holds_its_events_spans_errors_and_every_metric() {
        let mut e = Engine::new(EngineConfig::default(), 0.0).unwrap();
        let h = e
            .metrics_mut()
            .histogram("provider.total", "ms", "")
            .unwrap();
        e.metrics_mut()
            .record_with(h, &[("provider", "openai")], 120.0);
        e.event("a", &[("k", AttrValue::from("v"))], 5.0, 0.5);
        e.event("b", &[], 15.0, 0.5);
        let rows = e.rows(10.0, 20.0);
        assert!(rows.iter().any(|r| r.kind == "metric"
            && r.name == "provider.total"
            && r.dims.contains_key("p95")));
        let events: Vec<&str> = rows
            .iter()
            .filter(|r| r.kind == "event")
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(events, ["b"]);
    }

    #[test]
    fn a_json_window_is_queued_for_the_json_endpoint_and_reads_back() {
        let mut e = Engine::new(EngineConfig::default(), 0.0).unwrap();
        e.event("a", &[("k", AttrValue::from("v"))], 5.0, 0.5);
        let c = e.metrics_mut().counter("asks", "1", "").unwrap();
        e.metrics_mut().add_with(c, &[], 2);
        let rows = e.rows(0.0, 10.0);
        assert!(e.queue_json(Vec::new(), 0.0, 10.0).enqueued.is_empty());
        let report = e.queue_json(rows.clone(), 0.0, 10.0);
        let batch = e.batch(report.enqueued[0]).unwrap();
        assert_eq!(batch.endpoint, Endpoint::Json);
        assert!(batch.items.contains(&(Signal::Events, 1)));
        assert!(batch.items.contains(&(Signal::Metrics, 1)));
        let doc: JsonDocument = serde_json::from_str(&batch.body).unwrap();
        assert_eq!(doc.format, JSON_FORMAT);
        assert_eq!(doc.rows, rows);
        // Turning the JSON export off drops only its batches.
        assert_eq!(e.stop_json_export(), report.enqueued);
        assert!(e.queued_batches().next().is_none());
    }

    #[test]
    fn error_groups_come_back_from_their_rows_and_go_on_counting() {
        use crate::telemetry::errors::{Category, ErrorInput, Severity};
        let input = ErrorInput {
            severity: Severity::Warning,
            category: Category::Provider,
            message: "provider 7 refused",
            kind: "provider.http_4xx",
            component: "provider",
            ..ErrorInput::default()
        };
        let mut before = Engine::new(EngineConfig::default(), 0.0).unwrap();
        before.error(input, 5.0, 0.5);
        before.error(input, 8.0, 0.5);
        // Rows of two windows, newest first (as the store reads them back),
        // and one that does not read.
        let mut rows = before.rows(6.0, 10.0);
        rows.extend(before.rows(0.0, 6.0));
        rows.retain(|r| r.kind == "error");
        let mut bad = rows[0].clone();
        bad.dims.insert("fingerprint".into(), "not hex".into());
        rows.insert(0, bad);
        let mut after = Engine::new(EngineConfig::default(), 20.0).unwrap();
        assert_eq!(after.restore_errors(&rows), 1);
        let g = after.errors().list()[0].clone();
        assert_eq!((g.count, g.first_seen_ms, g.last_seen_ms), (2, 5.0, 8.0));
        assert_eq!(
            (g.sample.severity, g.sample.category),
            (Severity::Warning, Category::Provider)
        );
        assert_eq!(g.title, "provider <n> refused");
        // The same error again counts on from there.
        after.error(input, 30.0, 0.5);
        let g = after.errors().list()[0].clone();
        assert_eq!((g.count, g.first_seen_ms, g.last_seen_ms), (3, 5.0, 30.0));
        // Restoring twice adds nothing.
        assert_eq!(after.restore_errors(&rows), 0);
    }

    #[test]
    fn counters_go_on_from_their_stored_totals_without_new_increases() {
        use crate::telemetry::metrics::SnapshotValue;
        let mut before = Engine::new(EngineConfig::default(), 0.0).unwrap();
        let c = before.metrics_mut().counter("asks", "1", "").unwrap();
        before.metrics_mut().add_with(c, &[("level", "normal")], 3);
        before.metrics_mut().add_with(c, &[("level", "offline")], 1);
        let h = before.metrics_mut().histogram("ms", "ms", "").unwrap();
        before.metrics_mut().record_with(h, &[], 5.0);
        // Two windows, newest first: the newer total wins.
        let older = before.rows(0.0, 5.0);
        before.metrics_mut().add_with(c, &[("level", "normal")], 2);
        let mut rows = before.rows(5.0, 10.0);
        rows.extend(older);
        let mut after = Engine::new(EngineConfig::default(), 20.0).unwrap();
        assert_eq!(
            after.restore_counters(&rows),
            2,
            "histograms are not counters"
        );
        let c = after.metrics_mut().counter("asks", "1", "").unwrap();
        after.metrics_mut().add_with(c, &[("level", "normal")], 1);
        let total = |e: &Engine, level: &str| {
            e.metrics()
                .snapshot()
                .into_iter()
                .find(|m| m.descriptor.name == "asks")
                .and_then(|m| {
                    m.series
                        .into_iter()
                        .find(|s| s.labels.iter().any(|(k, v)| k == "level" && v == level))
                })
                .map(|s| s.value)
        };
        assert_eq!(total(&after, "normal"), Some(SnapshotValue::Counter(6)));
        assert_eq!(total(&after, "offline"), Some(SnapshotValue::Counter(1)));
        // Only the new increase is a delta (what exports and charts see).
        let collected = after.metrics_mut().collect(30.0);
        let asks = collected
            .metrics
            .iter()
            .find(|m| m.descriptor.name == "asks")
            .unwrap();
        assert_eq!(asks.points.len(), 1);
    }

    #[test]
    fn spans_come_back_whole_from_their_rows_once() {
        use crate::telemetry::span::{names, OpenSpan, SpanKind, SpanStatus};
        let t0 = 1_000_000_000u64;
        let ask = OpenSpan::root(names::ASK, SpanKind::Internal, (7, 11), 1, t0);
        let mut call = ask.child(names::PROVIDER_REQUEST, SpanKind::Client, 2, t0 + 1_000_000);
        call.set_attribute("outcome", "http_5xx");
        call.set_status(SpanStatus::Error {
            message: "503".into(),
        });
        let mut before = Engine::new(EngineConfig::default(), 0.0).unwrap();
        before.span(call.finish(t0 + 4_000_000), 1.0);
        before.span(ask.finish(t0 + 9_000_000), 1.0);
        let rows = before.rows(0.0, 2_000.0);
        let stored = spans_of(&rows);
        assert_eq!(stored.len(), 2);
        let mut after = Engine::new(EngineConfig::default(), 20.0).unwrap();
        assert_eq!(after.restore_spans(&rows), 2);
        assert_eq!(
            after.restore_spans(&rows),
            0,
            "restoring twice adds nothing"
        );
        let back: Vec<Span> = after
            .spans()
            .between(0, u64::MAX)
            .into_iter()
            .cloned()
            .collect();
        let live: Vec<Span> = before
            .spans()
            .between(0, u64::MAX)
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(back, live, "parent, attributes and status kept");
        let asks = crate::telemetry::asks::asks(&back, 10);
        assert_eq!(asks[0].attempts[0].outcome, "http_5xx");
        // Live and stored together: each span once, in range, bounded.
        let merged = merge_spans(live.clone(), stored, 0, u64::MAX, 10);
        assert_eq!(merged, live);
        assert_eq!(
            merge_spans(live.clone(), Vec::new(), 0, t0 - 1, 10),
            Vec::new()
        );
        assert_eq!(merge_spans(live, Vec::new(), 0, u64::MAX, 1).len(), 1);
        // Events: the stored copy of a live one counts once.
        before.event("asked", &[("k", AttrValue::from("v"))], 1_500.0, 0.5);
        let live_events = before
            .events()
            .between(0.0, 2e3, None, 10)
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        let rows2 = before.rows(1_000.0, 2_000.0);
        let mut older = rows2.iter().find(|r| r.kind == "event").unwrap().clone();
        older.time = 900.0;
        let events = merge_events(live_events, &[rows2, vec![older]].concat(), 10);
        assert_eq!(
            events.iter().map(|e| e.time_ms).collect::<Vec<_>>(),
            [1_500.0, 900.0]
        );
        assert_eq!(
            events[1].properties,
            [("k".to_string(), AttrValue::from("v"))]
        );
        // The row reads back through its text form (as the store keeps it),
        // and a text that is not a span is no span.
        let row = rows.iter().find(|r| r.kind == "span").unwrap();
        let text = serde_json::to_value(row).unwrap();
        assert!(text["span"].is_string(), "{text}");
        assert_eq!(&serde_json::from_value::<Row>(text.clone()).unwrap(), row);
        let mut broken = text;
        broken["span"] = "{not a span".into();
        assert_eq!(serde_json::from_value::<Row>(broken).unwrap().span, None);
        // The JSON endpoint's document keeps its documented shape: no span.
        let report = before.queue_json(rows.clone(), 0.0, 2_000.0);
        let body = &before.batch(report.enqueued[0]).unwrap().body;
        assert!(
            body.contains("\"kind\":\"span\"") && !body.contains("\"span\":"),
            "{body}"
        );
        // A row written before spans were kept whole gives none.
        let mut old = rows.iter().find(|r| r.kind == "span").unwrap().clone();
        old.span = None;
        assert!(spans_of(&[old]).is_empty());
    }

    #[test]
    fn a_console_line_names_the_row_and_its_labels() {
        let row = Row {
            span: None,
            time: 1.0,
            kind: "metric".into(),
            name: "provider.total".into(),
            value: 3.0,
            dims: dims([
                ("p95", "12.000".to_string()),
                ("provider", "openai".to_string()),
            ]),
        };
        assert_eq!(
            console_line(&row),
            "[telemetry] metric provider.total = 3 p95=12.000 provider=openai"
        );
    }

    proptest! {
        #[test]
        fn the_store_never_exceeds_its_bound(count in 0u64..100_000, expired_share in 0.0f64..1.0) {
            let expired = (count as f64 * expired_share) as u64;
            let plan = trim_plan(count, expired, 1e12);
            prop_assert!(count - expired - plan.oldest <= MAX_ROWS);
            prop_assert!(plan.oldest == 0 || count - expired - plan.oldest == MAX_ROWS);
        }
    }
}
