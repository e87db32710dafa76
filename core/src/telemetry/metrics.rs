//! Metrics: the [`Registry`] holds counters, up-down counters, gauges and
//! histograms (a [`Sketch`] each), their label sets ("series") with a
//! bounded cardinality per instrument, delta collection for export and a
//! bounded per-instrument time series for the devtools panel.
//!
//! The hot path is made for ≤ 1 µs per measurement in the worker's wasm:
//! register an instrument once ([`Registry::counter`], ...), bind a label
//! set once ([`Registry::series`], which interns it) and record through the
//! returned [`Series`] handle ([`Registry::add`], [`Registry::record`],
//! ...): an index into two vectors, no hashing, no allocation. Recording
//! with labels each time ([`Registry::add_with`], ...) hashes the labels
//! (xxh3, order-independent) and finds the series without allocating when
//! it exists; only a new label set, or one that the privacy
//! [`Scrubber`] changes, allocates.
//!
//! Cardinality: an instrument keeps at most
//! [`MetricsConfig::cardinality_limit`] label sets; measurements with new
//! label sets beyond it go to one overflow series labelled
//! `otel.metric.overflow=true` (as the OpenTelemetry SDKs do) and each is
//! counted in the `telemetry.cardinality_overflow` counter, labelled with
//! the instrument's name.
//!
//! [`Registry::collect`] returns the deltas since the previous collection
//! (delta temporality, with the window's start and end) and resets them;
//! it also appends one point per instrument to its time series.
//!
//! ```
//! use paperclip_core::telemetry::metrics::{MetricsConfig, PointValue, Registry};
//! use paperclip_core::telemetry::privacy::Scrubber;
//!
//! let mut reg = Registry::new(MetricsConfig::default(), Scrubber::default(), 0.0)?;
//! let latency = reg.histogram("provider.latency", "ms", "time to the last byte")?;
//! let openai = reg.series(latency, &[("provider", "openai")]);
//! for ms in [120.0, 250.0, 900.0] {
//!     reg.record(openai, ms);
//! }
//! let batch = reg.collect(60_000.0);
//! assert_eq!((batch.start_ms, batch.end_ms), (0.0, 60_000.0));
//! let point = &batch.metrics.iter().find(|m| m.descriptor.name == "provider.latency").unwrap().points[0];
//! let PointValue::Histogram(sketch) = &point.value else { unreachable!() };
//! assert_eq!(sketch.count(), 3);
//! // Deltas were reset.
//! assert!(reg.collect(120_000.0).metrics.iter().all(|m| m.descriptor.name != "provider.latency"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::privacy::Scrubber;
use super::sketch::{Sketch, Summary};
use super::{AttrValue, DropReason, DropTally, Signal};
use crate::resilience::{check_range, InvalidSetting};

/// The label of the overflow series.
pub const OVERFLOW_LABEL: (&str, &str) = ("otel.metric.overflow", "true");
/// The counter of measurements folded into overflow series.
pub const CARDINALITY_OVERFLOW: &str = "telemetry.cardinality_overflow";
/// The counter of dropped telemetry (labels `reason`, `signal`).
pub const DROPPED: &str = "telemetry.dropped";

/// A label set: `(key, value)` pairs, sorted by key, keys unique.
pub type Labels = Vec<(String, String)>;

/// The registry's settings.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct MetricsConfig {
    /// Label sets per instrument (the overflow series not included).
    pub cardinality_limit: u32,
    /// Labels per label set (more are dropped and counted).
    pub max_labels: u32,
    /// The longest label value, in characters.
    pub max_label_len: u32,
    /// Points kept in each instrument's time series.
    pub history_len: u32,
    /// Instruments in the registry.
    pub max_instruments: u32,
}

impl MetricsConfig {
    /// Accepted `cardinality_limit`.
    pub const CARDINALITY_LIMIT: RangeInclusive<u32> = 1..=10_000;
    /// Accepted `max_labels`.
    pub const MAX_LABELS: RangeInclusive<u32> = 0..=32;
    /// Accepted `max_label_len`.
    pub const MAX_LABEL_LEN: RangeInclusive<u32> = 8..=1_024;
    /// Accepted `history_len`.
    pub const HISTORY_LEN: RangeInclusive<u32> = 1..=10_080;
    /// Accepted `max_instruments`.
    pub const MAX_INSTRUMENTS: RangeInclusive<u32> = 4..=4_096;

    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let c = Self::CARDINALITY_LIMIT;
        check_range(
            "metrics.cardinality_limit",
            self.cardinality_limit,
            *c.start(),
            *c.end(),
        )?;
        let l = Self::MAX_LABELS;
        check_range("metrics.max_labels", self.max_labels, *l.start(), *l.end())?;
        let v = Self::MAX_LABEL_LEN;
        check_range(
            "metrics.max_label_len",
            self.max_label_len,
            *v.start(),
            *v.end(),
        )?;
        let h = Self::HISTORY_LEN;
        check_range(
            "metrics.history_len",
            self.history_len,
            *h.start(),
            *h.end(),
        )?;
        let i = Self::MAX_INSTRUMENTS;
        check_range(
            "metrics.max_instruments",
            self.max_instruments,
            *i.start(),
            *i.end(),
        )
    }
}

