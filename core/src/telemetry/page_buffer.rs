//! A page's telemetry buffer (pure; `platform::telemetry` holds one per
//! page and sends what it takes). Metrics are aggregated where they are
//! made: a count adds to its series, a duration joins its series' list, a
//! gauge keeps its last level; events and errors are kept one by one, in
//! order. So a page pays a lookup and an add per metric, and the worker
//! receives one record per series and flush instead of one per call.
//!
//! ```
//! use paperclip_core::telemetry::page_buffer::PageBuffer;
//!
//! let mut buffer = PageBuffer::default();
//! for _ in 0..1_000 {
//!     buffer.count("ui.clicks", &[("button", "ask")], 1);
//!     buffer.timing("ui.render_ms", &[], 2.5);
//! }
//! let batches = buffer.take("popup");
//! assert_eq!(batches.len(), 1);
//! assert_eq!(batches[0].records.len(), 2); // one count of 1,000, one list of 1,000 durations
//! assert!(buffer.is_empty());
//! ```

use super::pages::{PageRecord, RecordTelemetry, MAX_TELEMETRY_BATCH, MAX_TIMINGS};

/// Entries (series, events, errors) that make a batch due at once.
pub const FLUSH_AT: usize = 100;
/// Durations held that make a batch due at once.
pub const FLUSH_VALUES: usize = 1_000;
/// Most entries plus durations held while the background does not answer;
/// beyond, new ones are dropped and the drop is reported with the next
/// batch.
pub const CAPACITY: usize = 4_000;

#[derive(Debug, Clone, PartialEq)]
enum Level {
    Count(u64),
    Timings(Vec<f64>),
    Gauge(f64),
}

#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: String,
    labels: Vec<(String, String)>,
    level: Level,
}

/// What a page made since its last flush, aggregated per series.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PageBuffer {
    series: Vec<Series>,
    /// Events and errors, oldest first.
    records: Vec<PageRecord>,
    /// Durations held in `series`.
    values: usize,
    dropped: u32,
}

/// Which kind a series is: a name used as a counter and as a histogram
/// stays two series.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Count,
    Timing,
    Gauge,
}

impl Level {
    fn kind(&self) -> Kind {
        match self {
            Level::Count(_) => Kind::Count,
            Level::Timings(_) => Kind::Timing,
            Level::Gauge(_) => Kind::Gauge,
        }
    }
}

/// A page holds few series (it flushes at [`FLUSH_AT`]): found by a scan.
fn same(series: &Series, kind: Kind, name: &str, labels: &[(&str, &str)]) -> bool {
    series.level.kind() == kind
        && series.name == name
        && series.labels.len() == labels.len()
        && series
            .labels
            .iter()
            .zip(labels)
            .all(|((a, b), (c, d))| a == c && b == d)
}

impl PageBuffer {
    /// Entries and durations held.
    pub fn len(&self) -> usize {
        self.series.len() + self.records.len() + self.values
    }

