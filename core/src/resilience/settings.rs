//! The user's resilience settings: every machine's configuration in one
//! validated record, described field by field so the options page can
//! generate its form ([`FIELDS`]) and the background can apply it.
//!
//! The same settings apply to each provider separately: every provider has
//! its own breaker, retry budget, bulkhead and rate limiter.
//!
//! ```
//! use paperclip_core::resilience::settings::{ResilienceSettings, FIELDS};
//!
//! let mut settings = ResilienceSettings::default();
//! settings.set("retry.max_attempts", 5.0).unwrap();
//! assert_eq!(settings.retry.max_attempts, 5);
//! // Out of range: refused with the setting's name and range; nothing changes.
//! let err = settings.set("retry.max_attempts", 50.0).unwrap_err();
//! assert_eq!(err.setting, "retry.max_attempts");
//! assert_eq!(settings.retry.max_attempts, 5);
//! assert!(FIELDS.iter().any(|f| f.key == "timeouts.first_byte_ms"));
//! ```

use serde::{Deserialize, Serialize};

use super::breaker::{BreakerConfig, BreakerMode};
use super::limits::{BulkheadConfig, RateLimits, Timeouts};
use super::retry::{Jitter, RetryPolicy};
use super::InvalidSetting;

/// Longest lifetime of a cached answer: a week.
pub const MAX_ANSWER_CACHE_TTL_MS: u64 = 7 * 24 * 3_600_000;

/// Every resilience setting.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(default)]
pub struct ResilienceSettings {
    /// Retries of a failed request.
    pub retry: RetryPolicy,
    /// The circuit breaker of each provider.
    pub breaker: BreakerConfig,
    /// Time limits of one attempt.
    pub timeouts: Timeouts,
    /// Concurrent requests per provider.
    pub bulkhead: BulkheadConfig,
    /// Requests and tokens per minute per provider.
    pub limits: RateLimits,
    /// How long a provider's answer may be reused for the same question about
    /// the same page when every provider fails (0: no cached answers).
    pub answer_cache_ttl_ms: u64,
}

impl Default for ResilienceSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            timeouts: Timeouts::default(),
            bulkhead: BulkheadConfig::default(),
            limits: RateLimits::default(),
            answer_cache_ttl_ms: 24 * 3_600_000,
        }
    }
}

impl ResilienceSettings {
    /// Checks every setting (and the relations between them).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.retry.validate()?;
        self.breaker.validate()?;
        self.timeouts.validate()?;
        self.bulkhead.validate()?;
        self.limits.validate()?;
        super::check_ms(
            "answer_cache_ttl_ms",
            self.answer_cache_ttl_ms,
            0,
            MAX_ANSWER_CACHE_TTL_MS,
        )
    }

    /// Field `key`'s current value (as its [`Field`] describes it).
    pub fn get(&self, key: &str) -> Option<f64> {
        field(key).map(|f| (f.get)(self))
    }

    /// Sets field `key` to `value`, keeping the settings unchanged when the
    /// result is invalid (the error names the setting and its range).
    pub fn set(&mut self, key: &str, value: f64) -> Result<(), InvalidSetting> {
        let field = field(key).ok_or(InvalidSetting {
            setting: "unknown setting",
            got: value,
            min: 0.0,
            max: 0.0,
        })?;
        if !value.is_finite() || value < 0.0 || (field.unit != Unit::Ratio && value.fract() != 0.0)
        {
            return Err(InvalidSetting {
                setting: field.key,
                got: value,
                min: field.min,
                max: field.max,
            });
        }
        if let Unit::Choice(options) = field.unit {
            if value as usize >= options.len() {
                return Err(InvalidSetting {
                    setting: field.key,
                    got: value,
                    min: 0.0,
                    max: (options.len() - 1) as f64,
                });
            }
        }
        let mut next = *self;
        (field.set)(&mut next, value);
        next.validate()?;
        *self = next;
        Ok(())
    }
}

