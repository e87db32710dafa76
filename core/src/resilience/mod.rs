//! Resilience for remote AI providers: retries, a circuit breaker per
//! provider, timeouts, a bulkhead and rate limits, as pure state machines.
//!
//! Each machine is small and takes the time (`now_ms`, ms since the epoch)
//! and random numbers (`r` in `[0, 1)`) as arguments; the background owns
//! the clock, the timers and the random source, and persists the
//! [`breaker::BreakerSnapshot`] so a worker restart keeps a provider's
//! breaker open. The principal types:
//!
//! - [`retry::RetryState`] (one per request, built from a
//!   [`retry::RetryPolicy`]) turns a failed attempt into a
//!   [`retry::Decision`]: retry after a delay, give up, or *interrupted*
//!   when the answer had already started to reach the user;
//!   [`retry::RetryBudget`] (one per provider) caps retries to a fraction of
//!   requests.
//! - [`breaker::Breaker`] (one per provider): `check` before a request,
//!   `record` its [`Health`] after.
//! - [`limits`]: [`limits::TimeoutWatch`] (first byte, idle, total),
//!   [`limits::Bulkhead`] (concurrency with a bounded queue) and
//!   [`limits::RateLimiter`] (requests and tokens per sliding minute).
//!
//! Every decision can be turned into a [`ResilienceEvent`] for telemetry
//! and the devtools timeline (the shell adds the provider and the time).
//!
//! ```
//! use paperclip_core::resilience::breaker::{Breaker, BreakerConfig, Permit};
//! use paperclip_core::resilience::retry::{Decision, RetryBudget, RetryPolicy, RetryState};
//! use paperclip_core::resilience::{FailureKind, Outcome};
//!
//! let policy = RetryPolicy::default();
//! let mut budget = RetryBudget::new(policy.budget)?;
//! let mut breaker = Breaker::new(BreakerConfig::default())?;
//!
//! let now = 1_000;
//! let mut request = RetryState::new(policy, now, &mut budget);
//! let Permit::Allowed(pass) = breaker.check(now).permit else { unreachable!() };
//!
//! // The attempt fails with "503 Service Unavailable", "Retry-After: 2".
//! let failure = FailureKind::Http { status: 503, retry_after_ms: Some(2_000) };
//! assert_eq!(breaker.record(pass, Outcome::Failure(failure).health(), now + 300), None);
//! let decision = request.decide(failure, false, now + 300, 0.5, &mut budget);
//! assert_eq!(decision, Decision::Retry { delay_ms: 2_000, attempt: 2, reason: failure });
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```

use serde::{Deserialize, Serialize};

pub mod breaker;
pub mod fallback;
pub mod limits;
pub mod retry;
pub mod settings;

use breaker::Transition;
use limits::TimeoutKind;
use retry::GiveUpReason;

/// How one attempt ended.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The provider answered.
    Success,
    /// The attempt failed.
    Failure(FailureKind),
}

impl Outcome {
    /// What the outcome says about the provider, for [`breaker::Breaker::record`].
    pub fn health(&self) -> Health {
        match self {
            Self::Success => Health::Healthy,
            Self::Failure(kind) => kind.health(),
        }
    }
}

/// Why an attempt failed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The request never got an HTTP answer (DNS, TLS, connection reset,
    /// a stream cut off by the network).
    Network,
    /// One of the [`limits::Timeouts`] fired.
    Timeout(TimeoutKind),
    /// The provider answered with an error status.
    Http {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header, parsed by [`retry::parse_retry_after`].
        retry_after_ms: Option<u64>,
    },
    /// The body could not be understood (not the provider's wire format).
    Malformed,
    /// The user (or the extension) cancelled the request.
    Cancelled,
    /// The extension's own guards refused the request before it was sent
    /// (the breaker is open, the bulkhead's queue is full, a rate limit):
    /// the provider was not asked.
    Refused,
}

impl FailureKind {
    /// A short label for telemetry (`network`, `timeout`, `http_5xx`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Timeout(_) => "timeout",
            Self::Http { status, .. } if *status == 429 => "http_429",
            Self::Http { status, .. } if *status >= 500 => "http_5xx",
            Self::Http { .. } => "http_4xx",
            Self::Malformed => "malformed",
            Self::Cancelled => "cancelled",
            Self::Refused => "refused",
        }
    }

    /// Whether another attempt may succeed where this one failed.
    ///
    /// Yes for network errors, timeouts, every 5xx (529 "overloaded"
    /// included), 429 "too many requests", 408 "request timeout" (the
    /// server's own timeout), 409 "conflict" (OpenAI's lock contention; its
    /// SDKs retry it too) and 425 "too early" (RFC 8470 asks for a retry).
    /// No for every other status (400, 401, 403, 404, 413, … describe the
    /// request or the account, which a retry repeats), for `Cancelled` and
    /// `Refused`, and
    /// for `Malformed`: an unreadable body almost always means a
    /// misconfiguration (a base URL that serves a web page, the wrong
    /// dialect) that a retry would only repeat; a stream cut off in transit
    /// is reported as `Network`.
    pub fn retryable(&self) -> bool {
        match *self {
            Self::Network | Self::Timeout(_) => true,
            Self::Http { status, .. } => matches!(status, 408 | 409 | 425 | 429 | 500..=599),
            Self::Malformed | Self::Cancelled | Self::Refused => false,
        }
    }

    /// What the failure says about the provider's health.
    ///
    /// Network errors, timeouts, retryable statuses and malformed bodies count
    /// against the provider (a breaker opened by 429s lets a fallback take
    /// over instead of hammering a provider that asks us to stop). Other
    /// 4xx statuses are the provider answering correctly about a bad request
    /// or key: healthy. A cancellation says nothing.
    pub fn health(&self) -> Health {
        match self {
            Self::Cancelled | Self::Refused => Health::Unknown,
            Self::Http { status, .. } if !self.retryable() && *status < 500 => Health::Healthy,
            _ => Health::Unhealthy,
        }
    }
}

/// What an attempt's outcome says about the provider (the breaker's input).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// The provider works (success, or a client error it reported properly).
    Healthy,
    /// The provider failed.
    Unhealthy,
    /// Nothing was learnt (the request was cancelled).
    Unknown,
}

/// A setting outside its accepted range; the ranges are what the settings
/// UI shows (each config type lists them as associated constants).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{setting}: {got} is outside {min}..={max}")]
pub struct InvalidSetting {
    /// The setting, e.g. `retry.max_attempts`.
    pub setting: &'static str,
    /// The rejected value.
    pub got: f64,
    /// Smallest accepted value (may depend on another setting).
    pub min: f64,
    /// Largest accepted value (may depend on another setting).
    pub max: f64,
}

/// Checks that `got` lies in `min..=max` (NaN never does).
pub(crate) fn check_range<T: Into<f64>>(
    setting: &'static str,
    got: T,
    min: T,
    max: T,
) -> Result<(), InvalidSetting> {
    let (got, min, max) = (got.into(), min.into(), max.into());
    if (min..=max).contains(&got) {
        Ok(())
    } else {
        Err(InvalidSetting {
            setting,
            got,
            min,
            max,
        })
    }
}

/// Checks a millisecond setting (`u64`, compared exactly).
pub(crate) fn check_ms(
    setting: &'static str,
    got: u64,
    min: u64,
    max: u64,
) -> Result<(), InvalidSetting> {
    if (min..=max).contains(&got) {
        Ok(())
    } else {
        // Lossy only above 2^53 ms, far beyond every range here.
        Err(InvalidSetting {
            setting,
            got: got as f64,
            min: min as f64,
            max: max as f64,
        })
    }
}

/// One resilience decision, for telemetry and the devtools timeline.
///
/// Provider-agnostic and without a timestamp (except a breaker
/// [`Transition`], which carries `at_ms`): the background adds both when it
/// records the event. Externally tagged, so it encodes with JSON and
/// postcard alike.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum ResilienceEvent {
    /// A failed attempt will be retried.
    Retry {
        /// The number of the attempt that will run (2 for the first retry).
        attempt: u32,
        /// The wait before it.
        delay_ms: u64,
        /// Why the previous attempt failed.
        reason: FailureKind,
    },
    /// The request failed for good.
    GaveUp {
        /// Why no retry.
        reason: GiveUpReason,
        /// The last attempt's failure.
        failure: FailureKind,
    },
    /// The answer had started to reach the user when it failed: it is kept
    /// as interrupted and the user is offered "Continue".
    Interrupted {
        /// The failure.
        failure: FailureKind,
    },
    /// A breaker changed state.
    Breaker(Transition),
    /// A breaker refused a request.
    BreakerRejected {
        /// When the breaker may admit again (`None`: when the probes report).
        retry_in_ms: Option<u64>,
    },
    /// The rate limiter held a request back.
    RateLimited {
        /// How long to wait before asking again.
        wait_ms: u64,
    },
    /// The request's token estimate alone exceeds the tokens-per-minute
    /// limit: it can never be admitted.
    OverTokenLimit {
        /// The request's estimate.
        tokens: u32,
        /// The limit per minute.
        limit: u32,
    },
    /// The bulkhead's queue was full.
    BulkheadRejected,
    /// The request waits in the bulkhead's queue.
    Queued {
        /// Its place in the queue (1 = next to run).
        position: u32,
    },
    /// A timeout fired.
    TimedOut {
        /// Which one.
        kind: TimeoutKind,
    },
}

impl ResilienceEvent {
    /// A short stable name for telemetry (`retry`, `breaker`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Retry { .. } => "retry",
            Self::GaveUp { .. } => "gave_up",
            Self::Interrupted { .. } => "interrupted",
            Self::Breaker(_) => "breaker",
            Self::BreakerRejected { .. } => "breaker_rejected",
            Self::RateLimited { .. } => "rate_limited",
            Self::OverTokenLimit { .. } => "over_token_limit",
            Self::BulkheadRejected => "bulkhead_rejected",
            Self::Queued { .. } => "queued",
            Self::TimedOut { .. } => "timed_out",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let http = |status| FailureKind::Http {
            status,
            retry_after_ms: None,
        };
        for status in [408, 409, 425, 429, 500, 502, 503, 504, 529] {
            assert!(http(status).retryable(), "{status}");
            assert_eq!(http(status).health(), Health::Unhealthy, "{status}");
        }
        for status in [400, 401, 403, 404, 413, 422, 302] {
            assert!(!http(status).retryable(), "{status}");
            assert_eq!(http(status).health(), Health::Healthy, "{status}");
        }
        assert!(FailureKind::Network.retryable());
        assert!(FailureKind::Timeout(TimeoutKind::Idle).retryable());
        assert!(!FailureKind::Malformed.retryable());
        assert_eq!(FailureKind::Malformed.health(), Health::Unhealthy);
        assert!(!FailureKind::Cancelled.retryable());
        assert_eq!(FailureKind::Cancelled.health(), Health::Unknown);
        assert!(!FailureKind::Refused.retryable());
        assert_eq!(FailureKind::Refused.health(), Health::Unknown);
        assert_eq!(Outcome::Success.health(), Health::Healthy);
    }

    #[test]
    fn invalid_setting_reads_like_a_preference_error() {
        let err = check_range("retry.max_attempts", 0u32, 1, 10).unwrap_err();
        assert_eq!(err.to_string(), "retry.max_attempts: 0 is outside 1..=10");
        assert!(check_range("budget.ratio", f64::NAN, 0.0, 1.0).is_err());
        assert!(check_ms("retry.base_ms", 10, 10, 60_000).is_ok());
    }

    #[test]
    fn events_encode_as_json_and_postcard() {
        let events = [
            ResilienceEvent::Retry {
                attempt: 2,
                delay_ms: 1_500,
                reason: FailureKind::Http {
                    status: 429,
                    retry_after_ms: Some(1_500),
                },
            },
            ResilienceEvent::GaveUp {
                reason: GiveUpReason::BudgetExhausted,
                failure: FailureKind::Network,
            },
            ResilienceEvent::TimedOut {
                kind: TimeoutKind::FirstByte,
            },
            ResilienceEvent::BulkheadRejected,
        ];
        for event in events {
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(
                serde_json::from_str::<ResilienceEvent>(&json).unwrap(),
                event
            );
            let bytes = postcard::to_allocvec(&event).unwrap();
            assert_eq!(
                postcard::from_bytes::<ResilienceEvent>(&bytes).unwrap(),
                event
            );
        }
        let json = serde_json::to_value(events[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"retry": {"attempt": 2, "delay_ms": 1500,
                "reason": {"http": {"status": 429, "retry_after_ms": 1500}}}})
        );
    }
}
