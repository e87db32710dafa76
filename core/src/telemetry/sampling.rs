//! Sampling: the [`Sampler`] keeps each item of a [`Signal`] with that
//! signal's rate ([`SamplingRates`]; errors default to 100 %) and counts
//! what it kept and what it sampled out.
//!
//! The decision takes the random number as an argument (`r` in `[0, 1)`
//! or a random `u64`); spans are decided by their trace id, so every span
//! of one trace shares the decision.
//!
//! ```
//! use paperclip_core::telemetry::sampling::{Sampler, SamplingRates};
//! use paperclip_core::telemetry::Signal;
//!
//! let mut sampler = Sampler::new(SamplingRates { events: 0.25, ..SamplingRates::default() })?;
//! assert!(sampler.keep(Signal::Events, 0.1));
//! assert!(!sampler.keep(Signal::Events, 0.6));
//! assert!(sampler.keep(Signal::Errors, 0.999)); // errors: 100 %
//! assert_eq!(sampler.sampled_out(Signal::Events), 1);
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```
//!
//! Metrics are aggregated where they are measured, so the metrics rate
//! applies to the *export* of collected points (the devtools panel always
//! sees every metric); see [`crate::telemetry::Engine`].

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::Signal;
use crate::resilience::{check_range, InvalidSetting};

/// The fraction of items kept, per signal.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct SamplingRates {
    /// Collected metric points exported.
    pub metrics: f64,
    /// Events kept.
    pub events: f64,
    /// Errors kept.
    pub errors: f64,
    /// Traces kept (all spans of a trace together).
    pub spans: f64,
}

impl SamplingRates {
    /// Accepted rates.
    pub const RATE: RangeInclusive<f64> = 0.0..=1.0;

    /// The rate of one signal.
    pub fn get(&self, signal: Signal) -> f64 {
        match signal {
            Signal::Metrics => self.metrics,
            Signal::Events => self.events,
            Signal::Errors => self.errors,
            Signal::Spans => self.spans,
        }
    }

    /// Checks every rate is in `[0, 1]`.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let (lo, hi) = (*Self::RATE.start(), *Self::RATE.end());
        check_range("sampling.metrics", self.metrics, lo, hi)?;
        check_range("sampling.events", self.events, lo, hi)?;
        check_range("sampling.errors", self.errors, lo, hi)?;
        check_range("sampling.spans", self.spans, lo, hi)
    }
}

impl Default for SamplingRates {
    /// Everything is kept (errors always should be; the others are small
    /// in a browser extension).
    fn default() -> Self {
        Self {
            metrics: 1.0,
            events: 1.0,
            errors: 1.0,
            spans: 1.0,
        }
    }
}

/// Decides what to keep and counts the decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampler {
    rates: SamplingRates,
    /// `rate × 2⁶⁴`, saturated: a `u64` below it is kept.
    thresholds: [u64; 4],
    kept: [u64; 4],
    sampled_out: [u64; 4],
}

/// `rate × 2⁶⁴` as a threshold (`u64::MAX` for 1: kept always).
fn threshold(rate: f64) -> u64 {
    if rate >= 1.0 {
        u64::MAX
    } else {
        // 2^64 as f64 is exact; the cast saturates.
        (rate.max(0.0) * 18_446_744_073_709_551_616.0) as u64
    }
}

impl Sampler {
    /// A sampler with validated rates.
    pub fn new(rates: SamplingRates) -> Result<Self, InvalidSetting> {
        rates.validate()?;
        Ok(Self {
            rates,
            thresholds: Signal::ALL.map(|s| threshold(rates.get(s))),
            kept: [0; 4],
            sampled_out: [0; 4],
        })
    }

    /// Its rates.
    pub fn rates(&self) -> &SamplingRates {
        &self.rates
    }

    /// Keeps with probability `rate` given `r` uniform in `[0, 1)`: kept
    /// when `r < rate` (a rate of 1 keeps everything, 0 nothing; a NaN `r`
    /// counts as 0).
    pub fn keep(&mut self, signal: Signal, r: f64) -> bool {
        let rate = self.rates.get(signal);
        let r = if r.is_nan() { 0.0 } else { r };
        self.count(signal, rate >= 1.0 || r < rate)
    }

    /// Like [`Sampler::keep`] with a uniform random `u64`.
    pub fn keep_u64(&mut self, signal: Signal, r: u64) -> bool {
        let t = self.thresholds[signal.index()];
        self.count(signal, t == u64::MAX || r < t)
    }

    /// The decision for a whole trace, from its id's random low 64 bits:
    /// every span of the trace gets the same answer.
    pub fn keep_trace(&mut self, trace_id: &super::span::TraceId) -> bool {
        let low = u64::from_be_bytes(trace_id.0[8..].try_into().unwrap_or([0; 8]));
        self.keep_u64(Signal::Spans, low)
    }

    fn count(&mut self, signal: Signal, keep: bool) -> bool {
        let slot = if keep {
            &mut self.kept[signal.index()]
        } else {
            &mut self.sampled_out[signal.index()]
        };
        *slot = slot.saturating_add(1);
        keep
    }

    /// Items kept so far.
    pub fn kept(&self, signal: Signal) -> u64 {
        self.kept[signal.index()]
    }

    /// Items sampled out so far.
    pub fn sampled_out(&self, signal: Signal) -> u64 {
        self.sampled_out[signal.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// splitmix64: a deterministic stream of uniform `u64`s for tests.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn errors_default_to_everything() {
        let mut s = Sampler::new(SamplingRates::default()).unwrap();
        assert_eq!(s.rates().errors, 1.0);
        assert!(s.keep(Signal::Errors, 0.999_999));
        assert!(s.keep_u64(Signal::Errors, u64::MAX));
        assert_eq!(s.kept(Signal::Errors), 2);
    }

    #[test]
    fn zero_keeps_nothing_and_bad_rates_are_refused() {
        let mut s = Sampler::new(SamplingRates {
            spans: 0.0,
            ..SamplingRates::default()
        })
        .unwrap();
        assert!(!s.keep(Signal::Spans, 0.0));
        assert!(!s.keep_u64(Signal::Spans, 0));
        assert_eq!(s.sampled_out(Signal::Spans), 2);
        for bad in [-0.1, 1.5, f64::NAN] {
            let rates = SamplingRates {
                events: bad,
                ..SamplingRates::default()
            };
            assert!(Sampler::new(rates).is_err(), "{bad}");
        }
    }

    #[test]
    fn traces_are_decided_whole() {
        let mut s = Sampler::new(SamplingRates {
            spans: 0.5,
            ..SamplingRates::default()
        })
        .unwrap();
        let mut state = 7;
        for _ in 0..50 {
            let id = super::super::span::TraceId::from_random(
                splitmix(&mut state),
                splitmix(&mut state),
            );
            let first = s.keep_trace(&id);
            assert!((0..5).all(|_| s.keep_trace(&id) == first));
        }
    }

    proptest! {
        /// The kept fraction is within 5 standard deviations of the rate,
        /// for both kinds of random input, and every item is counted.
        #[test]
        fn rates_within_tolerance(rate in 0.0f64..=1.0, seed in any::<u64>()) {
            let n = 4_000u64;
            let mut s = Sampler::new(SamplingRates { events: rate, metrics: rate, ..SamplingRates::default() }).unwrap();
            let mut state = seed;
            for _ in 0..n {
                let bits = splitmix(&mut state);
                s.keep_u64(Signal::Events, bits);
                s.keep(Signal::Metrics, (bits >> 11) as f64 / (1u64 << 53) as f64);
            }
            let tolerance = 5.0 * (rate * (1.0 - rate) / n as f64).sqrt() + 1e-9;
            for signal in [Signal::Events, Signal::Metrics] {
                prop_assert_eq!(s.kept(signal) + s.sampled_out(signal), n);
                let fraction = s.kept(signal) as f64 / n as f64;
                prop_assert!((fraction - rate).abs() <= tolerance, "{:?}: {} vs {}", signal, fraction, rate);
            }
        }
    }
}
