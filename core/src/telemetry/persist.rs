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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::engine::TickReport;
use super::errors::{Category, ErrorGroup, ErrorRecord, ErrorSource, Fingerprint, Severity};
use super::metrics::SnapshotValue;
use super::otlp::Endpoint;
use super::{Engine, Signal};

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
            for s in &m.series {
                let mut d = dims(s.labels.iter().map(|(k, v)| (k.as_str(), v.clone())));
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
    pub fn queue_json(&mut self, rows: Vec<Row>, from_ms: f64, to_ms: f64) -> TickReport {
        let mut report = TickReport::default();
        if rows.is_empty() {
            return report;
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
    fn a_console_line_names_the_row_and_its_labels() {
        let row = Row {
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