/// How a field's number reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// A whole number.
    Count,
    /// Milliseconds (the form shows them as they are).
    Ms,
    /// A fraction in `0..=1`.
    Ratio,
    /// An index into these options.
    Choice(&'static [&'static str]),
    /// A whole number where 0 means "no limit".
    Limit,
}

/// One setting as the options page shows it.
pub struct Field {
    /// Dotted name, e.g. `retry.max_attempts` (also the error's `setting`).
    pub key: &'static str,
    /// The group heading it belongs under.
    pub group: &'static str,
    /// The label.
    pub label: &'static str,
    /// How its value reads.
    pub unit: Unit,
    /// Smallest accepted value on its own (other settings may narrow it).
    pub min: f64,
    /// Largest accepted value on its own.
    pub max: f64,
    get: fn(&ResilienceSettings) -> f64,
    set: fn(&mut ResilienceSettings, f64),
}

fn field(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

const JITTER: &[&str] = &["full", "decorrelated"];
const MODES: &[&str] = &["consecutive failures", "failure rate"];

/// The failure-rate mode's parameters (the defaults when the mode is
/// consecutive, so switching modes starts from sensible values).
fn rate_mode(s: &ResilienceSettings) -> (u32, u32, f64) {
    match s.breaker.mode {
        BreakerMode::FailureRate {
            window_calls,
            min_calls,
            threshold_ratio,
        } => (window_calls, min_calls, threshold_ratio),
        BreakerMode::Consecutive { .. } => (20, 10, 0.5),
    }
}

fn set_rate_mode(s: &mut ResilienceSettings, window: u32, min: u32, ratio: f64) {
    s.breaker.mode = BreakerMode::FailureRate {
        window_calls: window,
        min_calls: min,
        threshold_ratio: ratio,
    };
}

fn threshold(s: &ResilienceSettings) -> u32 {
    match s.breaker.mode {
        BreakerMode::Consecutive { threshold } => threshold,
        BreakerMode::FailureRate { .. } => 5,
    }
}

macro_rules! fields {
    ($( $key:literal, $group:literal, $label:literal, $unit:expr, $range:expr,
        |$s:ident| $get:expr, |$t:ident, $v:ident| $set:expr; )*) => {
        /// Every setting, in the order the options page shows them.
        pub static FIELDS: &[Field] = &[ $( Field {
            key: $key,
            group: $group,
            label: $label,
            unit: $unit,
            min: $range.0,
            max: $range.1,
            get: |$s| $get,
            set: |$t, $v| $set,
        }, )* ];
    };
}

// Ranges are written out (a static needs constants); `ranges_match_the_machines`
// checks them against the machines' own.
fields! {
    "retry.max_attempts", "Retries", "Attempts in all (1 = never retry)", Unit::Count, (1.0, 10.0),
        |s| s.retry.max_attempts as f64, |s, v| s.retry.max_attempts = v as u32;
    "retry.base_ms", "Retries", "First backoff step", Unit::Ms, (10.0, 60_000.0),
        |s| s.retry.base_ms as f64, |s, v| s.retry.base_ms = v as u64;
    "retry.max_backoff_ms", "Retries", "Longest backoff", Unit::Ms, (10.0, 600_000.0),
        |s| s.retry.max_backoff_ms as f64, |s, v| s.retry.max_backoff_ms = v as u64;
    "retry.jitter", "Retries", "Jitter", Unit::Choice(JITTER), (0.0, 1.0),
        |s| match s.retry.jitter { Jitter::Full => 0.0, Jitter::Decorrelated => 1.0 },
        |s, v| s.retry.jitter = if v == 0.0 { Jitter::Full } else { Jitter::Decorrelated };
    "retry.deadline_ms", "Retries", "No retry starts later than", Unit::Ms, (1_000.0, 3_600_000.0),
        |s| s.retry.deadline_ms as f64, |s, v| s.retry.deadline_ms = v as u64;
    "retry.budget.ratio", "Retries", "Retries at most this share of requests", Unit::Ratio, (0.0, 1.0),
        |s| s.retry.budget.ratio, |s, v| s.retry.budget.ratio = v;
    "breaker.mode", "Circuit breaker", "Trips on", Unit::Choice(MODES), (0.0, 1.0),
        |s| match s.breaker.mode { BreakerMode::Consecutive { .. } => 0.0, BreakerMode::FailureRate { .. } => 1.0 },
        |s, v| if v == 0.0 {
            s.breaker.mode = BreakerMode::Consecutive { threshold: threshold(s) };
        } else {
            let (w, m, r) = rate_mode(s);
            set_rate_mode(s, w, m, r);
        };
    "breaker.threshold", "Circuit breaker", "Failures in a row that trip it", Unit::Count, (1.0, 1_000.0),
        |s| threshold(s) as f64,
        |s, v| if let BreakerMode::Consecutive { threshold } = &mut s.breaker.mode { *threshold = v as u32 };
    "breaker.window_calls", "Circuit breaker", "Failure-rate window (calls)", Unit::Count, (1.0, 64.0),
        |s| rate_mode(s).0 as f64,
        |s, v| if matches!(s.breaker.mode, BreakerMode::FailureRate { .. }) {
            let (_, m, r) = rate_mode(s);
            set_rate_mode(s, v as u32, m, r);
        };
    "breaker.min_calls", "Circuit breaker", "Calls before the rate counts", Unit::Count, (1.0, 64.0),
        |s| rate_mode(s).1 as f64,
        |s, v| if matches!(s.breaker.mode, BreakerMode::FailureRate { .. }) {
            let (w, _, r) = rate_mode(s);
            set_rate_mode(s, w, v as u32, r);
        };
    "breaker.threshold_ratio", "Circuit breaker", "Failure rate that trips it", Unit::Ratio, (0.01, 1.0),
        |s| rate_mode(s).2,
        |s, v| if matches!(s.breaker.mode, BreakerMode::FailureRate { .. }) {
            let (w, m, _) = rate_mode(s);
            set_rate_mode(s, w, m, v);
        };
    "breaker.base_break_ms", "Circuit breaker", "First pause", Unit::Ms, (100.0, 3_600_000.0),
        |s| s.breaker.base_break_ms as f64, |s, v| s.breaker.base_break_ms = v as u64;
    "breaker.max_break_ms", "Circuit breaker", "Longest pause", Unit::Ms, (100.0, 86_400_000.0),
        |s| s.breaker.max_break_ms as f64, |s, v| s.breaker.max_break_ms = v as u64;
    "breaker.break_multiplier", "Circuit breaker", "Pause growth after a failed recovery", Unit::Ratio, (1.0, 10.0),
        |s| s.breaker.break_multiplier, |s, v| s.breaker.break_multiplier = v;
    "breaker.half_open_probes", "Circuit breaker", "Trial requests when recovering", Unit::Count, (1.0, 10.0),
        |s| s.breaker.half_open_probes as f64, |s, v| s.breaker.half_open_probes = v as u32;
    "timeouts.first_byte_ms", "Timeouts", "Time to first byte", Unit::Ms, (1_000.0, 600_000.0),
        |s| s.timeouts.first_byte_ms as f64, |s, v| s.timeouts.first_byte_ms = v as u64;
    "timeouts.idle_ms", "Timeouts", "Longest pause in a stream", Unit::Ms, (1_000.0, 600_000.0),
        |s| s.timeouts.idle_ms as f64, |s, v| s.timeouts.idle_ms = v as u64;
    "timeouts.total_ms", "Timeouts", "Whole answer", Unit::Ms, (5_000.0, 3_600_000.0),
        |s| s.timeouts.total_ms as f64, |s, v| s.timeouts.total_ms = v as u64;
    "bulkhead.max_concurrent", "Concurrency and rate", "Requests at once per provider", Unit::Count, (1.0, 16.0),
        |s| s.bulkhead.max_concurrent as f64, |s, v| s.bulkhead.max_concurrent = v as u32;
    "bulkhead.max_queue", "Concurrency and rate", "Requests that may wait", Unit::Count, (0.0, 64.0),
        |s| s.bulkhead.max_queue as f64, |s, v| s.bulkhead.max_queue = v as u32;
    "limits.requests_per_minute", "Concurrency and rate", "Requests per minute (0 = no limit)", Unit::Limit, (0.0, 100_000.0),
        |s| s.limits.requests_per_minute.unwrap_or(0) as f64,
        |s, v| s.limits.requests_per_minute = (v != 0.0).then_some(v as u32);
    "limits.tokens_per_minute", "Concurrency and rate", "Tokens per minute (0 = no limit)", Unit::Limit, (0.0, 100_000_000.0),
        |s| s.limits.tokens_per_minute.unwrap_or(0) as f64,
        |s, v| s.limits.tokens_per_minute = (v != 0.0).then_some(v as u32);
    "answer_cache_ttl_ms", "Cached answers", "Reuse an answer for this long when providers fail (0 = never)", Unit::Ms, (0.0, 604_800_000.0),
        |s| s.answer_cache_ttl_ms as f64, |s, v| s.answer_cache_ttl_ms = v as u64;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn range<T: Into<f64> + Copy>(r: &std::ops::RangeInclusive<T>) -> (f64, f64) {
        ((*r.start()).into(), (*r.end()).into())
    }

    fn range_ms(r: &std::ops::RangeInclusive<u64>) -> (f64, f64) {
        (*r.start() as f64, *r.end() as f64)
    }

    #[test]
    fn defaults_are_valid_and_every_field_reads_back() {
        let s = ResilienceSettings::default();
        s.validate().unwrap();
        for f in FIELDS {
            let v = s.get(f.key).unwrap();
            assert!(v >= f.min && v <= f.max, "{} = {v}", f.key);
            let mut t = s;
            t.set(f.key, v).unwrap();
            assert_eq!(t, s, "{}", f.key);
        }
    }

    #[test]
    fn ranges_match_the_machines() {
        let of = |k: &str| {
            let f = field(k).unwrap();
            (f.min, f.max)
        };
        assert_eq!(of("retry.max_attempts"), range(&RetryPolicy::MAX_ATTEMPTS));
        assert_eq!(of("retry.base_ms"), range_ms(&RetryPolicy::BASE_MS));
        assert_eq!(
            of("retry.max_backoff_ms"),
            range_ms(&RetryPolicy::MAX_BACKOFF_MS)
        );
        assert_eq!(of("retry.deadline_ms"), range_ms(&RetryPolicy::DEADLINE_MS));
        assert_eq!(of("breaker.threshold"), range(&BreakerConfig::THRESHOLD));
        assert_eq!(
            of("breaker.window_calls"),
            range(&BreakerConfig::WINDOW_CALLS)
        );
        assert_eq!(of("breaker.min_calls"), range(&BreakerConfig::MIN_CALLS));
        assert_eq!(
            of("breaker.threshold_ratio"),
            range(&BreakerConfig::THRESHOLD_RATIO)
        );
        assert_eq!(
            of("breaker.base_break_ms"),
            range_ms(&BreakerConfig::BASE_BREAK_MS)
        );
        assert_eq!(
            of("breaker.max_break_ms"),
            range_ms(&BreakerConfig::MAX_BREAK_MS)
        );
        assert_eq!(
            of("breaker.break_multiplier"),
            range(&BreakerConfig::BREAK_MULTIPLIER)
        );
        assert_eq!(
            of("breaker.half_open_probes"),
            range(&BreakerConfig::HALF_OPEN_PROBES)
        );
        assert_eq!(
            of("timeouts.first_byte_ms"),
            range_ms(&Timeouts::FIRST_BYTE_MS)
        );
        assert_eq!(of("timeouts.idle_ms"), range_ms(&Timeouts::IDLE_MS));
        assert_eq!(of("timeouts.total_ms"), range_ms(&Timeouts::TOTAL_MS));
        assert_eq!(
            of("bulkhead.max_concurrent"),
            range(&BulkheadConfig::MAX_CONCURRENT)
        );
        assert_eq!(of("bulkhead.max_queue"), range(&BulkheadConfig::MAX_QUEUE));
        assert_eq!(
            of("limits.requests_per_minute").1,
            *RateLimits::REQUESTS_PER_MINUTE.end() as f64
        );
        assert_eq!(
            of("limits.tokens_per_minute").1,
            *RateLimits::TOKENS_PER_MINUTE.end() as f64
        );
        assert_eq!(of("answer_cache_ttl_ms").1, MAX_ANSWER_CACHE_TTL_MS as f64);
    }

    #[test]
    fn switching_the_breaker_mode_keeps_sane_parameters() {
        let mut s = ResilienceSettings::default();
        // The rate parameters are ignored in consecutive mode.
        s.set("breaker.window_calls", 30.0).unwrap();
        assert_eq!(s, ResilienceSettings::default());
        s.set("breaker.mode", 1.0).unwrap();
        s.set("breaker.window_calls", 30.0).unwrap();
        s.set("breaker.threshold_ratio", 0.25).unwrap();
        assert_eq!(
            s.breaker.mode,
            BreakerMode::FailureRate {
                window_calls: 30,
                min_calls: 10,
                threshold_ratio: 0.25
            }
        );
        // min_calls may not exceed the window.
        let err = s.set("breaker.min_calls", 31.0).unwrap_err();
        assert_eq!(err.setting, "breaker.min_calls");
        s.set("breaker.mode", 0.0).unwrap();
        assert_eq!(s.breaker.mode, BreakerMode::Consecutive { threshold: 5 });
    }

    #[test]
    fn related_limits_are_checked() {
        let mut s = ResilienceSettings::default();
        let err = s.set("timeouts.first_byte_ms", 400_000.0).unwrap_err();
        assert_eq!(err.setting, "timeouts.first_byte_ms");
        assert_eq!(s, ResilienceSettings::default());
        s.set("limits.requests_per_minute", 3.0).unwrap();
        assert_eq!(s.limits.requests_per_minute, Some(3));
        s.set("limits.requests_per_minute", 0.0).unwrap();
        assert_eq!(s.limits.requests_per_minute, None);
        assert!(s.set("limits.tokens_per_minute", 50.0).is_err());
        assert!(s.set("retry.jitter", 2.0).is_err());
        assert!(s.set("retry.max_attempts", 2.5).is_err());
        assert!(s.set("nope", 1.0).is_err());
    }

    #[test]
    fn a_partial_record_reads_with_defaults() {
        let s: ResilienceSettings = serde_json::from_str(r#"{"answer_cache_ttl_ms": 0}"#).unwrap();
        assert_eq!(s.answer_cache_ttl_ms, 0);
        assert_eq!(s.retry, RetryPolicy::default());
    }

    proptest! {
        /// Whatever is set, field by field, the settings stay valid: a
        /// refused value changes nothing.
        #[test]
        fn settings_stay_valid(ops in proptest::collection::vec((0..FIELDS.len(), -10.0f64..1e7), 0..40)) {
            let mut s = ResilienceSettings::default();
            for (i, v) in ops {
                let v = if FIELDS[i].unit == Unit::Ratio { v / 1e6 } else { v.round() };
                let before = s;
                if s.set(FIELDS[i].key, v).is_err() {
                    prop_assert_eq!(s, before);
                }
                prop_assert!(s.validate().is_ok());
            }
        }
    }
}