impl Default for MetricsConfig {
    /// 100 label sets per instrument, 8 labels of 64 characters, 60 points
    /// of history (an hour at one collection a minute), 256 instruments.
    fn default() -> Self {
        Self {
            cardinality_limit: 100,
            max_labels: 8,
            max_label_len: 64,
            history_len: 60,
            max_instruments: 256,
        }
    }
}

/// The kinds of instrument.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentKind {
    /// A monotonic sum (`u64` increments).
    Counter,
    /// A sum that goes up and down (`i64` increments).
    UpDownCounter,
    /// The last value set.
    Gauge,
    /// A distribution (a [`Sketch`]).
    Histogram,
}

/// What an instrument is.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Its name (`provider.latency`).
    pub name: String,
    /// Its kind.
    pub kind: InstrumentKind,
    /// Its unit (UCUM: `ms`, `By`, `{request}`).
    pub unit: String,
    /// What it measures.
    pub description: String,
}

/// An instrument that cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// Not an OpenTelemetry instrument name (a letter, then up to 254
    /// letters, digits, `_`, `.`, `-` or `/`).
    #[error("invalid instrument name {0:?}")]
    InvalidName(String),
    /// The name is registered with another kind.
    #[error("instrument {name} is a {existing:?}, not a {requested:?}")]
    KindMismatch {
        /// The name.
        name: String,
        /// Its registered kind.
        existing: InstrumentKind,
        /// The kind asked for.
        requested: InstrumentKind,
    },
    /// [`MetricsConfig::max_instruments`] are registered.
    #[error("too many instruments ({0})")]
    TooManyInstruments(u32),
}

mod sealed {
    pub trait Sealed {}
}

/// An instrument handle ([`Counter`], [`UpDownCounter`], [`Gauge`],
/// [`Histogram`]).
pub trait Instrument: Copy + sealed::Sealed {
    /// Its kind.
    const KIND: InstrumentKind;
    /// Its index in the registry.
    fn index(self) -> u32;
    /// The handle of index `i`.
    #[doc(hidden)]
    fn from_index(i: u32) -> Self;
}

macro_rules! instrument {
    ($name:ident, $kind:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(u32);

        impl sealed::Sealed for $name {}

        impl Instrument for $name {
            const KIND: InstrumentKind = InstrumentKind::$kind;
            fn index(self) -> u32 {
                self.0
            }
            fn from_index(i: u32) -> Self {
                Self(i)
            }
        }
    };
}

instrument!(Counter, Counter, "A counter's handle.");
instrument!(UpDownCounter, UpDownCounter, "An up-down counter's handle.");
instrument!(Gauge, Gauge, "A gauge's handle.");
instrument!(Histogram, Histogram, "A histogram's handle.");

/// A bound label set of an instrument: the hot path's handle.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Series<I> {
    instrument: u32,
    series: u32,
    kind: PhantomData<I>,
}

impl<I> Clone for Series<I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for Series<I> {}

/// The value of one collected point.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// A counter's increase in the window.
    Counter(u64),
    /// An up-down counter's change in the window.
    UpDownCounter(i64),
    /// A gauge's last value in the window.
    Gauge(f64),
    /// A histogram's values in the window.
    Histogram(Sketch),
}

/// One collected point.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    /// Its label set.
    pub labels: Labels,
    /// Its value.
    pub value: PointValue,
}

/// The points of one instrument.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricData {
    /// The instrument.
    pub descriptor: Descriptor,
    /// One point per label set measured in the window.
    pub points: Vec<DataPoint>,
}

/// The deltas of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// Window start (the previous collection), ms.
    pub start_ms: f64,
    /// Window end (this collection), ms.
    pub end_ms: f64,
    /// Instruments measured in the window.
    pub metrics: Vec<MetricData>,
}

impl Collection {
    /// The number of points.
    pub fn len(&self) -> usize {
        self.metrics.iter().map(|m| m.points.len()).sum()
    }

    /// Whether there is no point.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }
}

/// One point of an instrument's time series (all label sets together).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct TimePoint {
    /// Window start, ms.
    pub start_ms: f64,
    /// Window end, ms.
    pub end_ms: f64,
    /// Counter: the increase; up-down counter: the level at the end;
    /// gauge: the largest value set (`None` if none was); histogram: the
    /// count.
    pub value: Option<f64>,
    /// Histogram: the window's distribution.
    pub summary: Option<Summary>,
}

/// A label set's current value.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotValue {
    /// A counter's total.
    Counter(u64),
    /// An up-down counter's level.
    UpDownCounter(i64),
    /// A gauge's last value.
    Gauge(Option<f64>),
    /// A histogram's distribution since the registry started.
    Histogram(Summary),
}

/// One label set in a snapshot.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    /// Its labels.
    pub labels: Labels,
    /// Its value.
    pub value: SnapshotValue,
}

/// An instrument's state, for the devtools panel.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InstrumentSnapshot {
    /// The instrument.
    pub descriptor: Descriptor,
    /// Its label sets.
    pub series: Vec<SeriesSnapshot>,
    /// Its time series, oldest first.
    pub history: Vec<TimePoint>,
    /// Measurements folded into its overflow series.
    pub overflowed: u64,
}

