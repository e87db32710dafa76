//! Mergeable quantile sketches for histograms and timings: [`Sketch`], a
//! thin wrapper around the `sketches-ddsketch` crate's DDSketch, and its
//! [`Summary`] (count, sum, min, max, p50, p90, p95, p99).
//!
//! A DDSketch keeps counts in logarithmic buckets, so every quantile it
//! returns is within a *relative* error of [`RELATIVE_ACCURACY`] (1 %) of
//! the exact quantile, whatever the distribution; two sketches merge
//! without loss (a merged sketch answers as if it had seen both streams).
//!
//! ```
//! use paperclip_core::telemetry::sketch::Sketch;
//!
//! let mut a = Sketch::new();
//! let mut b = Sketch::new();
//! for ms in 1..=500 { a.add(ms as f64); }
//! for ms in 501..=1000 { b.add(ms as f64); }
//! a.merge(&b);
//! let s = a.summary();
//! assert_eq!((s.count, s.min, s.max), (1000, Some(1.0), Some(1000.0)));
//! let p99 = s.p99.unwrap();
//! assert!((p99 - 990.0).abs() <= 0.01 * 990.0);
//! ```
//!
//! The crate was chosen over a hand-written sketch: it is a direct port of
//! DataDog's reference implementation (the same index mapping as the Java
//! one), pure Rust with no dependency besides serde, so it builds for
//! `wasm32-unknown-unknown`. Its serde derive writes an empty sketch's
//! `min`/`max` as infinities, which JSON cannot carry; [`Sketch`] therefore
//! serialises an empty sketch as `null` and checks, when reading, that the
//! accuracy is the one every sketch here uses (so merges cannot fail).

use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};

/// The relative error of every quantile: `|estimate − exact| ≤ 1 % × |exact|`.
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// The most buckets a sketch keeps per sign (values spanning more than
/// 1.02^2048 ≈ 4·10¹⁷ collapse their lowest buckets). Each takes 8 bytes;
/// the buckets grow in steps of 128 as values arrive.
pub const MAX_BUCKETS: u32 = 2048;

/// Magnitudes below this count as zero.
pub const MIN_VALUE: f64 = 1e-9;

/// The quantiles reported in a [`Summary`] (and in OTLP).
pub const QUANTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];

fn config() -> Config {
    Config::new(RELATIVE_ACCURACY, MAX_BUCKETS, MIN_VALUE)
}

/// A mergeable quantile sketch (DDSketch, 1 % relative accuracy).
#[derive(Clone, Serialize, Deserialize)]
#[serde(into = "Option<DDSketch>", try_from = "Option<DDSketch>")]
pub struct Sketch {
    inner: DDSketch,
}

impl Default for Sketch {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Sketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sketch").field(&self.summary()).finish()
    }
}

impl PartialEq for Sketch {
    /// Equal when they summarise alike (a sketch's buckets are not exposed).
    fn eq(&self, other: &Self) -> bool {
        self.summary() == other.summary()
    }
}

/// A sketch read back with a different accuracy than [`RELATIVE_ACCURACY`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("sketch has gamma {gamma}, expected {expected}")]
pub struct SketchMismatch {
    /// Its bucket growth factor.
    pub gamma: f64,
    /// The growth factor of [`RELATIVE_ACCURACY`].
    pub expected: f64,
}

impl From<Sketch> for Option<DDSketch> {
    fn from(s: Sketch) -> Self {
        (!s.is_empty()).then_some(s.inner)
    }
}

impl TryFrom<Option<DDSketch>> for Sketch {
    type Error = SketchMismatch;

    fn try_from(value: Option<DDSketch>) -> Result<Self, Self::Error> {
        let Some(inner) = value else {
            return Ok(Self::new());
        };
        // The config is not readable, but merging reports a mismatch.
        let mut probe = DDSketch::new(config());
        match probe.merge(&inner) {
            Ok(()) => Ok(Self { inner }),
            Err(_) => {
                let expected = config().gamma;
                let gamma = serde_json::to_value(&inner)
                    .ok()
                    .and_then(|v| v["config"]["gamma"].as_f64())
                    .unwrap_or(f64::NAN);
                Err(SketchMismatch { gamma, expected })
            }
        }
    }
}

impl Sketch {
    /// An empty sketch.
    pub fn new() -> Self {
        Self {
            inner: DDSketch::new(config()),
        }
    }

    /// Adds a value; `false` (and nothing recorded) if it is not finite.
    #[inline]
    pub fn add(&mut self, value: f64) -> bool {
        if value.is_finite() {
            self.inner.add(value);
            true
        } else {
            false
        }
    }

    /// Adds a value `n` times; `false` if it is not finite.
    pub fn add_n(&mut self, value: f64, n: u64) -> bool {
        if value.is_finite() {
            self.inner.add_with_count(value, n);
            true
        } else {
            false
        }
    }

    /// Adds every value seen by `other`.
    pub fn merge(&mut self, other: &Sketch) {
        // Every sketch is built by `config()` (deserialisation checks it),
        // so the configs match and the merge cannot fail.
        let merged = self.inner.merge(&other.inner);
        debug_assert!(merged.is_ok(), "sketch configs differ");
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.inner.count() == 0
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.inner.count() as u64
    }

    /// Their sum (0 when empty).
    pub fn sum(&self) -> f64 {
        self.inner.sum().unwrap_or(0.0)
    }

    /// The smallest value (exact).
    pub fn min(&self) -> Option<f64> {
        self.inner.min()
    }

    /// The largest value (exact).
    pub fn max(&self) -> Option<f64> {
        self.inner.max()
    }

