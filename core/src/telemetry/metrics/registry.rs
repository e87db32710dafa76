//! The [`Registry`]: its per-instrument and per-series state,
//! construction with its own `telemetry.dropped` and
//! `telemetry.cardinality_overflow` counters, instrument registration, and
//! the recording hot path ([`Registry::add`], [`Registry::record`], ...)
//! with the accounting of dropped and overflowed measurements.

use std::collections::{HashMap, VecDeque};

use super::collect::TimePoint;
use super::instrument::{
    valid_name, Counter, Descriptor, Gauge, Histogram, Instrument, InstrumentKind, MetricError,
    Series, UpDownCounter,
};
use super::labels::{hash_labels, HashIndex};
use super::{Labels, MetricsConfig, CARDINALITY_OVERFLOW, DROPPED};
use crate::resilience::{check_range, InvalidSetting};
use crate::telemetry::privacy::Scrubber;
use crate::telemetry::sketch::Sketch;
use crate::telemetry::{DropReason, DropTally, Signal};

/// A series' value.
#[derive(Debug, Clone)]
pub(super) enum Cell {
    Counter { delta: u64, total: u64 },
    UpDown { delta: i64, total: i64 },
    Gauge { value: Option<f64> },
    Histogram(Box<Sketches>),
}

/// A histogram's window and its total (boxed: a sketch is large and most
/// series are counters).
#[derive(Debug, Clone, Default)]
pub(super) struct Sketches {
    pub(super) delta: Sketch,
    pub(super) total: Sketch,
}

impl Cell {
    pub(super) fn new(kind: InstrumentKind) -> Self {
        match kind {
            InstrumentKind::Counter => Self::Counter { delta: 0, total: 0 },
            InstrumentKind::UpDownCounter => Self::UpDown { delta: 0, total: 0 },
            InstrumentKind::Gauge => Self::Gauge { value: None },
            InstrumentKind::Histogram => Self::Histogram(Box::default()),
        }
    }
}

/// One label set of an instrument.
#[derive(Debug, Clone)]
pub(super) struct SeriesState {
    pub(super) labels: Labels,
    pub(super) cell: Cell,
    /// Measured since the last collection.
    pub(super) touched: bool,
    /// The overflow series (`otel.metric.overflow=true`).
    pub(super) overflow: bool,
    /// The next series with the same label hash.
    pub(super) next_same_hash: Option<u32>,
}

/// One instrument: its label sets and time series.
#[derive(Debug, Clone)]
pub(super) struct InstrumentState {
    pub(super) descriptor: Descriptor,
    /// Its cardinality limit.
    pub(super) limit: u32,
    pub(super) series: Vec<SeriesState>,
    /// Label hash to the first series with that hash.
    pub(super) index: HashIndex,
    pub(super) overflow_series: Option<u32>,
    /// Measurements folded into the overflow series.
    pub(super) overflowed: u64,
    pub(super) history: VecDeque<TimePoint>,
}

/// Instruments, series and their values (see the module docs).
#[derive(Debug, Clone)]
pub struct Registry {
    pub(super) config: MetricsConfig,
    pub(super) scrubber: Scrubber,
    pub(super) instruments: Vec<InstrumentState>,
    by_name: HashMap<String, u32>,
    pub(super) last_collect_ms: f64,
    pub(super) overflow_counter: Counter,
    pub(super) dropped_counter: Counter,
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

    /// Puts back a counter series' total from before a restart (what an
    /// earlier instance stored): snapshots include it, while deltas — and
    /// so exports and the time series — leave it out (it is no new
    /// increase).
    pub fn restore_total(&mut self, counter: Counter, labels: &[(&str, &str)], total: u64) {
        let s = self.series(counter, labels);
        if let Some(slot) = self.slot(s.instrument, s.series) {
            if let Cell::Counter { total: t, .. } = &mut slot.cell {
                *t = t.saturating_add(total);
            }
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
}

#[cfg(test)]
mod tests {
    use super::super::test_support::registry;
    use super::*;

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
}