    /// Whether nothing is held (drops not yet reported aside).
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.records.is_empty()
    }

    /// Whether a batch should go now rather than at the next timer.
    pub fn due(&self) -> bool {
        self.series.len() + self.records.len() >= FLUSH_AT || self.values >= FLUSH_VALUES
    }

    fn full(&mut self) -> bool {
        if self.len() >= CAPACITY {
            self.dropped = self.dropped.saturating_add(1);
            true
        } else {
            false
        }
    }

    /// The series of `kind`, `name` and `labels`, created empty (`level`)
    /// if new; `None` when full (counted dropped).
    fn series(
        &mut self,
        kind: Kind,
        name: &str,
        labels: &[(&str, &str)],
        level: impl FnOnce() -> Level,
    ) -> Option<&mut Series> {
        let found = self.series.iter().position(|s| same(s, kind, name, labels));
        let i = match found {
            Some(i) => i,
            None => {
                if self.full() {
                    return None;
                }
                self.series.push(Series {
                    name: name.to_string(),
                    labels: labels
                        .iter()
                        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                        .collect(),
                    level: level(),
                });
                self.series.len() - 1
            }
        };
        Some(&mut self.series[i])
    }

    /// Adds `value` to counter `name`; returns [`Self::due`].
    pub fn count(&mut self, name: &str, labels: &[(&str, &str)], value: u64) -> bool {
        if let Some(s) = self.series(Kind::Count, name, labels, || Level::Count(0)) {
            if let Level::Count(n) = &mut s.level {
                *n = n.saturating_add(value);
            }
        }
        self.due()
    }

    /// Records a duration of `ms` in histogram `name`; returns [`Self::due`].
    pub fn timing(&mut self, name: &str, labels: &[(&str, &str)], ms: f64) -> bool {
        if self.len() >= CAPACITY {
            self.dropped = self.dropped.saturating_add(1);
            return self.due();
        }
        let full_list = match self.series(Kind::Timing, name, labels, || Level::Timings(vec![])) {
            Some(Series {
                level: Level::Timings(list),
                ..
            }) => {
                if list.len() < MAX_TIMINGS {
                    list.push(ms);
                    false
                } else {
                    true
                }
            }
            _ => return self.due(),
        };
        if full_list {
            self.dropped = self.dropped.saturating_add(1);
        } else {
            self.values += 1;
        }
        self.due()
    }

    /// Sets gauge `name` to `value` (the last level wins); returns
    /// [`Self::due`].
    pub fn gauge(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> bool {
        if let Some(s) = self.series(Kind::Gauge, name, labels, || Level::Gauge(value)) {
            s.level = Level::Gauge(value);
        }
        self.due()
    }

    /// Keeps a record as it is (events, errors, and what a failed batch
    /// gave back); returns [`Self::due`].
    pub fn push(&mut self, record: PageRecord) -> bool {
        if !self.full() {
            if let PageRecord::Timings { ms, .. } = &record {
                self.values += ms.len();
            }
            self.records.push(record);
        }
        self.due()
    }

    /// Takes everything held as batches of at most
    /// [`MAX_TELEMETRY_BATCH`] records from `source` (the metrics first,
    /// then the events and errors in order); the drop count goes with the
    /// first batch (or alone).
    pub fn take(&mut self, source: &str) -> Vec<RecordTelemetry> {
        self.values = 0;
        let metrics = std::mem::take(&mut self.series)
            .into_iter()
            .map(|s| match s.level {
                Level::Count(value) => PageRecord::Count {
                    name: s.name,
                    labels: s.labels,
                    value,
                },
                Level::Timings(ms) => PageRecord::Timings {
                    name: s.name,
                    labels: s.labels,
                    ms,
                },
                Level::Gauge(value) => PageRecord::Gauge {
                    name: s.name,
                    labels: s.labels,
                    value,
                },
            });
        let mut records = metrics.chain(std::mem::take(&mut self.records)).peekable();
        let mut dropped = std::mem::take(&mut self.dropped);
        let mut out = Vec::new();
        while records.peek().is_some() || dropped > 0 {
            out.push(RecordTelemetry {
                source: source.to_string(),
                records: records.by_ref().take(MAX_TELEMETRY_BATCH).collect(),
                dropped: std::mem::take(&mut dropped),
            });
        }
        out
    }

    /// Puts back a batch the background did not take, within
    /// [`CAPACITY`] (the rest, and the batch's own drops, counted dropped);
    /// its records go again as they are.
    pub fn put_back(&mut self, batch: RecordTelemetry) {
        self.dropped = self.dropped.saturating_add(batch.dropped);
        for record in batch.records {
            self.push(record);
        }
    }

    /// Drops not yet reported.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn metrics_are_aggregated_per_series_and_events_kept_in_order() {
        let mut b = PageBuffer::default();
        b.count("ui.clicks", &[("button", "ask")], 1);
        b.count("ui.clicks", &[("button", "ask")], 2);
        b.count("ui.clicks", &[("button", "stop")], 1);
        b.event_for_test("first");
        b.timing("ui.render_ms", &[], 1.5);
        b.timing("ui.render_ms", &[], 2.5);
        b.gauge("memory.wasm_bytes", &[], 1e6);
        b.gauge("memory.wasm_bytes", &[], 2e6);
        b.event_for_test("second");
        // A name used as two kinds stays two series.
        b.timing("ui.clicks", &[("button", "ask")], 3.0);
        let batches = b.take("popup");
        assert_eq!(batches.len(), 1);
        let records = &batches[0].records;
        assert_eq!(
            records[0],
            PageRecord::Count {
                name: "ui.clicks".into(),
                labels: vec![("button".into(), "ask".into())],
                value: 3
            }
        );
        assert!(matches!(&records[1], PageRecord::Count { value: 1, .. }));
        assert_eq!(
            records[2],
            PageRecord::Timings {
                name: "ui.render_ms".into(),
                labels: vec![],
                ms: vec![1.5, 2.5]
            }
        );
        assert!(matches!(&records[3], PageRecord::Gauge { value, .. } if *value == 2e6));
        assert!(matches!(&records[4], PageRecord::Timings { ms, .. } if ms == &[3.0]));
        let events: Vec<_> = records[5..]
            .iter()
            .map(|r| match r {
                PageRecord::Event { name, .. } => name.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(events, ["first", "second"]);
        assert!(b.is_empty());
        assert_eq!(b.len(), 0);
        assert!(b.take("popup").is_empty());
    }

    #[test]
    fn due_at_many_series_or_many_durations() {
        let mut b = PageBuffer::default();
        for i in 0..FLUSH_AT - 1 {
            assert!(!b.count(&format!("c{i}"), &[], 1));
        }
        assert!(b.count("one.more", &[], 1));
        let mut b = PageBuffer::default();
        for _ in 0..FLUSH_VALUES - 1 {
            assert!(!b.timing("t", &[], 1.0));
        }
        assert!(b.timing("t", &[], 1.0));
        // Ten thousand adds to one series are never due by themselves.
        let mut b = PageBuffer::default();
        assert!((0..10_000).all(|_| !b.count("c", &[], 1)));
    }

    #[test]
    fn over_capacity_is_dropped_counted_and_reported_even_alone() {
        let mut b = PageBuffer::default();
        for i in 0..CAPACITY + 5 {
            b.count(&format!("c{i}"), &[], 1);
        }
        assert_eq!(b.len(), CAPACITY);
        assert_eq!(b.dropped(), 5);
        // A full list of one series drops too.
        let mut t = PageBuffer::default();
        for _ in 0..MAX_TIMINGS + 2 {
            t.timing("t", &[], 1.0);
        }
        assert_eq!((t.len(), t.dropped()), (MAX_TIMINGS + 1, 2));
        let batches = b.take("agent");
        assert_eq!(batches.len(), CAPACITY.div_ceil(MAX_TELEMETRY_BATCH));
        assert!(batches
            .iter()
            .all(|x| x.records.len() <= MAX_TELEMETRY_BATCH));
        assert_eq!(batches[0].dropped, 5);
        assert_eq!(batches.iter().map(|x| x.dropped).sum::<u32>(), 5);
        // Drops alone still go.
        let mut d = PageBuffer::default();
        d.put_back(RecordTelemetry {
            source: "agent".into(),
            records: vec![],
            dropped: 3,
        });
        let only = d.take("agent");
        assert_eq!(
            (only.len(), only[0].records.len(), only[0].dropped),
            (1, 0, 3)
        );
    }

    #[test]
    fn a_batch_put_back_goes_again_with_what_came_since() {
        let mut b = PageBuffer::default();
        b.count("c", &[], 2);
        b.timing("t", &[], 1.0);
        let batch = b.take("popup").remove(0);
        b.count("c", &[], 1);
        b.put_back(batch);
        assert_eq!(b.len(), 1 + 2 + 1);
        let count = |value| PageRecord::Count {
            name: "c".into(),
            labels: vec![],
            value,
        };
        let records = &b.take("popup")[0].records;
        assert_eq!(records.len(), 3);
        assert_eq!(records[0], count(1));
        assert_eq!(records[1], count(2));
    }

    impl PageBuffer {
        fn event_for_test(&mut self, name: &str) {
            self.push(PageRecord::Event {
                name: name.into(),
                properties: vec![],
            });
        }
    }

    proptest! {
        /// Nothing is lost or invented: every add and every duration is in
        /// what is taken, or counted dropped.
        #[test]
        fn everything_is_sent_or_counted(ops in prop::collection::vec((0u8..3, 0usize..8, 1u64..5), 0..3_000)) {
            let mut b = PageBuffer::default();
            let (mut adds, mut durations) = (0u64, 0u64);
            for (kind, series, value) in &ops {
                let name = format!("m{series}");
                match kind {
                    0 => { b.count(&name, &[("k", "v")], *value); adds += value; }
                    1 => { b.timing(&name, &[], *value as f64); durations += 1; }
                    _ => { b.push(PageRecord::Event { name, properties: vec![] }); }
                }
            }
            let events = ops.iter().filter(|o| o.0 == 2).count() as u64;
            let batches = b.take("popup");
            let (mut got_adds, mut got_durations, mut got_events, mut dropped) = (0, 0, 0, 0);
            for batch in batches {
                dropped += u64::from(batch.dropped);
                for r in batch.records {
                    match r {
                        PageRecord::Count { value, .. } => got_adds += value,
                        PageRecord::Timings { ms, .. } => got_durations += ms.len() as u64,
                        PageRecord::Event { .. } => got_events += 1,
                        _ => {}
                    }
                }
            }
            prop_assert_eq!(got_adds, adds);
            prop_assert_eq!(got_durations + got_events + dropped, durations + events);
        }
    }
}
