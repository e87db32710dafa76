//! The devtools dashboard's small charts: an instrument's time series
//! ([`InstrumentSnapshot::history`], one point per collection window) as
//! lines scaled into a unit square — a counter as its rate per second, an
//! up-down counter or gauge as its value, a histogram as its p50, p95 and
//! p99 (the percentile band) — so that the panel only draws them.
//!
//! ```
//! use paperclip_core::telemetry::chart::chart;
//! use paperclip_core::telemetry::metrics::{Descriptor, InstrumentKind, InstrumentSnapshot, TimePoint};
//! let point = |t: f64, v: f64| TimePoint { start_ms: t, end_ms: t + 1_000.0, value: Some(v), summary: None };
//! let counter = InstrumentSnapshot {
//!     descriptor: Descriptor { name: "asks".into(), kind: InstrumentKind::Counter, unit: "1".into(), description: String::new() },
//!     series: Vec::new(),
//!     history: vec![point(0.0, 2.0), point(1_000.0, 4.0)],
//!     overflowed: 0,
//! };
//! let c = chart(&counter).unwrap();
//! assert_eq!((c.lines[0].name, c.max), ("per second", 4.0));
//! ```

use super::metrics::{InstrumentKind, InstrumentSnapshot, TimePoint};

/// One line of a chart: points `(x, y)` in `[0, 1]`, x by time, y by value
/// (0 at the bottom).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// What it shows (`per second`, `value`, `p50`, `p95`, `p99`).
    pub name: &'static str,
    /// Its points, oldest first.
    pub points: Vec<(f64, f64)>,
}

/// A chart of one instrument.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Its lines.
    pub lines: Vec<Line>,
    /// The value at the top (y = 1).
    pub max: f64,
    /// The value of each line's last point.
    pub last: Vec<(&'static str, f64)>,
    /// The time it covers, ms.
    pub from_ms: f64,
    /// Its end, ms.
    pub to_ms: f64,
}

type Read = fn(&TimePoint) -> Option<f64>;

fn rate(p: &TimePoint) -> Option<f64> {
    let seconds = (p.end_ms - p.start_ms) / 1_000.0;
    (seconds > 0.0).then_some(p.value? / seconds)
}

/// The chart of `instrument`'s time series; `None` with fewer than two
/// points (nothing to draw yet).
pub fn chart(instrument: &InstrumentSnapshot) -> Option<Chart> {
    let history = &instrument.history;
    if history.len() < 2 {
        return None;
    }
    let reads: Vec<(&'static str, Read)> = match instrument.descriptor.kind {
        InstrumentKind::Counter => vec![("per second", rate)],
        InstrumentKind::UpDownCounter | InstrumentKind::Gauge => vec![("value", |p| p.value)],
        InstrumentKind::Histogram => vec![
            ("p50", |p| p.summary?.p50),
            ("p95", |p| p.summary?.p95),
            ("p99", |p| p.summary?.p99),
        ],
    };
    let from_ms = history.first()?.start_ms;
    let to_ms = history.last()?.end_ms;
    let span = (to_ms - from_ms).max(1.0);
    let values: Vec<Vec<(f64, f64)>> = reads
        .iter()
        .map(|(_, read)| {
            history
                .iter()
                .filter_map(|p| Some((p.end_ms, read(p).filter(|v| v.is_finite())?)))
                .collect()
        })
        .collect();
    let max = values
        .iter()
        .flatten()
        .map(|(_, v)| *v)
        .fold(0.0f64, f64::max);
    let top = if max > 0.0 { max } else { 1.0 };
    let lines = reads
        .iter()
        .zip(&values)
        .map(|((name, _), points)| Line {
            name,
            points: points
                .iter()
                .map(|(t, v)| ((t - from_ms) / span, (v / top).clamp(0.0, 1.0)))
                .collect(),
        })
        .collect();
    let last = reads
        .iter()
        .zip(&values)
        .filter_map(|((name, _), points)| Some((*name, points.last()?.1)))
        .collect();
    Some(Chart {
        lines,
        max,
        last,
        from_ms,
        to_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::Descriptor;
    use crate::telemetry::sketch::Summary;
    use proptest::prelude::*;

    fn instrument(kind: InstrumentKind, history: Vec<TimePoint>) -> InstrumentSnapshot {
        InstrumentSnapshot {
            descriptor: Descriptor {
                name: "m".into(),
                kind,
                unit: "ms".into(),
                description: String::new(),
            },
            series: Vec::new(),
            history,
            overflowed: 0,
        }
    }

    fn point(t: f64, value: Option<f64>, summary: Option<Summary>) -> TimePoint {
        TimePoint {
            start_ms: t,
            end_ms: t + 2_000.0,
            value,
            summary,
        }
    }

    #[test]
    fn a_histogram_is_drawn_as_its_percentile_band() {
        let s = |p50, p95, p99| Summary {
            count: 3,
            p50: Some(p50),
            p95: Some(p95),
            p99: Some(p99),
            ..Summary::default()
        };
        let c = chart(&instrument(
            InstrumentKind::Histogram,
            vec![
                point(0.0, Some(3.0), Some(s(10.0, 40.0, 80.0))),
                point(2_000.0, Some(0.0), None),
                point(4_000.0, Some(3.0), Some(s(20.0, 50.0, 100.0))),
            ],
        ))
        .unwrap();
        let names: Vec<&str> = c.lines.iter().map(|l| l.name).collect();
        assert_eq!(names, ["p50", "p95", "p99"]);
        assert_eq!(c.max, 100.0);
        // A window with no measurement leaves a gap, not a zero.
        assert_eq!(c.lines[2].points, [(2.0 / 6.0, 0.8), (1.0, 1.0)]);
        assert_eq!(c.last, [("p50", 20.0), ("p95", 50.0), ("p99", 100.0)]);
    }

    #[test]
    fn a_counter_is_its_rate_and_one_point_is_no_chart() {
        let h = vec![point(0.0, Some(4.0), None), point(2_000.0, Some(0.0), None)];
        let c = chart(&instrument(InstrumentKind::Counter, h.clone())).unwrap();
        assert_eq!(c.last, [("per second", 0.0)]);
        assert_eq!(c.lines[0].points, [(0.5, 1.0), (1.0, 0.0)]);
        assert!(chart(&instrument(InstrumentKind::Counter, h[..1].to_vec())).is_none());
        // All zero: drawn at the bottom, not divided by zero.
        let zero = vec![point(0.0, Some(0.0), None), point(2_000.0, Some(0.0), None)];
        let c = chart(&instrument(InstrumentKind::Gauge, zero)).unwrap();
        assert!(c.lines[0].points.iter().all(|(_, y)| *y == 0.0));
    }

    proptest! {
        #[test]
        fn every_point_is_in_the_unit_square(
            values in prop::collection::vec(prop::option::of(-1e12f64..1e12), 2..50),
            kind in prop::sample::select(vec![InstrumentKind::Counter, InstrumentKind::Gauge, InstrumentKind::UpDownCounter]),
        ) {
            let history = values
                .iter()
                .enumerate()
                .map(|(i, v)| point(i as f64 * 2_000.0, *v, None))
                .collect();
            let c = chart(&instrument(kind, history)).unwrap();
            for (x, y) in c.lines.iter().flat_map(|l| &l.points) {
                prop_assert!((0.0..=1.0).contains(x) && (0.0..=1.0).contains(y));
            }
        }
    }
}
