//! Records from pages: [`Engine::accept_page`] takes a
//! [`RecordTelemetry`] batch (the agent's, popup's, options page's or
//! devtools panel's local buffer) into the engine, labelling every record
//! with its source page. Bad records are refused one by one and counted.
//!
//! ```
//! use paperclip_core::telemetry::pages::{PageRecord, RecordTelemetry};
//! use paperclip_core::telemetry::{Engine, EngineConfig};
//!
//! let mut engine = Engine::new(EngineConfig::default(), 0.0)?;
//! let batch = RecordTelemetry {
//!     source: "agent".into(),
//!     records: vec![
//!         PageRecord::Timings { name: "agent.render_ms".into(), labels: vec![], ms: vec![4.0] },
//!         PageRecord::Count { name: "not a name!".into(), labels: vec![], value: 1 },
//!     ],
//!     dropped: 0,
//! };
//! let done = engine.accept_page(&batch, 1.0, 0.5);
//! assert_eq!((done.accepted, done.dropped), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

use super::errors::{Category, ErrorInput, Severity};
use super::{AttrValue, DropReason, DropTally, Engine, Signal};

/// Most records in one [`RecordTelemetry`] (the rest are counted as dropped).
pub const MAX_TELEMETRY_BATCH: usize = 500;
/// Most durations in one [`PageRecord::Timings`] (a longer list is refused
/// whole).
pub const MAX_TIMINGS: usize = 1_000;

/// One telemetry record made in a page. Names and labels are bounded and
/// scrubbed by the background (no page text, URLs or keys get through).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum PageRecord {
    /// Add `value` to counter `name`.
    Count {
        /// Instrument name.
        name: String,
        /// Labels.
        #[serde(default)]
        labels: Vec<(String, String)>,
        /// How much.
        value: u64,
    },
    /// Record durations in histogram `name` (a page sends each series'
    /// durations since its last batch together; at most [`MAX_TIMINGS`]).
    Timings {
        /// Instrument name.
        name: String,
        /// Labels.
        #[serde(default)]
        labels: Vec<(String, String)>,
        /// Milliseconds, each finite and not negative.
        ms: Vec<f64>,
    },
    /// Set gauge `name` (a level: memory in use, entries held).
    Gauge {
        /// Instrument name.
        name: String,
        /// Labels.
        #[serde(default)]
        labels: Vec<(String, String)>,
        /// The level, finite and not negative.
        value: f64,
    },
    /// An event.
    Event {
        /// Event name.
        name: String,
        /// Properties.
        #[serde(default)]
        properties: Vec<(String, String)>,
    },
    /// An error (a panic, a failed call).
    Error {
        /// The message.
        message: String,
        /// Its kind (`panic`, `TypeError`, ...).
        kind: String,
        /// The stack, if any.
        #[serde(default)]
        stack: Option<String>,
    },
}

/// A batch of telemetry records from one page.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RecordTelemetry {
    /// The reporting page: `agent`, `popup`, `options` or `devtools`.
    pub source: String,
    /// The records, oldest first.
    pub records: Vec<PageRecord>,
    /// Records the page dropped before sending (its buffer was full).
    #[serde(default)]
    pub dropped: u32,
}

/// What became of a [`RecordTelemetry`] batch.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TelemetryRecorded {
    /// Records taken in (each duration of a [`PageRecord::Timings`] counted
    /// apart).
    pub accepted: u32,
    /// Records refused (bad names, over the batch limit), counted in
    /// `telemetry.dropped`.
    pub dropped: u32,
}

/// The pages that may report.
pub const SOURCES: &[&str] = &["agent", "popup", "options", "devtools"];

