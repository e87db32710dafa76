//! Label sets ("series"): the order-independent xxh3 hash of a label set
//! and the pass-through index keyed by it, interning a label set into a
//! [`Series`] handle ([`Registry::series`]: found without allocating when
//! it exists, otherwise scrubbed, sorted, deduplicated and bounded), and
//! the per-instrument cardinality bound with its overflow series.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::instrument::{Instrument, Series};
use super::registry::{Cell, Registry, SeriesState};
use super::{Labels, OVERFLOW_LABEL};
use crate::telemetry::{AttrValue, DropReason, DropTally, Signal};

/// A hasher for keys that are already hashes.
#[derive(Default)]
pub(super) struct PassThrough(u64);

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

/// Label hash to the first series with that hash.
pub(super) type HashIndex = HashMap<u64, u32, BuildHasherDefault<PassThrough>>;

/// The order-independent hash of a label set.
pub(super) fn hash_labels<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
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

impl Registry {
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

    /// The series of instrument `i` with these labels, if any.
    pub(super) fn find(&self, i: u32, hash: u64, labels: &[(&str, &str)]) -> Option<u32> {
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
    use super::super::test_support::{points, registry};
    use super::super::{MetricsConfig, PointValue, CARDINALITY_OVERFLOW};
    use super::*;
    use crate::telemetry::privacy::Scrubber;
    use proptest::prelude::*;

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