#[derive(Debug, Clone)]
enum Cell {
    Counter { delta: u64, total: u64 },
    UpDown { delta: i64, total: i64 },
    Gauge { value: Option<f64> },
    Histogram(Box<Sketches>),
}

/// A histogram's window and its total (boxed: a sketch is large and most
/// series are counters).
#[derive(Debug, Clone, Default)]
struct Sketches {
    delta: Sketch,
    total: Sketch,
}

impl Cell {
    fn new(kind: InstrumentKind) -> Self {
        match kind {
            InstrumentKind::Counter => Self::Counter { delta: 0, total: 0 },
            InstrumentKind::UpDownCounter => Self::UpDown { delta: 0, total: 0 },
            InstrumentKind::Gauge => Self::Gauge { value: None },
            InstrumentKind::Histogram => Self::Histogram(Box::default()),
        }
    }
}

#[derive(Debug, Clone)]
struct SeriesState {
    labels: Labels,
    cell: Cell,
    /// Measured since the last collection.
    touched: bool,
    overflow: bool,
    /// The next series with the same label hash.
    next_same_hash: Option<u32>,
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex = HashMap<u64, u32, BuildHasherDefault<PassThrough>>;

#[derive(Debug, Clone)]
struct InstrumentState {
    descriptor: Descriptor,
    limit: u32,
    series: Vec<SeriesState>,
    index: HashIndex,
    overflow_series: Option<u32>,
    overflowed: u64,
    history: VecDeque<TimePoint>,
}

/// The order-independent hash of a label set.
fn hash_labels<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    labels.fold(0x9E37_79B9_7F4A_7C15u64, |h, (k, v)| {
        h.wrapping_add(xxh3_64_with_seed(v.as_bytes(), xxh3_64(k.as_bytes())))
    })
}

/// Whether `raw` is the same set as `stored` (which has unique keys).
fn same_labels(stored: &Labels, raw: &[(&str, &str)]) -> bool {
    stored.len() == raw.len()
        && raw
            .iter()
            .all(|(k, v)| stored.iter().any(|(sk, sv)| sk == k && sv == v))
        && stored
            .iter()
            .all(|(sk, sv)| raw.iter().any(|(k, v)| sk == k && sv == v))
}

fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/'))
}

/// Instruments, series and their values (see the module docs).
#[derive(Debug, Clone)]
pub struct Registry {
    config: MetricsConfig,
    scrubber: Scrubber,
    instruments: Vec<InstrumentState>,
    by_name: HashMap<String, u32>,
    last_collect_ms: f64,
    overflow_counter: Counter,
    dropped_counter: Counter,
}

impl Registry {
    /// An empty registry (with its own `telemetry.dropped` and
    /// `telemetry.cardinality_overflow` counters), its first window
    /// starting at `now_ms`.
    pub fn new(
        config: MetricsConfig,
        scrubber: Scrubber,
        now_ms: f64,
    ) -> Result<Self, InvalidSetting> {
        config.validate()?;
        let mut reg = Self {
            config,
            scrubber,
            instruments: Vec::new(),
            by_name: HashMap::new(),
            last_collect_ms: now_ms,
            overflow_counter: Counter(0),
            dropped_counter: Counter(1),
        };
        // Both names are valid and the registry is empty: these cannot fail.
        let overflow = reg.register(
            CARDINALITY_OVERFLOW,
            InstrumentKind::Counter,
            "{measurement}",
            "measurements folded into an overflow series, by instrument",
        );
        let dropped = reg.register(
            DROPPED,
            InstrumentKind::Counter,
            "{item}",
            "telemetry dropped, by reason and signal",
        );
        debug_assert!(overflow.is_ok() && dropped.is_ok());
        // Their label sets are bounded by construction: one per instrument,
        // one per (reason, signal).
        reg.instruments[0].limit = config.max_instruments;
        reg.instruments[1].limit = (DropReason::ALL.len() * Signal::ALL.len()) as u32;
        Ok(reg)
    }

    /// Its settings.
    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    fn register(
        &mut self,
        name: &str,
        kind: InstrumentKind,
        unit: &str,
        description: &str,
    ) -> Result<u32, MetricError> {
        if let Some(&i) = self.by_name.get(name) {
            let existing = self.instruments[i as usize].descriptor.kind;
            return if existing == kind {
                Ok(i)
            } else {
                Err(MetricError::KindMismatch {
                    name: name.to_string(),
                    existing,
                    requested: kind,
                })
            };
        }
        if !valid_name(name) {
            return Err(MetricError::InvalidName(name.to_string()));
        }
        if self.instruments.len() >= self.config.max_instruments as usize {
            return Err(MetricError::TooManyInstruments(self.config.max_instruments));
        }
        let i = self.instruments.len() as u32;
        self.instruments.push(InstrumentState {
            descriptor: Descriptor {
                name: name.to_string(),
                kind,
                unit: self.scrubber.text_within(unit, 63),
                description: self.scrubber.text_within(description, 1_023),
            },
            limit: self.config.cardinality_limit,
            series: Vec::new(),
            index: HashIndex::default(),
            overflow_series: None,
            overflowed: 0,
            history: VecDeque::new(),
        });
        self.by_name.insert(name.to_string(), i);
        Ok(i)
    }

