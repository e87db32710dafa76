//! Retries: the [`RetryPolicy`] (attempts, exponential backoff with full or
//! decorrelated jitter, an overall deadline), the per-request
//! [`RetryState`] that turns a failure into a [`Decision`], the per-provider
//! [`RetryBudget`] that keeps retries to a fraction of requests, and
//! [`parse_retry_after`].
//!
//! ```
//! use paperclip_core::resilience::retry::{Decision, GiveUpReason, RetryBudget, RetryPolicy, RetryState};
//! use paperclip_core::resilience::FailureKind;
//!
//! let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
//! let mut budget = RetryBudget::new(policy.budget)?;
//! let mut request = RetryState::new(policy, 0, &mut budget);
//!
//! // Full jitter: the first retry waits r × base_ms.
//! let first = request.decide(FailureKind::Network, false, 100, 0.5, &mut budget);
//! assert_eq!(first, Decision::Retry { delay_ms: 250, attempt: 2, reason: FailureKind::Network });
//! // The second attempt was the last one allowed.
//! let second = request.decide(FailureKind::Network, false, 900, 0.5, &mut budget);
//! assert!(matches!(second, Decision::GiveUp { reason: GiveUpReason::AttemptsExhausted, .. }));
//! // A failure after the first chunk reached the user is never retried.
//! let mut streamed = RetryState::new(policy, 0, &mut budget);
//! let third = streamed.decide(FailureKind::Network, true, 100, 0.5, &mut budget);
//! assert_eq!(third, Decision::Interrupted { failure: FailureKind::Network });
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```

use std::ops::RangeInclusive;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::{check_ms, check_range, FailureKind, InvalidSetting, ResilienceEvent};

/// The longest `Retry-After` [`parse_retry_after`] returns (a day): larger
/// values are clamped to it. Every retry deadline is far shorter, so a
/// clamped value still makes the request give up rather than retry early.
pub const MAX_RETRY_AFTER_MS: u64 = 24 * 60 * 60 * 1000;

/// How the backoff delay is randomised.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Retry `n` (0 for the first) waits `r × min(max_backoff, base × 2ⁿ)`,
    /// in `[0, min(max_backoff, base × 2ⁿ))`.
    #[default]
    Full,
    /// Each wait is `base + r × (3 × previous − base)`, capped at
    /// `max_backoff`: in `[base, min(max_backoff, 3 × previous)]`, the first
    /// "previous" being `base`.
    Decorrelated,
}

/// The retry budget's settings (shared by every request to one provider).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    /// Retries allowed per request, on average over the window (0.2: one
    /// retry per five requests).
    pub ratio: f64,
    /// Retries allowed per window whatever the traffic (so a quiet provider
    /// can still be retried).
    pub min_per_window: u32,
    /// The sliding window over which requests and retries are counted.
    pub window_ms: u64,
}

impl BudgetConfig {
    /// Accepted `ratio`.
    pub const RATIO: RangeInclusive<f64> = 0.0..=1.0;
    /// Accepted `min_per_window`.
    pub const MIN_PER_WINDOW: RangeInclusive<u32> = 0..=1_000;
    /// Accepted `window_ms` (a second to an hour).
    pub const WINDOW_MS: RangeInclusive<u64> = 1_000..=3_600_000;

    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_range(
            "budget.ratio",
            self.ratio,
            *Self::RATIO.start(),
            *Self::RATIO.end(),
        )?;
        let floor = Self::MIN_PER_WINDOW;
        check_range(
            "budget.min_per_window",
            self.min_per_window,
            *floor.start(),
            *floor.end(),
        )?;
        check_ms(
            "budget.window_ms",
            self.window_ms,
            *Self::WINDOW_MS.start(),
            *Self::WINDOW_MS.end(),
        )
    }
}

impl Default for BudgetConfig {
    /// 20 % of requests, at least 5 retries a minute.
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_per_window: 5,
            window_ms: 60_000,
        }
    }
}

/// How a request is retried.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The first backoff step.
    pub base_ms: u64,
    /// The longest backoff (a server's `Retry-After` may ask for longer).
    pub max_backoff_ms: u64,
    /// How the backoff is randomised.
    pub jitter: Jitter,
    /// No retry starts later than this after the first attempt started.
    pub deadline_ms: u64,
    /// The per-provider retry budget's settings.
    pub budget: BudgetConfig,
}

impl RetryPolicy {
    /// Accepted `max_attempts`.
    pub const MAX_ATTEMPTS: RangeInclusive<u32> = 1..=10;
    /// Accepted `base_ms`.
    pub const BASE_MS: RangeInclusive<u64> = 10..=60_000;
    /// Accepted `max_backoff_ms` (and never below `base_ms`).
    pub const MAX_BACKOFF_MS: RangeInclusive<u64> = 10..=600_000;
    /// Accepted `deadline_ms` (a second to an hour).
    pub const DEADLINE_MS: RangeInclusive<u64> = 1_000..=3_600_000;

    /// Checks every setting against its range (`max_backoff_ms` also
    /// against `base_ms`).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let attempts = Self::MAX_ATTEMPTS;
        check_range(
            "retry.max_attempts",
            self.max_attempts,
            *attempts.start(),
            *attempts.end(),
        )?;
        check_ms(
            "retry.base_ms",
            self.base_ms,
            *Self::BASE_MS.start(),
            *Self::BASE_MS.end(),
        )?;
        let cap_min = self.base_ms.max(*Self::MAX_BACKOFF_MS.start());
        check_ms(
            "retry.max_backoff_ms",
            self.max_backoff_ms,
            cap_min,
            *Self::MAX_BACKOFF_MS.end(),
        )?;
        check_ms(
            "retry.deadline_ms",
            self.deadline_ms,
            *Self::DEADLINE_MS.start(),
            *Self::DEADLINE_MS.end(),
        )?;
        self.budget.validate()
    }

    /// The wait before retry `n` (0 for the first retry) with random
    /// `r` in `[0, 1)` (other values are clamped into it); `previous_ms` is
    /// the previous wait (only [`Jitter::Decorrelated`] uses it).
    pub fn backoff(&self, n: u32, previous_ms: u64, r: f64) -> u64 {
        match self.jitter {
            Jitter::Full => full_jitter(self.base_ms, self.max_backoff_ms, n, r),
            Jitter::Decorrelated => {
                decorrelated_jitter(self.base_ms, self.max_backoff_ms, previous_ms, r)
            }
        }
    }
}

impl Default for RetryPolicy {
    /// Three attempts, 0.5 s doubling to at most 8 s, full jitter, within a
    /// minute.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_ms: 500,
            max_backoff_ms: 8_000,
            jitter: Jitter::Full,
            deadline_ms: 60_000,
            budget: BudgetConfig::default(),
        }
    }
}

/// `r` clamped into `[0, 1)`; NaN becomes 0.
fn unit(r: f64) -> f64 {
    if r.is_nan() {
        0.0
    } else {
        r.clamp(0.0, 1.0 - f64::EPSILON / 2.0)
    }
}

/// `r × span`, in `[0, span)` for a positive span (and 0 for 0).
fn scale(span: u64, r: f64) -> u64 {
    // r < 1 and truncation keep the product below `span`; the `min` guards
    // spans above 2^53, which `as f64` may round up.
    (((span as f64) * unit(r)) as u64).min(span.saturating_sub(1))
}

/// Full jitter: a wait in `[0, min(cap, base × 2ⁿ))`.
pub fn full_jitter(base_ms: u64, cap_ms: u64, n: u32, r: f64) -> u64 {
    let step = 1u64.checked_shl(n).unwrap_or(u64::MAX);
    scale(base_ms.saturating_mul(step).min(cap_ms), r)
}

/// Decorrelated jitter: a wait in `[base, min(cap, 3 × previous)]` (`previous`
/// taken as at least `base`; `cap` as at least `base`).
pub fn decorrelated_jitter(base_ms: u64, cap_ms: u64, previous_ms: u64, r: f64) -> u64 {
    let cap = cap_ms.max(base_ms);
    let high = previous_ms.max(base_ms).saturating_mul(3).min(cap);
    base_ms + scale(high - base_ms, r)
}

/// Parses a `Retry-After` header value into a wait in ms from `now_ms`:
/// delta-seconds (`"120"`) or an HTTP date (IMF-fixdate, and the obsolete
/// RFC 850 and asctime forms recipients must accept). A date in the past
/// gives 0; the result is clamped to [`MAX_RETRY_AFTER_MS`]. `None` for
/// anything else (negative numbers, fractions, garbage).
pub fn parse_retry_after(header: &str, now_ms: u64) -> Option<u64> {
    let value = header.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and that is "very long".
        value
            .parse::<u64>()
            .unwrap_or(u64::MAX)
            .saturating_mul(1_000)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        let at_ms = at.duration_since(UNIX_EPOCH).ok()?.as_millis();
        u64::try_from(at_ms)
            .unwrap_or(u64::MAX)
            .saturating_sub(now_ms)
    };
    Some(wait.min(MAX_RETRY_AFTER_MS))
}

/// Why a request is not retried.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GiveUpReason {
    /// The failure is not one a retry can fix ([`FailureKind::retryable`]).
    NotRetryable,
    /// `max_attempts` attempts were made.
    AttemptsExhausted,
    /// The next attempt could not start before the overall deadline.
    DeadlineExceeded,
    /// The server's `Retry-After` lands at or beyond the overall deadline.
    RetryAfterBeyondDeadline {
        /// What the server asked for.
        retry_after_ms: u64,
    },
    /// The provider's retry budget is spent.
    BudgetExhausted,
}

/// What to do after a failed attempt.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Start attempt number `attempt` after `delay_ms`.
    Retry {
        /// The wait (the server's `Retry-After` when it sent one).
        delay_ms: u64,
        /// The number of the attempt to start (2 for the first retry).
        attempt: u32,
        /// Why the previous attempt failed.
        reason: FailureKind,
    },
    /// The request failed for good.
    GiveUp {
        /// Why no retry.
        reason: GiveUpReason,
        /// The last attempt's failure.
        failure: FailureKind,
    },
    /// The first chunk had already reached the user: never retried (the
    /// user would see the answer twice). Store the answer as interrupted and
    /// offer "Continue".
    Interrupted {
        /// The failure.
        failure: FailureKind,
    },
}

impl Decision {
    /// The decision as a telemetry / timeline event.
    pub fn event(&self) -> ResilienceEvent {
        match *self {
            Self::Retry {
                delay_ms,
                attempt,
                reason,
            } => ResilienceEvent::Retry {
                attempt,
                delay_ms,
                reason,
            },
            Self::GiveUp { reason, failure } => ResilienceEvent::GaveUp { reason, failure },
            Self::Interrupted { failure } => ResilienceEvent::Interrupted { failure },
        }
    }
}

/// One request's retry bookkeeping.
///
/// Built when the first attempt starts (the request's deposit goes to the
/// budget then); [`decide`](Self::decide) after each failed attempt. The
/// policy is taken as validated ([`RetryPolicy::validate`]); other values
/// give odd delays, never a panic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryState {
    policy: RetryPolicy,
    started_ms: u64,
    attempt: u32,
    previous_delay_ms: u64,
}

impl RetryState {
    /// The first attempt starts at `now_ms`; deposits the request in `budget`.
    pub fn new(policy: RetryPolicy, now_ms: u64, budget: &mut RetryBudget) -> Self {
        budget.deposit(now_ms);
        Self {
            policy,
            started_ms: now_ms,
            attempt: 1,
            previous_delay_ms: policy.base_ms,
        }
    }

    /// The number of the current (or last) attempt, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// When the overall deadline falls (ms since the epoch); an attempt's
    /// [`TimeoutWatch`](super::limits::TimeoutWatch) should end there too.
    pub fn deadline_at_ms(&self) -> u64 {
        self.started_ms.saturating_add(self.policy.deadline_ms)
    }

    /// Decides what follows the failure of the current attempt at `now_ms`;
    /// `streamed_to_user` says whether any chunk of the answer reached the
    /// user, `r` is a random number in `[0, 1)`. Withdraws from `budget`
    /// only when it decides to retry.
    ///
    /// In order: interrupted if streamed; give up if not retryable, if the
    /// attempts are spent, if the wait (the server's `Retry-After` when
    /// present, never shortened; else the jittered backoff) would end at or
    /// after the deadline, or if the budget is spent; else retry.
    pub fn decide(
        &mut self,
        failure: FailureKind,
        streamed_to_user: bool,
        now_ms: u64,
        r: f64,
        budget: &mut RetryBudget,
    ) -> Decision {
        let give_up = |reason| Decision::GiveUp { reason, failure };
        if streamed_to_user {
            return Decision::Interrupted { failure };
        }
        if !failure.retryable() {
            return give_up(GiveUpReason::NotRetryable);
        }
        if self.attempt >= self.policy.max_attempts {
            return give_up(GiveUpReason::AttemptsExhausted);
        }
        let server_wait = match failure {
            FailureKind::Http { retry_after_ms, .. } => retry_after_ms,
            _ => None,
        };
        let delay_ms = server_wait.unwrap_or_else(|| {
            self.policy
                .backoff(self.attempt - 1, self.previous_delay_ms, r)
        });
        if now_ms.saturating_add(delay_ms) >= self.deadline_at_ms() {
            return give_up(match server_wait {
                Some(retry_after_ms) => GiveUpReason::RetryAfterBeyondDeadline { retry_after_ms },
                None => GiveUpReason::DeadlineExceeded,
            });
        }
        if !budget.withdraw(now_ms) {
            return give_up(GiveUpReason::BudgetExhausted);
        }
        self.attempt += 1;
        self.previous_delay_ms = delay_ms.clamp(
            self.policy.base_ms,
            self.policy.max_backoff_ms.max(self.policy.base_ms),
        );
        Decision::Retry {
            delay_ms,
            attempt: self.attempt,
            reason: failure,
        }
    }
}

/// How many slots the budget's window is divided into.
const BUDGET_SLOTS: usize = 10;

/// Requests and retries counted in one slot of the window.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Slot {
    requests: u32,
    retries: u32,
}

/// A provider's retry budget: every request deposits `ratio`, every retry
/// withdraws 1, and `min_per_window` retries are always on hand.
///
/// Requests and retries are counted in a sliding window of ten slots of
/// `window_ms / 10` each (the same scheme as tower's `TpsBudget`); a retry
/// is allowed when, counting it, the retries in the window are at most
/// `ratio × requests + min_per_window`. Fixed size, no allocation. Time
/// that goes backwards counts as the latest time seen.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RetryBudget {
    config: BudgetConfig,
    slot_ms: u64,
    /// The slot number (time / `slot_ms`) of the newest slot.
    head: u64,
    slots: [Slot; BUDGET_SLOTS],
}

impl RetryBudget {
    /// An empty budget (only the `min_per_window` floor available).
    pub fn new(config: BudgetConfig) -> Result<Self, InvalidSetting> {
        config.validate()?;
        Ok(Self {
            config,
            slot_ms: (config.window_ms / BUDGET_SLOTS as u64).max(1),
            head: 0,
            slots: [Slot::default(); BUDGET_SLOTS],
        })
    }

    /// The window actually used: `window_ms` rounded down to ten slots.
    pub fn window_ms(&self) -> u64 {
        self.slot_ms * BUDGET_SLOTS as u64
    }

    /// Counts a request made at `now_ms`.
    pub fn deposit(&mut self, now_ms: u64) {
        let slot = self.advance(now_ms);
        slot.requests = slot.requests.saturating_add(1);
    }

    /// Takes one retry at `now_ms` if the budget allows it.
    pub fn withdraw(&mut self, now_ms: u64) -> bool {
        self.advance(now_ms);
        if self.available() < 1.0 {
            return false;
        }
        let slot = &mut self.slots[self.index(self.head)];
        slot.retries = slot.retries.saturating_add(1);
        true
    }

    /// Retries that would be allowed now (fractional; at least 1 means
    /// [`withdraw`](Self::withdraw) succeeds), as of the last call.
    pub fn available(&self) -> f64 {
        let (requests, retries) = self.slots.iter().fold((0u64, 0u64), |(q, t), s| {
            (q + u64::from(s.requests), t + u64::from(s.retries))
        });
        self.config.ratio * requests as f64 + f64::from(self.config.min_per_window) - retries as f64
    }

    fn index(&self, slot: u64) -> usize {
        (slot % BUDGET_SLOTS as u64) as usize
    }

    /// Moves the window to `now_ms`, clearing expired slots; returns the
    /// newest slot.
    fn advance(&mut self, now_ms: u64) -> &mut Slot {
        let now = now_ms / self.slot_ms;
        if now > self.head {
            let first = self.head.max(now.saturating_sub(BUDGET_SLOTS as u64)) + 1;
            for slot in first..=now {
                let i = self.index(slot);
                self.slots[i] = Slot::default();
            }
            self.head = now;
        }
        let i = self.index(self.head);
        &mut self.slots[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_ms: 100,
            max_backoff_ms: 2_000,
            jitter,
            deadline_ms: 30_000,
            budget: BudgetConfig {
                ratio: 1.0,
                min_per_window: 100,
                window_ms: 60_000,
            },
        }
    }

    fn budget(config: BudgetConfig) -> RetryBudget {
        RetryBudget::new(config).unwrap()
    }

    const HTTP_429: FailureKind = FailureKind::Http {
        status: 429,
        retry_after_ms: None,
    };

    #[test]
    fn defaults_are_valid() {
        RetryPolicy::default().validate().unwrap();
        policy(Jitter::Decorrelated).validate().unwrap();
    }

    #[test]
    fn validate_names_the_setting_and_its_range() {
        let check = |p: RetryPolicy, setting: &str, min: f64, max: f64| {
            let err = p.validate().unwrap_err();
            assert_eq!((err.setting, err.min, err.max), (setting, min, max));
        };
        let base = RetryPolicy::default();
        check(
            RetryPolicy {
                max_attempts: 0,
                ..base
            },
            "retry.max_attempts",
            1.0,
            10.0,
        );
        check(
            RetryPolicy { base_ms: 5, ..base },
            "retry.base_ms",
            10.0,
            60_000.0,
        );
        check(
            RetryPolicy {
                max_backoff_ms: 400,
                ..base
            },
            "retry.max_backoff_ms",
            500.0,
            600_000.0,
        );
        check(
            RetryPolicy {
                deadline_ms: 0,
                ..base
            },
            "retry.deadline_ms",
            1_000.0,
            3_600_000.0,
        );
        let ratio = BudgetConfig {
            ratio: f64::NAN,
            ..base.budget
        };
        check(
            RetryPolicy {
                budget: ratio,
                ..base
            },
            "budget.ratio",
            0.0,
            1.0,
        );
        let window = BudgetConfig {
            window_ms: 10,
            ..base.budget
        };
        check(
            RetryPolicy {
                budget: window,
                ..base
            },
            "budget.window_ms",
            1_000.0,
            3_600_000.0,
        );
        assert!(RetryBudget::new(window).is_err());
    }

    #[test]
    fn full_jitter_doubles_up_to_the_cap() {
        let almost_one = 1.0 - f64::EPSILON;
        assert_eq!(full_jitter(100, 2_000, 0, almost_one), 99);
        assert_eq!(full_jitter(100, 2_000, 3, almost_one), 799);
        assert_eq!(full_jitter(100, 2_000, 10, almost_one), 1_999);
        assert_eq!(full_jitter(100, 2_000, 200, 0.5), 1_000);
        assert_eq!(full_jitter(100, 2_000, 3, 0.0), 0);
    }

    #[test]
    fn decorrelated_jitter_grows_from_the_previous_wait() {
        assert_eq!(decorrelated_jitter(100, 2_000, 100, 0.0), 100);
        assert_eq!(decorrelated_jitter(100, 2_000, 100, 0.5), 200);
        assert_eq!(decorrelated_jitter(100, 2_000, 1_000, 0.5), 1_050);
        assert_eq!(decorrelated_jitter(100, 2_000, u64::MAX, 0.5), 1_050);
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        // 2015-10-21T07:28:00Z
        let now = 1_445_412_480_000;
        let check = |header: &str, expected: Option<u64>| {
            assert_eq!(parse_retry_after(header, now), expected, "{header:?}")
        };
        check("120", Some(120_000));
        check(" 0 ", Some(0));
        check("Wed, 21 Oct 2015 07:28:30 GMT", Some(30_000));
        check("Wednesday, 21-Oct-15 07:28:30 GMT", Some(30_000));
        check("Wed Oct 21 07:28:30 2015", Some(30_000));
        check("Wed, 21 Oct 2015 07:00:00 GMT", Some(0));
        check("99999999999999999999999", Some(MAX_RETRY_AFTER_MS));
        check("Fri, 01 Jan 2100 00:00:00 GMT", Some(MAX_RETRY_AFTER_MS));
        for bad in [
            "",
            "-5",
            "+5",
            "1.5",
            "soon",
            "Wed, 32 Oct 2015 07:28:30 GMT",
        ] {
            check(bad, None);
        }
    }

    #[test]
    fn retries_until_attempts_are_spent() {
        let p = policy(Jitter::Full);
        let mut b = budget(p.budget);
        let mut state = RetryState::new(p, 0, &mut b);
        let mut now = 0;
        for attempt in 2..=5 {
            let d = state.decide(FailureKind::Network, false, now, 0.0, &mut b);
            assert_eq!(
                d,
                Decision::Retry {
                    delay_ms: 0,
                    attempt,
                    reason: FailureKind::Network
                }
            );
            now += 10;
        }
        let d = state.decide(FailureKind::Network, false, now, 0.0, &mut b);
        assert_eq!(
            d,
            Decision::GiveUp {
                reason: GiveUpReason::AttemptsExhausted,
                failure: FailureKind::Network
            }
        );
        assert_eq!(
            d.event(),
            ResilienceEvent::GaveUp {
                reason: GiveUpReason::AttemptsExhausted,
                failure: FailureKind::Network
            }
        );
    }

    #[test]
    fn never_retries_client_errors_or_cancellations() {
        let p = policy(Jitter::Full);
        let mut b = budget(p.budget);
        for failure in [400, 401, 403, 404]
            .map(|status| FailureKind::Http {
                status,
                retry_after_ms: Some(0),
            })
            .into_iter()
            .chain([
                FailureKind::Cancelled,
                FailureKind::Refused,
                FailureKind::Malformed,
            ])
        {
            let d = RetryState::new(p, 0, &mut b).decide(failure, false, 0, 0.5, &mut b);
            assert_eq!(
                d,
                Decision::GiveUp {
                    reason: GiveUpReason::NotRetryable,
                    failure
                }
            );
        }
    }

    #[test]
    fn retry_after_overrides_jitter_and_the_deadline_wins() {
        let p = policy(Jitter::Full);
        let mut b = budget(p.budget);
        let failure = FailureKind::Http {
            status: 503,
            retry_after_ms: Some(5_000),
        };
        let d = RetryState::new(p, 0, &mut b).decide(failure, false, 1_000, 0.0, &mut b);
        assert_eq!(
            d,
            Decision::Retry {
                delay_ms: 5_000,
                attempt: 2,
                reason: failure
            }
        );
        let late = FailureKind::Http {
            status: 429,
            retry_after_ms: Some(29_000),
        };
        let d = RetryState::new(p, 0, &mut b).decide(late, false, 1_000, 0.0, &mut b);
        let reason = GiveUpReason::RetryAfterBeyondDeadline {
            retry_after_ms: 29_000,
        };
        assert_eq!(
            d,
            Decision::GiveUp {
                reason,
                failure: late
            }
        );
        let d = RetryState::new(p, 0, &mut b).decide(HTTP_429, false, 30_000, 0.0, &mut b);
        assert_eq!(
            d,
            Decision::GiveUp {
                reason: GiveUpReason::DeadlineExceeded,
                failure: HTTP_429
            }
        );
    }

    #[test]
    fn budget_floor_then_ratio() {
        let mut b = budget(BudgetConfig {
            ratio: 0.5,
            min_per_window: 1,
            window_ms: 10_000,
        });
        assert!(b.withdraw(0), "the floor");
        assert!(!b.withdraw(0));
        b.deposit(0);
        assert!(!b.withdraw(0), "half a token");
        b.deposit(500);
        assert!(b.withdraw(999));
        assert!(!b.withdraw(999));
        // Ten seconds later everything has left the window: the floor again.
        assert!(b.withdraw(10_999));
        assert!(!b.withdraw(10_999));
    }

    #[test]
    fn spent_budget_gives_up_without_advancing() {
        let p = RetryPolicy {
            budget: BudgetConfig {
                ratio: 0.0,
                min_per_window: 0,
                window_ms: 60_000,
            },
            ..policy(Jitter::Full)
        };
        let mut b = budget(p.budget);
        let mut state = RetryState::new(p, 0, &mut b);
        let d = state.decide(FailureKind::Network, false, 0, 0.5, &mut b);
        assert_eq!(
            d,
            Decision::GiveUp {
                reason: GiveUpReason::BudgetExhausted,
                failure: FailureKind::Network
            }
        );
        assert_eq!(state.attempt(), 1);
    }

    fn failure() -> impl Strategy<Value = FailureKind> {
        prop_oneof![
            Just(FailureKind::Network),
            Just(FailureKind::Malformed),
            Just(FailureKind::Cancelled),
            Just(FailureKind::Refused),
            Just(FailureKind::Timeout(
                super::super::limits::TimeoutKind::Idle
            )),
            (
                prop_oneof![
                    Just(400u16),
                    Just(401),
                    Just(404),
                    Just(408),
                    Just(429),
                    Just(500),
                    Just(503),
                    Just(529)
                ],
                proptest::option::of(0u64..40_000)
            )
                .prop_map(|(status, retry_after_ms)| FailureKind::Http {
                    status,
                    retry_after_ms
                }),
        ]
    }

    fn any_policy() -> impl Strategy<Value = RetryPolicy> {
        (
            1u32..=10,
            10u64..=5_000,
            0u64..=20_000,
            prop_oneof![Just(Jitter::Full), Just(Jitter::Decorrelated)],
            1_000u64..=120_000,
        )
            .prop_map(
                |(max_attempts, base_ms, extra, jitter, deadline_ms)| RetryPolicy {
                    max_attempts,
                    base_ms,
                    max_backoff_ms: base_ms + extra,
                    jitter,
                    deadline_ms,
                    budget: BudgetConfig {
                        ratio: 1.0,
                        min_per_window: 1_000,
                        window_ms: 60_000,
                    },
                },
            )
    }

    proptest! {
        #[test]
        fn full_jitter_within_bounds(base in 1u64..=1_000_000, cap in 1u64..=10_000_000, n in 0u32..100, r in any::<f64>()) {
            let bound = base.saturating_mul(1u64.checked_shl(n).unwrap_or(u64::MAX)).min(cap);
            let d = full_jitter(base, cap, n, r);
            prop_assert!(d < bound.max(1), "{d} vs {bound}");
        }

        #[test]
        fn decorrelated_jitter_within_bounds(base in 1u64..=1_000_000, extra in 0u64..=10_000_000, prev in any::<u64>(), r in any::<f64>()) {
            let cap = base + extra;
            let d = decorrelated_jitter(base, cap, prev, r);
            prop_assert!(d >= base);
            prop_assert!(d <= cap.min(prev.max(base).saturating_mul(3)));
        }

        /// A request's decisions over random failures, times and `r`: the
        /// deadline, the attempts, Retry-After and "never after streaming".
        #[test]
        fn decisions_respect_every_bound(
            p in any_policy(),
            steps in proptest::collection::vec((failure(), 0u64..20_000, any::<f64>(), proptest::bool::weighted(0.1)), 1..15),
        ) {
            let mut b = budget(p.budget);
            let mut state = RetryState::new(p, 0, &mut b);
            let mut now = 0u64;
            let mut prev = p.base_ms;
            for (failure, elapsed, r, streamed) in steps {
                now += elapsed;
                let attempt = state.attempt();
                match state.decide(failure, streamed, now, r, &mut b) {
                    Decision::Retry { delay_ms, attempt: next, reason } => {
                        prop_assert!(!streamed && failure.retryable());
                        prop_assert_eq!(reason, failure);
                        prop_assert_eq!(next, attempt + 1);
                        prop_assert!(next <= p.max_attempts);
                        prop_assert!(now + delay_ms < state.deadline_at_ms(), "deadline");
                        match failure {
                            FailureKind::Http { retry_after_ms: Some(wait), .. } => prop_assert_eq!(delay_ms, wait),
                            _ => match p.jitter {
                                Jitter::Full => prop_assert!(delay_ms <= p.max_backoff_ms.min(p.base_ms << (attempt - 1).min(40))),
                                Jitter::Decorrelated => prop_assert!(delay_ms >= p.base_ms && delay_ms <= p.max_backoff_ms.min(prev * 3)),
                            },
                        }
                        prev = delay_ms.clamp(p.base_ms, p.max_backoff_ms);
                        now += delay_ms;
                    }
                    Decision::Interrupted { .. } => prop_assert!(streamed),
                    Decision::GiveUp { reason, .. } => {
                        prop_assert!(!streamed);
                        let expected_attempts = reason == GiveUpReason::AttemptsExhausted;
                        prop_assert_eq!(expected_attempts, failure.retryable() && attempt >= p.max_attempts);
                    }
                }
            }
        }

        /// At every allowed retry, the retries in the live window are at
        /// most `ratio × requests + floor` there (a naive log as the model),
        /// and over the whole run at most `ratio × requests + floor` per
        /// window spanned.
        #[test]
        fn budget_never_allows_more_than_its_fraction(
            ratio in 0.0f64..=1.0,
            floor in 0u32..5,
            ops in proptest::collection::vec((any::<bool>(), 0u64..700), 1..300),
        ) {
            let config = BudgetConfig { ratio, min_per_window: floor, window_ms: 5_000 };
            let mut b = budget(config);
            let slot = b.window_ms() / BUDGET_SLOTS as u64;
            let mut log: Vec<(u64, bool)> = Vec::new();
            let mut now = 0;
            for (is_request, elapsed) in ops {
                now += elapsed;
                if is_request {
                    b.deposit(now);
                    log.push((now, false));
                } else if b.withdraw(now) {
                    log.push((now, true));
                    let live = |t: u64| t / slot + BUDGET_SLOTS as u64 > now / slot;
                    let requests = log.iter().filter(|(t, retry)| !retry && live(*t)).count();
                    let retries = log.iter().filter(|(t, retry)| *retry && live(*t)).count();
                    prop_assert!(retries as f64 <= ratio * requests as f64 + f64::from(floor));
                }
            }
            let requests = log.iter().filter(|(_, retry)| !retry).count();
            let retries = log.len() - requests;
            let windows = now / b.window_ms() + 1;
            prop_assert!(retries as f64 <= ratio * requests as f64 + (f64::from(floor) * windows as f64) + 1e-9);
        }
    }
}