impl Engine {
    /// Takes page batch `batch` in at `now_ms` (`r`: a random number in
    /// `[0, 1)` for sampling). Records over [`MAX_TELEMETRY_BATCH`], with an
    /// invalid instrument name, or from an unknown source are refused; the
    /// page's own drops and the refusals are counted in `telemetry.dropped`.
    pub fn accept_page(
        &mut self,
        batch: &RecordTelemetry,
        now_ms: f64,
        r: f64,
    ) -> TelemetryRecorded {
        let source = if SOURCES.contains(&batch.source.as_str()) {
            batch.source.as_str()
        } else {
            "unknown"
        };
        let mut accepted = 0u32;
        let mut refused = 0u32;
        for (i, record) in batch.records.iter().enumerate() {
            if i >= MAX_TELEMETRY_BATCH || source == "unknown" {
                refused += 1;
                continue;
            }
            let ok = match record {
                PageRecord::Count {
                    name,
                    labels,
                    value,
                } => {
                    let labels = with_source(labels, source);
                    match self.metrics_mut().counter(name, "1", "") {
                        Ok(c) => {
                            self.metrics_mut().add_with(c, &labels, *value);
                            true
                        }
                        Err(_) => false,
                    }
                }
                PageRecord::Timings { name, labels, ms } => {
                    let labels = with_source(labels, source);
                    match self.metrics_mut().histogram(name, "ms", "") {
                        Ok(h) if ms.len() <= MAX_TIMINGS => {
                            for &v in ms {
                                if v.is_finite() && v >= 0.0 {
                                    self.metrics_mut().record_with(h, &labels, v);
                                    accepted += 1;
                                } else {
                                    refused += 1;
                                }
                            }
                        }
                        _ => refused += ms.len().max(1) as u32,
                    }
                    continue;
                }
                PageRecord::Gauge {
                    name,
                    labels,
                    value,
                } => {
                    let labels = with_source(labels, source);
                    match self.metrics_mut().gauge(name, "1", "") {
                        Ok(g) if value.is_finite() && *value >= 0.0 => {
                            self.metrics_mut().set_with(g, &labels, *value);
                            true
                        }
                        _ => false,
                    }
                }
                PageRecord::Event { name, properties } => {
                    let mut props: Vec<(&str, AttrValue)> = properties
                        .iter()
                        .map(|(k, v)| (k.as_str(), AttrValue::from(v.as_str())))
                        .collect();
                    props.push(("source", AttrValue::from(source)));
                    self.event(name, &props, now_ms, r);
                    true
                }
                PageRecord::Error {
                    message,
                    kind,
                    stack,
                } => {
                    // A page reports its panics (a part stopped) and
                    // failed calls.
                    let severity = if kind == "panic" {
                        Severity::Fatal
                    } else {
                        Severity::Error
                    };
                    self.error(
                        ErrorInput {
                            severity,
                            category: Category::Ui,
                            message,
                            kind,
                            stack: stack.as_deref(),
                            context: &[],
                            component: source,
                            page_url: None,
                        },
                        now_ms,
                        r,
                    );
                    true
                }
            };
            if ok {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
        let mut tally = DropTally::default();
        tally.add(
            DropReason::Rejected,
            u64::from(refused) + u64::from(batch.dropped),
        );
        self.metrics_mut().count_dropped(Signal::Metrics, tally);
        TelemetryRecorded {
            accepted,
            dropped: refused,
        }
    }
}

fn with_source<'a>(labels: &'a [(String, String)], source: &'a str) -> Vec<(&'a str, &'a str)> {
    labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("source", source)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::panel::{PanelAnswer, PanelQuery};
    use crate::telemetry::EngineConfig;

    #[test]
    fn page_records_reach_the_engine_labelled_and_drops_are_counted() {
        let mut engine = Engine::new(EngineConfig::default(), 0.0).unwrap();
        let mut records: Vec<PageRecord> = (0..MAX_TELEMETRY_BATCH + 3)
            .map(|i| PageRecord::Count {
                name: "agent.clicks".into(),
                labels: vec![(
                    "button".into(),
                    if i % 2 == 0 { "send" } else { "stop" }.into(),
                )],
                value: 1,
            })
            .collect();
        records[0] = PageRecord::Error {
            message: "panicked at src/lib.rs:10:5: index out of bounds".into(),
            kind: "panic".into(),
            stack: Some("Error: panic\n    at chrome-extension://abc/pkg/agent.js:1:2".into()),
        };
        let done = engine.accept_page(
            &RecordTelemetry {
                source: "agent".into(),
                records,
                dropped: 7,
            },
            5.0,
            0.5,
        );
        assert_eq!(done.accepted as usize, MAX_TELEMETRY_BATCH);
        assert_eq!(done.dropped, 3);
        let PanelAnswer::Errors(groups) = engine.query(&PanelQuery::Errors { limit: 10 }) else {
            panic!("errors")
        };
        assert_eq!(groups.len(), 1);
        let stranger = engine.accept_page(
            &RecordTelemetry {
                source: "evil".into(),
                records: vec![PageRecord::Event {
                    name: "x".into(),
                    properties: vec![],
                }],
                dropped: 0,
            },
            6.0,
            0.5,
        );
        assert_eq!((stranger.accepted, stranger.dropped), (0, 1));
    }

    #[test]
    fn a_page_gauge_is_its_level_and_a_bad_level_is_refused() {
        use crate::telemetry::metrics::SnapshotValue;
        let mut engine = Engine::new(EngineConfig::default(), 0.0).unwrap();
        let gauge = |value: f64| PageRecord::Gauge {
            name: "memory.wasm_bytes".into(),
            labels: vec![],
            value,
        };
        let done = engine.accept_page(
            &RecordTelemetry {
                source: "popup".into(),
                records: vec![gauge(2e6), gauge(3e6), gauge(f64::NAN), gauge(-1.0)],
                dropped: 0,
            },
            1.0,
            0.5,
        );
        assert_eq!((done.accepted, done.dropped), (2, 2));
        let snapshot = engine.metrics().snapshot();
        let memory = snapshot
            .iter()
            .find(|i| i.descriptor.name == "memory.wasm_bytes")
            .expect("the gauge");
        assert_eq!(memory.series.len(), 1);
        assert_eq!(
            memory.series[0].labels,
            vec![("source".to_string(), "popup".to_string())]
        );
        assert_eq!(memory.series[0].value, SnapshotValue::Gauge(Some(3e6)));
    }

    #[test]
    fn a_page_list_of_durations_counts_each_and_a_list_over_the_bound_is_refused() {
        let mut engine = Engine::new(EngineConfig::default(), 0.0).unwrap();
        let timings = |ms: Vec<f64>| PageRecord::Timings {
            name: "ui.render_ms".into(),
            labels: vec![],
            ms,
        };
        let done = engine.accept_page(
            &RecordTelemetry {
                source: "agent".into(),
                records: vec![
                    timings(vec![1.0, 2.0, f64::NAN, -3.0, 4.0]),
                    timings(vec![1.0; MAX_TIMINGS + 1]),
                ],
                dropped: 0,
            },
            1.0,
            0.5,
        );
        assert_eq!(
            (done.accepted, done.dropped),
            (3, 2 + MAX_TIMINGS as u32 + 1)
        );
        let snapshot = engine.metrics().snapshot();
        let render = snapshot
            .iter()
            .find(|i| i.descriptor.name == "ui.render_ms")
            .expect("the histogram");
        let crate::telemetry::metrics::SnapshotValue::Histogram(h) = &render.series[0].value else {
            panic!("a histogram")
        };
        assert_eq!(h.count, 3);
    }
}