    /// The `q`-quantile (`q` in `[0, 1]`), within [`RELATIVE_ACCURACY`] of
    /// the exact lower quantile (the value of rank `⌊q·(count − 1)⌋`);
    /// `None` when empty or when `q` is outside `[0, 1]`.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.inner.quantile(q).ok().flatten()
    }

    /// Count, sum, min, max and the [`QUANTILES`].
    pub fn summary(&self) -> Summary {
        Summary {
            count: self.count(),
            sum: self.sum(),
            min: self.min(),
            max: self.max(),
            p50: self.quantile(0.5),
            p90: self.quantile(0.9),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
        }
    }
}

/// What a [`Sketch`] says, for snapshots and exports.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Values seen.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest (`None` when empty).
    pub min: Option<f64>,
    /// The largest.
    pub max: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

impl Summary {
    /// The mean (`None` when empty).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// `(quantile, value)` for each of [`QUANTILES`] (empty when empty).
    pub fn quantiles(&self) -> Vec<(f64, f64)> {
        [self.p50, self.p90, self.p95, self.p99]
            .into_iter()
            .zip(QUANTILES)
            .filter_map(|(v, q)| v.map(|v| (q, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The exact lower quantile the sketch approximates.
    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() as f64 - 1.0)).floor() as usize]
    }

    fn within_bound(estimate: f64, exact: f64) -> bool {
        // A tiny absolute slack for float rounding in ln/exp.
        (estimate - exact).abs() <= RELATIVE_ACCURACY * exact.abs() * (1.0 + 1e-9) + 1e-9
    }

    #[test]
    fn empty_sketch() {
        let s = Sketch::new();
        assert!(s.is_empty());
        assert_eq!(s.quantile(0.5), None);
        assert_eq!(s.summary(), Summary::default());
        assert_eq!(s.summary().mean(), None);
        assert!(s.summary().quantiles().is_empty());
    }

    #[test]
    fn rejects_non_finite_values() {
        let mut s = Sketch::new();
        assert!(!s.add(f64::NAN));
        assert!(!s.add(f64::INFINITY));
        assert!(!s.add_n(f64::NEG_INFINITY, 3));
        assert!(s.is_empty());
        assert!(s.add_n(2.0, 3));
        assert_eq!((s.count(), s.sum()), (3, 6.0));
        assert_eq!(s.quantile(1.5), None);
    }

    #[test]
    fn serialises_to_json_and_postcard_even_when_empty() {
        let mut s = Sketch::new();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "null");
        assert!(serde_json::from_str::<Sketch>(&json).unwrap().is_empty());
        for v in [0.0, -3.5, 1.0, 250.0, 1e6] {
            s.add(v);
        }
        let back: Sketch = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.summary(), s.summary());
        let bytes = postcard::to_allocvec(&s).unwrap();
        let back: Sketch = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.summary(), s.summary());
        // Still mergeable after the trip.
        let mut merged = back.clone();
        merged.merge(&s);
        assert_eq!(merged.count(), 10);
    }

    #[test]
    fn refuses_a_sketch_of_another_accuracy() {
        let mut other = DDSketch::new(Config::new(0.05, 512, 1e-9));
        other.add(1.0);
        let json = serde_json::to_string(&Some(other)).unwrap();
        let err = serde_json::from_str::<Sketch>(&json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sketch has gamma"), "{err}");
    }

    #[test]
    fn summary_lists_quantiles_in_order() {
        let mut s = Sketch::new();
        for v in 1..=100 {
            s.add(v as f64);
        }
        let q = s.summary().quantiles();
        assert_eq!(q.iter().map(|(q, _)| *q).collect::<Vec<_>>(), QUANTILES);
        assert!(q.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(s.summary().mean(), Some(50.5));
    }

    proptest! {
        /// p50/p90/p95/p99 lie within the sketch's relative error of the
        /// exact quantiles, for positive, negative and zero values.
        #[test]
        fn quantiles_within_the_bound(
            values in proptest::collection::vec(
                prop_oneof![
                    8 => 1e-3f64..1e9,
                    2 => -1e6f64..-1e-3,
                    1 => Just(0.0),
                ],
                1..400,
            ),
        ) {
            let mut s = Sketch::new();
            for v in &values {
                s.add(*v);
            }
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for q in QUANTILES {
                let estimate = s.quantile(q).unwrap();
                let truth = exact(&sorted, q);
                prop_assert!(within_bound(estimate, truth), "q={} estimate={} exact={}", q, estimate, truth);
            }
            prop_assert_eq!(s.min(), Some(sorted[0]));
            prop_assert_eq!(s.max(), Some(sorted[sorted.len() - 1]));
            prop_assert_eq!(s.count(), values.len() as u64);
        }

        /// A merge of two sketches answers within the bound for the union.
        #[test]
        fn merged_quantiles_within_the_bound(
            a in proptest::collection::vec(1e-2f64..1e5, 0..200),
            b in proptest::collection::vec(1e-2f64..1e7, 1..200),
        ) {
            let (mut sa, mut sb) = (Sketch::new(), Sketch::new());
            a.iter().for_each(|v| { sa.add(*v); });
            b.iter().for_each(|v| { sb.add(*v); });
            sa.merge(&sb);
            let mut sorted: Vec<f64> = a.iter().chain(&b).copied().collect();
            sorted.sort_by(f64::total_cmp);
            for q in QUANTILES {
                let estimate = sa.quantile(q).unwrap();
                let truth = exact(&sorted, q);
                prop_assert!(within_bound(estimate, truth), "q={} estimate={} exact={}", q, estimate, truth);
            }
            let sum: f64 = sorted.iter().sum();
            prop_assert!((sa.sum() - sum).abs() <= 1e-6 * sum.abs().max(1.0));
        }
    }
}