    /// Registers (or finds) a counter.
    pub fn counter(
        &mut self,
        name: &str,
        unit: &str,
        description: &str,
    ) -> Result<Counter, MetricError> {
        self.register(name, InstrumentKind::Counter, unit, description)
            .map(Counter)
    }

    /// Registers (or finds) an up-down counter.
    pub fn up_down_counter(
        &mut self,
        name: &str,
        unit: &str,
        description: &str,
    ) -> Result<UpDownCounter, MetricError> {
        self.register(name, InstrumentKind::UpDownCounter, unit, description)
            .map(UpDownCounter)
    }

    /// Registers (or finds) a gauge.
    pub fn gauge(
        &mut self,
        name: &str,
        unit: &str,
        description: &str,
    ) -> Result<Gauge, MetricError> {
        self.register(name, InstrumentKind::Gauge, unit, description)
            .map(Gauge)
    }

    /// Registers (or finds) a histogram.
    pub fn histogram(
        &mut self,
        name: &str,
        unit: &str,
        description: &str,
    ) -> Result<Histogram, MetricError> {
        self.register(name, InstrumentKind::Histogram, unit, description)
            .map(Histogram)
    }

    /// Sets one instrument's cardinality limit (existing label sets stay).
    pub fn set_cardinality_limit<I: Instrument>(
        &mut self,
        instrument: I,
        limit: u32,
    ) -> Result<(), InvalidSetting> {
        let c = MetricsConfig::CARDINALITY_LIMIT;
        check_range("metrics.cardinality_limit", limit, *c.start(), *c.end())?;
        if let Some(state) = self.instruments.get_mut(instrument.index() as usize) {
            state.limit = limit;
        }
        Ok(())
    }

    /// The handle of label set `labels` of `instrument`, creating the
    /// series if needed (or the overflow series beyond the limit).
    ///
    /// A handle from another registry matches no instrument here: the
    /// measurements made with it are dropped and counted
    /// ([`DropReason::InvalidValue`]).
    pub fn series<I: Instrument>(&mut self, instrument: I, labels: &[(&str, &str)]) -> Series<I> {
        let i = instrument.index();
        let series = if (i as usize) < self.instruments.len() {
            self.lookup(i, labels)
        } else {
            u32::MAX
        };
        Series {
            instrument: i,
            series,
            kind: PhantomData,
        }
    }

    fn find(&self, i: u32, hash: u64, labels: &[(&str, &str)]) -> Option<u32> {
        let state = &self.instruments[i as usize];
        let mut at = state.index.get(&hash).copied();
        while let Some(s) = at {
            let series = &state.series[s as usize];
            if !series.overflow && same_labels(&series.labels, labels) {
                return Some(s);
            }
            at = series.next_same_hash;
        }
        None
    }

    fn lookup(&mut self, i: u32, raw: &[(&str, &str)]) -> u32 {
        if let Some(s) = self.find(i, hash_labels(raw.iter().copied()), raw) {
            return s;
        }
        // Slow path: scrub, sort, deduplicate, bound. The registry's own
        // counters have fixed, known labels (and counting their drops
        // would recurse).
        let mut dropped = DropTally::default();
        let internal = i == self.overflow_counter.0 || i == self.dropped_counter.0;
        let labels = if internal {
            let mut labels: Labels = raw
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            labels.sort();
            labels.dedup_by(|a, b| a.0 == b.0);
            labels
        } else {
            self.canonical(raw, &mut dropped)
        };
        self.count_dropped(Signal::Metrics, dropped);
        let view: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let hash = hash_labels(view.iter().copied());
        if let Some(s) = self.find(i, hash, &view) {
            return s;
        }
        let state = &mut self.instruments[i as usize];
        let live = state.series.len() as u32 - u32::from(state.overflow_series.is_some());
        if live >= state.limit {
            return self.overflow_series(i);
        }
        let s = state.series.len() as u32;
        let next_same_hash = state.index.insert(hash, s);
        state.series.push(SeriesState {
            labels,
            cell: Cell::new(state.descriptor.kind),
            touched: false,
            overflow: false,
            next_same_hash,
        });
        s
    }

    fn overflow_series(&mut self, i: u32) -> u32 {
        let state = &mut self.instruments[i as usize];
        if let Some(s) = state.overflow_series {
            return s;
        }
        let s = state.series.len() as u32;
        state.series.push(SeriesState {
            labels: vec![(OVERFLOW_LABEL.0.to_string(), OVERFLOW_LABEL.1.to_string())],
            cell: Cell::new(state.descriptor.kind),
            touched: false,
            overflow: true,
            next_same_hash: None,
        });
        state.overflow_series = Some(s);
        s
    }

    fn canonical(&self, raw: &[(&str, &str)], dropped: &mut DropTally) -> Labels {
        let mut labels: Labels = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            match self.scrubber.attribute(k, AttrValue::from(*v)) {
                Some((k, value)) => {
                    let v = value.to_string();
                    let v = self
                        .scrubber
                        .text_within(&v, self.config.max_label_len as usize);
                    // The last value of a repeated key wins.
                    labels.retain(|(existing, _)| *existing != k);
                    labels.push((k, v));
                }
                None => dropped.add(DropReason::Redacted, 1),
            }
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        let max = self.config.max_labels as usize;
        if labels.len() > max {
            dropped.add(DropReason::AttributeLimit, (labels.len() - max) as u64);
            labels.truncate(max);
        }
        labels
    }

