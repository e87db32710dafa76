//! Metrics: the [`Registry`] holds counters, up-down counters, gauges and
//! histograms (a [`Sketch`](super::sketch::Sketch) each), their label sets ("series") with a
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
//! [`Scrubber`](super::privacy::Scrubber) changes, allocates.
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

// Instrument kinds, descriptors and handles (instrument.rs); the registry,
// registration and the recording hot path (registry.rs); label sets, their
// hashing, interning and cardinality bound (labels.rs); collection, time
// series and snapshots (collect.rs).
mod collect;
mod instrument;
mod labels;
mod registry;

pub use collect::{
    Collection, DataPoint, InstrumentSnapshot, MetricData, PointValue, SeriesSnapshot,
    SnapshotValue, TimePoint,
};
pub use instrument::{
    Counter, Descriptor, Gauge, Histogram, Instrument, InstrumentKind, MetricError, Series,
    UpDownCounter,
};
pub use registry::Registry;

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod test_support {
    //! Helpers shared by the submodules' tests.

    use super::{Collection, DataPoint, MetricsConfig, Registry};
    use crate::telemetry::privacy::Scrubber;

    pub(super) fn registry(limit: u32) -> Registry {
        let config = MetricsConfig {
            cardinality_limit: limit,
            ..MetricsConfig::default()
        };
        Registry::new(config, Scrubber::default(), 0.0).unwrap()
    }

    pub(super) fn points<'a>(c: &'a Collection, name: &str) -> Vec<&'a DataPoint> {
        c.metrics
            .iter()
            .filter(|m| m.descriptor.name == name)
            .flat_map(|m| &m.points)
            .collect()
    }
}
