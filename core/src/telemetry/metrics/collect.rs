//! Collection and inspection: the collected deltas of one window
//! ([`Collection`], its [`MetricData`] and [`DataPoint`]s, exported as
//! OTLP), [`Registry::collect`] which resets them and appends a
//! [`TimePoint`] to each instrument's bounded time series, and the
//! devtools panel's [`Registry::snapshot`] of current values.

use serde::{Deserialize, Serialize};

use super::instrument::{Descriptor, InstrumentKind};
use super::registry::{Cell, Registry};
use super::Labels;
use crate::telemetry::sketch::{Sketch, Summary};

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

impl Registry {
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
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{points, registry};
    use super::super::MetricsConfig;
    use super::*;
    use crate::telemetry::privacy::Scrubber;
    use crate::telemetry::{DropReason, Signal};

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
}