    #[inline]
    fn slot(&mut self, instrument: u32, series: u32) -> Option<&mut SeriesState> {
        self.instruments
            .get_mut(instrument as usize)?
            .series
            .get_mut(series as usize)
    }

    #[cold]
    fn count_overflow(&mut self, instrument: u32) {
        let state = &mut self.instruments[instrument as usize];
        state.overflowed += 1;
        let name = state.descriptor.name.clone();
        let s = self.series(self.overflow_counter, &[("metric", &name)]);
        self.add(s, 1);
    }

    #[cold]
    fn count_invalid(&mut self) {
        let mut t = DropTally::default();
        t.add(DropReason::InvalidValue, 1);
        self.count_dropped(Signal::Metrics, t);
    }

    /// Adds drops to `telemetry.dropped{reason, signal}`.
    pub fn count_dropped(&mut self, signal: Signal, tally: DropTally) {
        for (reason, n) in tally.iter() {
            let s = self.series(
                self.dropped_counter,
                &[("reason", reason.as_str()), ("signal", signal.as_str())],
            );
            self.add(s, n);
        }
    }

    /// How many items were dropped for `reason` and `signal` so far.
    pub fn dropped(&self, reason: DropReason, signal: Signal) -> u64 {
        let view = [("reason", reason.as_str()), ("signal", signal.as_str())];
        self.find(
            self.dropped_counter.0,
            hash_labels(view.iter().copied()),
            &view,
        )
        .and_then(|s| {
            match self.instruments[self.dropped_counter.0 as usize].series[s as usize].cell {
                Cell::Counter { delta, total } => Some(delta + total),
                _ => None,
            }
        })
        .unwrap_or(0)
    }

    /// Adds `value` to a counter's series.
    #[inline]
    pub fn add(&mut self, series: Series<Counter>, value: u64) {
        let Some(slot) = self.slot(series.instrument, series.series) else {
            return self.count_invalid();
        };
        if let Cell::Counter { delta, .. } = &mut slot.cell {
            *delta = delta.saturating_add(value);
        }
        slot.touched = true;
        if slot.overflow {
            self.count_overflow(series.instrument);
        }
    }

    /// Adds `value` (negative to subtract) to an up-down counter's series.
    #[inline]
    pub fn add_delta(&mut self, series: Series<UpDownCounter>, value: i64) {
        let Some(slot) = self.slot(series.instrument, series.series) else {
            return self.count_invalid();
        };
        if let Cell::UpDown { delta, .. } = &mut slot.cell {
            *delta = delta.saturating_add(value);
        }
        slot.touched = true;
        if slot.overflow {
            self.count_overflow(series.instrument);
        }
    }

    /// Sets a gauge's series (a non-finite value is dropped and counted).
    #[inline]
    pub fn set(&mut self, series: Series<Gauge>, value: f64) {
        if !value.is_finite() {
            return self.count_invalid();
        }
        let Some(slot) = self.slot(series.instrument, series.series) else {
            return self.count_invalid();
        };
        if let Cell::Gauge { value: v } = &mut slot.cell {
            *v = Some(value);
        }
        slot.touched = true;
        if slot.overflow {
            self.count_overflow(series.instrument);
        }
    }

    /// Records a value in a histogram's series (a non-finite value is
    /// dropped and counted).
    #[inline]
    pub fn record(&mut self, series: Series<Histogram>, value: f64) {
        let Some(slot) = self.slot(series.instrument, series.series) else {
            return self.count_invalid();
        };
        let ok = match &mut slot.cell {
            Cell::Histogram(h) => h.delta.add(value),
            _ => true,
        };
        if !ok {
            return self.count_invalid();
        }
        slot.touched = true;
        if slot.overflow {
            self.count_overflow(series.instrument);
        }
    }

    /// Adds to a counter with labels (see [`Registry::series`]).
    pub fn add_with(&mut self, counter: Counter, labels: &[(&str, &str)], value: u64) {
        let s = self.series(counter, labels);
        self.add(s, value);
    }

    /// Adds to an up-down counter with labels.
    pub fn add_delta_with(&mut self, counter: UpDownCounter, labels: &[(&str, &str)], value: i64) {
        let s = self.series(counter, labels);
        self.add_delta(s, value);
    }

    /// Sets a gauge with labels.
    pub fn set_with(&mut self, gauge: Gauge, labels: &[(&str, &str)], value: f64) {
        let s = self.series(gauge, labels);
        self.set(s, value);
    }

    /// Records in a histogram with labels.
    pub fn record_with(&mut self, histogram: Histogram, labels: &[(&str, &str)], value: f64) {
        let s = self.series(histogram, labels);
        self.record(s, value);
    }

    /// When the current window started.
    pub fn window_start_ms(&self) -> f64 {
        self.last_collect_ms
    }

    /// The deltas since the previous collection (only label sets measured
    /// in the window), which are then reset; appends a [`TimePoint`] to
    /// each instrument's time series.
    pub fn collect(&mut self, now_ms: f64) -> Collection {
        let start_ms = self.last_collect_ms;
        let end_ms = now_ms.max(start_ms);
        self.last_collect_ms = end_ms;
        let history_len = self.config.history_len as usize;
        let mut metrics = Vec::new();
        for state in &mut self.instruments {
            let mut points = Vec::new();
            let mut window = Sketch::new();
            let (mut sum, mut level, mut gauge_max) = (0f64, 0f64, None::<f64>);
            for series in &mut state.series {
                let touched = std::mem::take(&mut series.touched);
                let value = match &mut series.cell {
                    Cell::Counter { delta, total } => {
                        let d = std::mem::take(delta);
                        *total = total.saturating_add(d);
                        sum += d as f64;
                        PointValue::Counter(d)
                    }
                    Cell::UpDown { delta, total } => {
                        let d = std::mem::take(delta);
                        *total = total.saturating_add(d);
                        level += *total as f64;
                        PointValue::UpDownCounter(d)
                    }
                    Cell::Gauge { value } => match value {
                        Some(v) if touched => {
                            gauge_max = Some(gauge_max.map_or(*v, |m: f64| m.max(*v)));
                            PointValue::Gauge(*v)
                        }
                        _ => continue,
                    },
                    Cell::Histogram(h) => {
                        let delta = std::mem::take(&mut h.delta);
                        h.total.merge(&delta);
                        window.merge(&delta);
                        PointValue::Histogram(delta)
                    }
                };
                if touched {
                    points.push(DataPoint {
                        labels: series.labels.clone(),
                        value,
                    });
                }
            }
            let (value, summary) = match state.descriptor.kind {
                InstrumentKind::Counter => (Some(sum), None),
                InstrumentKind::UpDownCounter => (Some(level), None),
                InstrumentKind::Gauge => (gauge_max, None),
                InstrumentKind::Histogram => (Some(window.count() as f64), Some(window.summary())),
            };
            if state.history.len() >= history_len {
                state.history.pop_front();
            }
            state.history.push_back(TimePoint {
                start_ms,
                end_ms,
                value,
                summary,
            });
            if !points.is_empty() {
                metrics.push(MetricData {
                    descriptor: state.descriptor.clone(),
                    points,
                });
            }
        }
        Collection {
            start_ms,
            end_ms,
            metrics,
        }
    }

    /// Every instrument's current values and time series.
    pub fn snapshot(&self) -> Vec<InstrumentSnapshot> {
        self.instruments
            .iter()
            .map(|state| InstrumentSnapshot {
                descriptor: state.descriptor.clone(),
                series: state
                    .series
                    .iter()
                    .map(|s| SeriesSnapshot {
                        labels: s.labels.clone(),
                        value: match &s.cell {
                            Cell::Counter { delta, total } => {
                                SnapshotValue::Counter(total.saturating_add(*delta))
                            }
                            Cell::UpDown { delta, total } => {
                                SnapshotValue::UpDownCounter(total.saturating_add(*delta))
                            }
                            Cell::Gauge { value } => SnapshotValue::Gauge(*value),
                            Cell::Histogram(h) => {
                                let mut all = h.total.clone();
                                all.merge(&h.delta);
                                SnapshotValue::Histogram(all.summary())
                            }
                        },
                    })
                    .collect(),
                history: state.history.iter().copied().collect(),
                overflowed: state.overflowed,
            })
            .collect()
    }

    /// How many label sets an instrument has (its overflow series
    /// included).
    pub fn series_count<I: Instrument>(&self, instrument: I) -> usize {
        self.instruments
            .get(instrument.index() as usize)
            .map_or(0, |s| s.series.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn registry(limit: u32) -> Registry {
        let config = MetricsConfig {
            cardinality_limit: limit,
            ..MetricsConfig::default()
        };
        Registry::new(config, Scrubber::default(), 0.0).unwrap()
    }

    fn points<'a>(c: &'a Collection, name: &str) -> Vec<&'a DataPoint> {
        c.metrics
            .iter()
            .filter(|m| m.descriptor.name == name)
            .flat_map(|m| &m.points)
            .collect()
    }

    #[test]
    fn registration_is_idempotent_and_checked() {
        let mut r = registry(10);
        let a = r.counter("asks", "{ask}", "").unwrap();
        assert_eq!(r.counter("asks", "{ask}", "").unwrap(), a);
        assert!(matches!(
            r.gauge("asks", "", ""),
            Err(MetricError::KindMismatch { .. })
        ));
        for bad in ["", "1x", "a b", &"a".repeat(256)] {
            assert!(
                matches!(r.counter(bad, "", ""), Err(MetricError::InvalidName(_))),
                "{bad}"
            );
        }
        let mut small = Registry::new(
            MetricsConfig {
                max_instruments: 4,
                ..MetricsConfig::default()
            },
            Scrubber::default(),
            0.0,
        )
        .unwrap();
        small.counter("a", "", "").unwrap();
        small.counter("b", "", "").unwrap();
        assert_eq!(
            small.counter("c", "", ""),
            Err(MetricError::TooManyInstruments(4))
        );
        assert!(Registry::new(
            MetricsConfig {
                cardinality_limit: 0,
                ..MetricsConfig::default()
            },
            Scrubber::default(),
            0.0
        )
        .is_err());
    }

    #[test]
    fn labels_are_interned_in_any_order() {
        let mut r = registry(10);
        let c = r.counter("calls", "", "").unwrap();
        let a = r.series(c, &[("provider", "openai"), ("status", "ok")]);
        let b = r.series(c, &[("status", "ok"), ("provider", "openai")]);
        let dup = r.series(
            c,
            &[("status", "x"), ("provider", "openai"), ("status", "ok")],
        );
        assert_eq!(a, b);
        assert_eq!(a, dup);
        assert_ne!(a, r.series(c, &[("provider", "openai")]));
        r.add(a, 2);
        r.add_with(c, &[("provider", "openai"), ("status", "ok")], 3);
        let batch = r.collect(10.0);
        let p = points(&batch, "calls");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].value, PointValue::Counter(5));
        assert_eq!(
            p[0].labels,
            [
                ("provider".into(), "openai".into()),
                ("status".into(), "ok".into())
            ]
        );
    }

    #[test]
    fn labels_are_scrubbed_and_bounded() {
        let mut r = Registry::new(
            MetricsConfig {
                max_labels: 1,
                ..MetricsConfig::default()
            },
            Scrubber::default(),
            0.0,
        )
        .unwrap();
        let c = r.counter("pages", "", "").unwrap();
        r.add_with(
            c,
            &[
                ("url", "https://example.com/secret/path"),
                ("api_key", "sk-1234567890abcdef"),
                ("z", "1"),
            ],
            1,
        );
        let batch = r.collect(1.0);
        assert_eq!(
            points(&batch, "pages")[0].labels,
            [("url".into(), "https://example.com".into())]
        );
        assert_eq!(r.dropped(DropReason::Redacted, Signal::Metrics), 1);
        assert_eq!(r.dropped(DropReason::AttributeLimit, Signal::Metrics), 1);
    }

    #[test]
    fn overflow_series_and_counter() {
        let mut r = registry(2);
        let c = r.counter("by_page", "", "").unwrap();
        for page in ["a", "b", "c", "d", "c"] {
            r.add_with(c, &[("page", page)], 1);
        }
        assert_eq!(r.series_count(c), 3);
        let batch = r.collect(1.0);
        let p = points(&batch, "by_page");
        let overflow = p
            .iter()
            .find(|p| p.labels == [("otel.metric.overflow".to_string(), "true".to_string())])
            .unwrap();
        assert_eq!(overflow.value, PointValue::Counter(3));
        let counted = points(&batch, CARDINALITY_OVERFLOW);
        assert_eq!(counted[0].labels, [("metric".into(), "by_page".into())]);
        assert_eq!(counted[0].value, PointValue::Counter(3));
        let snap = r.snapshot();
        assert_eq!(
            snap.iter()
                .find(|s| s.descriptor.name == "by_page")
                .unwrap()
                .overflowed,
            3
        );
        // A bound handle to the overflow series keeps counting.
        let h = r.series(c, &[("page", "e")]);
        r.add(h, 1);
        assert_eq!(
            r.snapshot()
                .iter()
                .find(|s| s.descriptor.name == "by_page")
                .unwrap()
                .overflowed,
            4
        );
        // Raising the limit admits new label sets.
        r.set_cardinality_limit(c, 5).unwrap();
        r.add_with(c, &[("page", "f")], 1);
        assert_eq!(r.series_count(c), 4);
        // A handle of another registry records nothing here, counted.
        let mut other = registry(2);
        for n in 0..5 {
            other.counter(&format!("x{n}"), "", "").unwrap();
        }
        let foreign = other.counter("x5", "", "").unwrap();
        r.add_with(foreign, &[], 1);
        assert_eq!(r.series_count(foreign), 0);
        assert_eq!(r.dropped(DropReason::InvalidValue, Signal::Metrics), 1);
    }

    #[test]
    fn every_kind_collects_deltas_and_history() {
        let mut r = registry(10);
        let c = r.counter("c", "", "").unwrap();
        let u = r.up_down_counter("u", "", "").unwrap();
        let g = r.gauge("g", "", "").unwrap();
        let h = r.histogram("h", "ms", "").unwrap();
        let (sc, su, sg, sh) = (
            r.series(c, &[]),
            r.series(u, &[]),
            r.series(g, &[("x", "1")]),
            r.series(h, &[]),
        );
        r.add(sc, 4);
        r.add_delta(su, 5);
        r.add_delta(su, -2);
        r.set(sg, 1.5);
        r.set(sg, 2.5);
        r.set_with(g, &[("x", "2")], 7.0);
        r.record(sh, 10.0);
        r.record(sh, 30.0);
        r.record(sh, f64::NAN);
        r.set(sg, f64::INFINITY);
        assert_eq!(r.dropped(DropReason::InvalidValue, Signal::Metrics), 2);
        let first = r.collect(60_000.0);
        assert_eq!(points(&first, "c")[0].value, PointValue::Counter(4));
        assert_eq!(points(&first, "u")[0].value, PointValue::UpDownCounter(3));
        assert_eq!(
            points(&first, "g")
                .iter()
                .map(|p| p.value.clone())
                .collect::<Vec<_>>(),
            [PointValue::Gauge(2.5), PointValue::Gauge(7.0)]
        );
        let PointValue::Histogram(s) = &points(&first, "h")[0].value else {
            panic!()
        };
        assert_eq!((s.count(), s.sum()), (2, 40.0));
        // Second window: only what changed, with the new window's bounds.
        r.add_delta(su, -1);
        r.record_with(h, &[], 5.0);
        let second = r.collect(120_000.0);
        assert_eq!((second.start_ms, second.end_ms), (60_000.0, 120_000.0));
        assert!(points(&second, "c").is_empty());
        assert!(points(&second, "g").is_empty());
        assert_eq!(points(&second, "u")[0].value, PointValue::UpDownCounter(-1));
        assert_eq!(second.len(), 2);
        // Snapshots: totals since start; histories: one point per window.
        let snap = r.snapshot();
        let by = |n: &str| snap.iter().find(|s| s.descriptor.name == n).unwrap();
        assert_eq!(by("c").series[0].value, SnapshotValue::Counter(4));
        assert_eq!(by("u").series[0].value, SnapshotValue::UpDownCounter(2));
        let SnapshotValue::Histogram(sum) = &by("h").series[0].value else {
            panic!()
        };
        assert_eq!(sum.count, 3);
        assert_eq!(
            by("c").history.iter().map(|p| p.value).collect::<Vec<_>>(),
            [Some(4.0), Some(0.0)]
        );
        assert_eq!(
            by("u").history.iter().map(|p| p.value).collect::<Vec<_>>(),
            [Some(3.0), Some(2.0)]
        );
        assert_eq!(
            by("g").history.iter().map(|p| p.value).collect::<Vec<_>>(),
            [Some(7.0), None]
        );
        assert_eq!(by("h").history[0].summary.unwrap().count, 2);
        let json = serde_json::to_string(&snap).unwrap();
        assert_eq!(
            serde_json::from_str::<Vec<InstrumentSnapshot>>(&json).unwrap(),
            snap
        );
        let bytes = postcard::to_allocvec(&snap).unwrap();
        assert_eq!(
            postcard::from_bytes::<Vec<InstrumentSnapshot>>(&bytes).unwrap(),
            snap
        );
    }

    #[test]
    fn history_is_bounded() {
        let mut r = Registry::new(
            MetricsConfig {
                history_len: 3,
                ..MetricsConfig::default()
            },
            Scrubber::default(),
            0.0,
        )
        .unwrap();
        let c = r.counter("c", "", "").unwrap();
        for t in 1..=10 {
            r.add_with(c, &[], t);
            r.collect(t as f64 * 60_000.0);
        }
        let snap = r.snapshot();
        let h = &snap
            .iter()
            .find(|s| s.descriptor.name == "c")
            .unwrap()
            .history;
        assert_eq!(
            h.iter().map(|p| p.value.unwrap()).collect::<Vec<_>>(),
            [8.0, 9.0, 10.0]
        );
    }

    proptest! {
        /// No instrument ever has more label sets than its limit plus the
        /// overflow series; no measurement is lost: the overflow counter
        /// counts exactly those folded, and collected deltas add up to
        /// everything added.
        #[test]
        fn cardinality_limit_holds(
            limit in 1u32..20,
            adds in proptest::collection::vec((0u32..60, 0u32..3, 1u64..100), 0..300),
            collect_every in 1usize..50,
        ) {
            let mut r = registry(limit);
            let c = r.counter("c", "", "").unwrap();
            let h = r.histogram("h", "", "").unwrap();
            let (mut total, mut collected, mut hist_count) = (0u64, 0u64, 0u64);
            let mut seen = std::collections::HashSet::new();
            let mut folded = 0u64;
            let mut folded_collected = 0u64;
            for (n, (user, extra, v)) in adds.iter().enumerate() {
                let user = user.to_string();
                let extra = extra.to_string();
                let labels = [("user", user.as_str()), ("extra", extra.as_str())];
                if !seen.contains(&(user.clone(), extra.clone())) && seen.len() >= limit as usize {
                    folded += 2;
                } else {
                    seen.insert((user.clone(), extra.clone()));
                }
                r.add_with(c, &labels, *v);
                r.record_with(h, &labels, *v as f64);
                total += v;
                prop_assert!(r.series_count(c) <= limit as usize + 1);
                prop_assert!(r.series_count(h) <= limit as usize + 1);
                if n % collect_every == 0 {
                    let batch = r.collect(n as f64);
                    for p in points(&batch, "c") {
                        if let PointValue::Counter(d) = p.value { collected += d; }
                    }
                    for p in points(&batch, "h") {
                        if let PointValue::Histogram(s) = &p.value { hist_count += s.count(); }
                    }
                    for p in points(&batch, CARDINALITY_OVERFLOW) {
                        if let PointValue::Counter(d) = p.value { folded_collected += d; }
                    }
                }
            }
            let batch = r.collect(1e9);
            for p in points(&batch, "c") {
                if let PointValue::Counter(d) = p.value { collected += d; }
            }
            for p in points(&batch, "h") {
                if let PointValue::Histogram(s) = &p.value { hist_count += s.count(); }
            }
            for p in points(&batch, CARDINALITY_OVERFLOW) {
                if let PointValue::Counter(d) = p.value { folded_collected += d; }
            }
            prop_assert_eq!(collected, total);
            prop_assert_eq!(hist_count, adds.len() as u64);
            prop_assert_eq!(folded_collected, folded);
        }
    }
}
