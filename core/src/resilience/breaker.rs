//! The circuit breaker kept per provider: [`Breaker`].
//!
//! Closed, it admits every request and counts failures, in one of two
//! [`BreakerMode`]s: consecutive failures, or the failure rate over the last
//! `window_calls` calls once `min_calls` were seen. Tripped, it is *open*
//! for a break (`base_break_ms`, multiplied by `break_multiplier` on every
//! trip that follows a failed recovery, up to `max_break_ms`) and rejects
//! every request. When the break has elapsed, the next [`Breaker::check`]
//! moves it to *half-open* and admits up to `half_open_probes` probes; it
//! closes once that many probes succeeded (so with one probe, on the first
//! success) and reopens, with a longer break, on the first probe failure.
//! Closing forgets the trips.
//!
//! Every request holds a [`Pass`] from `check` and hands it back to
//! [`Breaker::record`]; a pass issued before the last transition is stale
//! and ignored, so a slow request admitted while closed cannot close a
//! half-open breaker. `check` is O(1) and allocation-free (the failure-rate
//! window is a 64-bit shift register). [`BreakerSnapshot`] is the persisted
//! state (about a dozen bytes with [`BreakerSnapshot::to_bytes`]).
//!
//! ```
//! use paperclip_core::resilience::breaker::{Breaker, BreakerConfig, BreakerMode, BreakerState, Permit};
//! use paperclip_core::resilience::Health;
//!
//! let config = BreakerConfig { mode: BreakerMode::Consecutive { threshold: 2 }, ..BreakerConfig::default() };
//! let mut breaker = Breaker::new(config)?;
//! for now in [0, 10] {
//!     let Permit::Allowed(pass) = breaker.check(now).permit else { unreachable!() };
//!     breaker.record(pass, Health::Unhealthy, now);
//! }
//! assert_eq!(breaker.state(), BreakerState::Open { until_ms: 10 + config.base_break_ms });
//! assert!(matches!(breaker.check(20).permit, Permit::Rejected { .. }));
//! let probe = breaker.check(10 + config.base_break_ms);
//! assert!(probe.transition.is_some());
//! let Permit::AllowedProbe(pass) = probe.permit else { unreachable!() };
//! let closed = breaker.record(pass, Health::Healthy, 20_000).unwrap();
//! assert_eq!(closed.to, BreakerState::Closed);
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::{check_ms, check_range, Health, InvalidSetting, ResilienceEvent};

/// The version byte in front of [`BreakerSnapshot::to_bytes`].
pub const SNAPSHOT_VERSION: u8 = 1;

/// When a closed breaker trips.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum BreakerMode {
    /// After `threshold` failures in a row.
    Consecutive {
        /// Failures in a row that trip the breaker.
        threshold: u32,
    },
    /// When, over the last `window_calls` calls (once at least `min_calls`
    /// were seen), the share of failures reaches `threshold_ratio`.
    FailureRate {
        /// The sliding window, in calls (at most 64).
        window_calls: u32,
        /// Calls needed before the rate is judged.
        min_calls: u32,
        /// The failure share that trips, in `(0, 1]`.
        threshold_ratio: f64,
    },
}

/// A breaker's settings.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// When to trip.
    pub mode: BreakerMode,
    /// The first break.
    pub base_break_ms: u64,
    /// The longest break.
    pub max_break_ms: u64,
    /// How much longer each break is than the previous one while recovery
    /// keeps failing.
    pub break_multiplier: f64,
    /// Probes admitted when half-open; that many successes close it.
    pub half_open_probes: u32,
}

impl BreakerConfig {
    /// Accepted consecutive-failure `threshold`.
    pub const THRESHOLD: RangeInclusive<u32> = 1..=1_000;
    /// Accepted `window_calls`.
    pub const WINDOW_CALLS: RangeInclusive<u32> = 1..=64;
    /// Accepted `min_calls` (and never above `window_calls`).
    pub const MIN_CALLS: RangeInclusive<u32> = 1..=64;
    /// Accepted `threshold_ratio`.
    pub const THRESHOLD_RATIO: RangeInclusive<f64> = 0.01..=1.0;
    /// Accepted `base_break_ms` (100 ms to an hour).
    pub const BASE_BREAK_MS: RangeInclusive<u64> = 100..=3_600_000;
    /// Accepted `max_break_ms` (and never below `base_break_ms`).
    pub const MAX_BREAK_MS: RangeInclusive<u64> = 100..=86_400_000;
    /// Accepted `break_multiplier`.
    pub const BREAK_MULTIPLIER: RangeInclusive<f64> = 1.0..=10.0;
    /// Accepted `half_open_probes`.
    pub const HALF_OPEN_PROBES: RangeInclusive<u32> = 1..=10;

    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        match self.mode {
            BreakerMode::Consecutive { threshold } => {
                check_range(
                    "breaker.threshold",
                    threshold,
                    *Self::THRESHOLD.start(),
                    *Self::THRESHOLD.end(),
                )?;
            }
            BreakerMode::FailureRate {
                window_calls,
                min_calls,
                threshold_ratio,
            } => {
                let window = Self::WINDOW_CALLS;
                check_range(
                    "breaker.window_calls",
                    window_calls,
                    *window.start(),
                    *window.end(),
                )?;
                check_range(
                    "breaker.min_calls",
                    min_calls,
                    *Self::MIN_CALLS.start(),
                    window_calls,
                )?;
                let ratio = Self::THRESHOLD_RATIO;
                check_range(
                    "breaker.threshold_ratio",
                    threshold_ratio,
                    *ratio.start(),
                    *ratio.end(),
                )?;
            }
        }
        check_ms(
            "breaker.base_break_ms",
            self.base_break_ms,
            *Self::BASE_BREAK_MS.start(),
            *Self::BASE_BREAK_MS.end(),
        )?;
        let max_min = self.base_break_ms.max(*Self::MAX_BREAK_MS.start());
        check_ms(
            "breaker.max_break_ms",
            self.max_break_ms,
            max_min,
            *Self::MAX_BREAK_MS.end(),
        )?;
        let mult = Self::BREAK_MULTIPLIER;
        check_range(
            "breaker.break_multiplier",
            self.break_multiplier,
            *mult.start(),
            *mult.end(),
        )?;
        let probes = Self::HALF_OPEN_PROBES;
        check_range(
            "breaker.half_open_probes",
            self.half_open_probes,
            *probes.start(),
            *probes.end(),
        )
    }

    /// The break after `previous_ms` when recovery failed again.
    fn grow(&self, previous_ms: u64) -> u64 {
        let next = previous_ms as f64 * self.break_multiplier;
        let next = if next < self.max_break_ms as f64 {
            next as u64
        } else {
            self.max_break_ms
        };
        next.max(previous_ms).min(self.max_break_ms)
    }
}

impl Default for BreakerConfig {
    /// Five failures in a row; a 10 s break doubling up to 5 min; one probe.
    fn default() -> Self {
        Self {
            mode: BreakerMode::Consecutive { threshold: 5 },
            base_break_ms: 10_000,
            max_break_ms: 300_000,
            break_multiplier: 2.0,
            half_open_probes: 1,
        }
    }
}

/// Where a breaker is.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests flow; failures are counted.
    Closed,
    /// Every request is rejected until `until_ms`.
    Open {
        /// When the break ends (ms since the epoch).
        until_ms: u64,
    },
    /// A few probes test the provider.
    HalfOpen {
        /// Probes admitted and not yet recorded.
        probes_in_flight: u32,
        /// Probes that succeeded.
        successes: u32,
    },
}

/// Why a breaker changed state.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum TransitionReason {
    /// Closed → open: `count` failures in a row.
    ConsecutiveFailures {
        /// The failures in a row.
        count: u32,
    },
    /// Closed → open: the failure rate reached the threshold.
    FailureRate {
        /// Failures in the window.
        failures: u32,
        /// Calls in the window.
        calls: u32,
    },
    /// Open → half-open: the break elapsed.
    BreakElapsed,
    /// Half-open → open: a probe failed.
    ProbeFailed,
    /// Half-open → closed: every probe succeeded.
    ProbesSucceeded {
        /// How many.
        probes: u32,
    },
    /// Half-open → closed on restore: probes were lost with a restart and
    /// none are needed any more (the config asks for fewer probes).
    Restored,
}

/// A state change: the breaker's event.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// The state left.
    pub from: BreakerState,
    /// The state entered.
    pub to: BreakerState,
    /// When (the `now_ms` of the call that caused it).
    pub at_ms: u64,
    /// Why.
    pub reason: TransitionReason,
    /// Trips since the breaker was last closed (0 once closed).
    pub trips: u32,
}

/// Proof of admission, handed back to [`Breaker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    epoch: u32,
    probe: bool,
}

impl Pass {
    /// Whether this is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

/// The breaker's answer to "may I send a request?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Closed: go ahead.
    Allowed(Pass),
    /// Half-open: go ahead as a probe.
    AllowedProbe(Pass),
    /// Open, or half-open with every probe slot taken.
    Rejected {
        /// How long the break still lasts; `None` when half-open (the
        /// probes in flight decide).
        retry_in_ms: Option<u64>,
    },
}

/// What [`Breaker::check`] returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checked {
    /// Whether the request may go.
    pub permit: Permit,
    /// The open → half-open transition, when this check made it (its `to`
    /// is half-open with no probes: the state entered before this check
    /// admitted its probe).
    pub transition: Option<Transition>,
}

impl Checked {
    fn plain(permit: Permit) -> Self {
        Self {
            permit,
            transition: None,
        }
    }

    /// The check as an event: the transition, or the rejection (they never
    /// come together), or nothing for a plain admission.
    pub fn event(&self) -> Option<ResilienceEvent> {
        match (self.transition, self.permit) {
            (Some(t), _) => Some(ResilienceEvent::Breaker(t)),
            (None, Permit::Rejected { retry_in_ms }) => {
                Some(ResilienceEvent::BreakerRejected { retry_in_ms })
            }
            _ => None,
        }
    }
}

/// The last `window_calls` outcomes as bits (1 = failure), newest lowest.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Window {
    bits: u64,
    len: u8,
}

impl Window {
    fn mask(size: u32) -> u64 {
        u64::MAX >> (64 - size.clamp(1, 64))
    }

    fn push(&mut self, failure: bool, size: u32) {
        self.bits = ((self.bits << 1) | u64::from(failure)) & Self::mask(size);
        self.len = self.len.saturating_add(1).min(size.clamp(1, 64) as u8);
    }

    fn trim(&mut self, size: u32) {
        self.bits &= Self::mask(size);
        self.len = self.len.min(size.clamp(1, 64) as u8);
    }

    fn failures(&self) -> u32 {
        self.bits.count_ones()
    }
}

/// Everything a breaker must remember across a worker restart (the config
/// is not in it: it comes from the settings).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSnapshot {
    state: BreakerState,
    trips: u32,
    break_ms: u64,
    consecutive_failures: u32,
    window: Window,
    epoch: u32,
}

/// A snapshot that could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// No bytes at all.
    #[error("empty breaker snapshot")]
    Empty,
    /// Written by another version.
    #[error("unknown breaker snapshot version {0}")]
    UnknownVersion(u8),
    /// The bytes do not decode.
    #[error("corrupt breaker snapshot: {0}")]
    Corrupt(String),
}

impl BreakerSnapshot {
    /// The state it holds.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// The stored form: [`SNAPSHOT_VERSION`], then postcard.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_extend(self, vec![SNAPSHOT_VERSION])
            .expect("breaker snapshots always serialise")
    }

    /// Reads [`to_bytes`](Self::to_bytes)' output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        match bytes.split_first() {
            None => Err(SnapshotError::Empty),
            Some((&SNAPSHOT_VERSION, rest)) => {
                postcard::from_bytes(rest).map_err(|e| SnapshotError::Corrupt(e.to_string()))
            }
            Some((&version, _)) => Err(SnapshotError::UnknownVersion(version)),
        }
    }
}

/// A provider's circuit breaker (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct Breaker {
    config: BreakerConfig,
    s: BreakerSnapshot,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Result<Self, InvalidSetting> {
        config.validate()?;
        let s = BreakerSnapshot {
            state: BreakerState::Closed,
            trips: 0,
            break_ms: 0,
            consecutive_failures: 0,
            window: Window::default(),
            epoch: 0,
        };
        Ok(Self { config, s })
    }

    /// A breaker restored from `snapshot` at `now_ms`, under `config` (which
    /// may differ from the one it was saved under).
    ///
    /// Passes issued before are void (their requests died with the worker),
    /// so probes in flight are forgotten: a half-open breaker admits fresh
    /// probes, or closes at once if the successes already reach the
    /// (possibly lowered) `half_open_probes`. An open breaker keeps its
    /// `until_ms`, cut to `now_ms + max_break_ms` at most (a snapshot from a
    /// clock far ahead cannot lock a provider out). The break and the
    /// window are trimmed to the config.
    pub fn restore(
        config: BreakerConfig,
        snapshot: BreakerSnapshot,
        now_ms: u64,
    ) -> Result<(Self, Option<Transition>), InvalidSetting> {
        config.validate()?;
        let mut s = snapshot;
        s.epoch = s.epoch.wrapping_add(1);
        s.break_ms = s.break_ms.min(config.max_break_ms);
        s.window.trim(Self::window_size(&config));
        let mut breaker = Self { config, s };
        let transition = match s.state {
            BreakerState::Open { until_ms } => {
                let until_ms = until_ms.min(now_ms.saturating_add(config.max_break_ms));
                breaker.s.state = BreakerState::Open { until_ms };
                None
            }
            BreakerState::HalfOpen { successes, .. } if successes >= config.half_open_probes => {
                Some(breaker.close(now_ms, TransitionReason::Restored))
            }
            BreakerState::HalfOpen { successes, .. } => {
                breaker.s.state = BreakerState::HalfOpen {
                    probes_in_flight: 0,
                    successes,
                };
                None
            }
            BreakerState::Closed => None,
        };
        Ok((breaker, transition))
    }

    /// What to persist (after every transition, say).
    pub fn snapshot(&self) -> BreakerSnapshot {
        self.s
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.s.state
    }

    /// Trips since the breaker was last closed.
    pub fn trips(&self) -> u32 {
        self.s.trips
    }

    /// The settings.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// When the breaker next changes by itself: the end of the break while
    /// open (the shell may wake then to let a probe through).
    pub fn wake_at_ms(&self) -> Option<u64> {
        match self.s.state {
            BreakerState::Open { until_ms } => Some(until_ms),
            _ => None,
        }
    }

    /// May a request go at `now_ms`? Moves open → half-open once the break
    /// has elapsed (reported in [`Checked::transition`]). O(1), no
    /// allocation.
    pub fn check(&mut self, now_ms: u64) -> Checked {
        match self.s.state {
            BreakerState::Closed => Checked::plain(Permit::Allowed(self.pass(false))),
            BreakerState::Open { until_ms } if now_ms < until_ms => {
                Checked::plain(Permit::Rejected {
                    retry_in_ms: Some(until_ms - now_ms),
                })
            }
            BreakerState::Open { .. } => {
                let half_open = BreakerState::HalfOpen {
                    probes_in_flight: 0,
                    successes: 0,
                };
                let transition = self.enter(half_open, now_ms, TransitionReason::BreakElapsed);
                Checked {
                    permit: self.admit_probe(),
                    transition: Some(transition),
                }
            }
            BreakerState::HalfOpen { .. } => Checked::plain(self.admit_probe()),
        }
    }

    /// Records how the request holding `pass` went, at `now_ms`; returns the
    /// transition it caused. A stale pass (issued before the last
    /// transition) is ignored; [`Health::Unknown`] only frees a probe slot.
    pub fn record(&mut self, pass: Pass, health: Health, now_ms: u64) -> Option<Transition> {
        if pass.epoch != self.s.epoch {
            return None;
        }
        match (self.s.state, health) {
            (
                BreakerState::HalfOpen {
                    probes_in_flight,
                    successes,
                },
                Health::Unknown,
            ) => {
                self.s.state = BreakerState::HalfOpen {
                    probes_in_flight: probes_in_flight.saturating_sub(1),
                    successes,
                };
                None
            }
            (_, Health::Unknown) | (BreakerState::Open { .. }, _) => None,
            (BreakerState::Closed, health) => {
                self.record_closed(health == Health::Unhealthy, now_ms)
            }
            (BreakerState::HalfOpen { .. }, Health::Unhealthy) => {
                Some(self.trip(now_ms, TransitionReason::ProbeFailed))
            }
            (
                BreakerState::HalfOpen {
                    probes_in_flight,
                    successes,
                },
                Health::Healthy,
            ) => {
                let successes = successes + 1;
                if successes >= self.config.half_open_probes {
                    return Some(self.close(
                        now_ms,
                        TransitionReason::ProbesSucceeded { probes: successes },
                    ));
                }
                self.s.state = BreakerState::HalfOpen {
                    probes_in_flight: probes_in_flight.saturating_sub(1),
                    successes,
                };
                None
            }
        }
    }

    fn pass(&self, probe: bool) -> Pass {
        Pass {
            epoch: self.s.epoch,
            probe,
        }
    }

    fn admit_probe(&mut self) -> Permit {
        match self.s.state {
            BreakerState::HalfOpen {
                probes_in_flight,
                successes,
            } if probes_in_flight + successes < self.config.half_open_probes => {
                self.s.state = BreakerState::HalfOpen {
                    probes_in_flight: probes_in_flight + 1,
                    successes,
                };
                Permit::AllowedProbe(self.pass(true))
            }
            _ => Permit::Rejected { retry_in_ms: None },
        }
    }

    fn window_size(config: &BreakerConfig) -> u32 {
        match config.mode {
            BreakerMode::Consecutive { .. } => 1,
            BreakerMode::FailureRate { window_calls, .. } => window_calls,
        }
    }

    fn record_closed(&mut self, failure: bool, now_ms: u64) -> Option<Transition> {
        self.s.consecutive_failures = if failure {
            self.s.consecutive_failures.saturating_add(1)
        } else {
            0
        };
        let reason = match self.config.mode {
            BreakerMode::Consecutive { threshold } => {
                let count = self.s.consecutive_failures;
                (count >= threshold).then_some(TransitionReason::ConsecutiveFailures { count })
            }
            BreakerMode::FailureRate {
                window_calls,
                min_calls,
                threshold_ratio,
            } => {
                self.s.window.push(failure, window_calls);
                let (failures, calls) = (self.s.window.failures(), u32::from(self.s.window.len));
                let tripped =
                    calls >= min_calls && f64::from(failures) >= threshold_ratio * f64::from(calls);
                tripped.then_some(TransitionReason::FailureRate { failures, calls })
            }
        };
        reason.map(|reason| self.trip(now_ms, reason))
    }

    fn trip(&mut self, now_ms: u64, reason: TransitionReason) -> Transition {
        self.s.trips = self.s.trips.saturating_add(1);
        self.s.break_ms = if self.s.trips == 1 {
            self.config.base_break_ms
        } else {
            self.config
                .grow(self.s.break_ms.max(self.config.base_break_ms))
        };
        let until_ms = now_ms.saturating_add(self.s.break_ms);
        self.enter(BreakerState::Open { until_ms }, now_ms, reason)
    }

    fn close(&mut self, now_ms: u64, reason: TransitionReason) -> Transition {
        self.s.trips = 0;
        self.s.break_ms = 0;
        self.enter(BreakerState::Closed, now_ms, reason)
    }

    fn enter(&mut self, to: BreakerState, now_ms: u64, reason: TransitionReason) -> Transition {
        let from = self.s.state;
        self.s.state = to;
        self.s.epoch = self.s.epoch.wrapping_add(1);
        self.s.consecutive_failures = 0;
        self.s.window = Window::default();
        Transition {
            from,
            to,
            at_ms: now_ms,
            reason,
            trips: self.s.trips,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn consecutive(threshold: u32, probes: u32) -> BreakerConfig {
        BreakerConfig {
            mode: BreakerMode::Consecutive { threshold },
            base_break_ms: 1_000,
            max_break_ms: 10_000,
            break_multiplier: 3.0,
            half_open_probes: probes,
        }
    }

    fn allowed(b: &mut Breaker, now: u64) -> Pass {
        match b.check(now).permit {
            Permit::Allowed(pass) | Permit::AllowedProbe(pass) => pass,
            other => panic!("rejected at {now}: {other:?}"),
        }
    }

    fn fail(b: &mut Breaker, now: u64) -> Option<Transition> {
        let pass = allowed(b, now);
        b.record(pass, Health::Unhealthy, now)
    }

    #[test]
    fn default_config_is_valid_and_bad_ones_are_named() {
        BreakerConfig::default().validate().unwrap();
        let rate = |window_calls, min_calls, threshold_ratio| BreakerConfig {
            mode: BreakerMode::FailureRate {
                window_calls,
                min_calls,
                threshold_ratio,
            },
            ..BreakerConfig::default()
        };
        assert_eq!(
            rate(65, 10, 0.5).validate().unwrap_err().setting,
            "breaker.window_calls"
        );
        let err = rate(20, 21, 0.5).validate().unwrap_err();
        assert_eq!((err.setting, err.max), ("breaker.min_calls", 20.0));
        assert_eq!(
            rate(20, 10, 0.0).validate().unwrap_err().setting,
            "breaker.threshold_ratio"
        );
        let short = BreakerConfig {
            max_break_ms: 5_000,
            ..BreakerConfig::default()
        };
        assert_eq!(
            short.validate().unwrap_err().to_string(),
            "breaker.max_break_ms: 5000 is outside 10000..=86400000"
        );
        let flat = BreakerConfig {
            break_multiplier: 0.5,
            ..BreakerConfig::default()
        };
        assert!(Breaker::new(flat).is_err());
    }

    #[test]
    fn trips_after_consecutive_failures_and_a_success_resets_the_count() {
        let mut b = Breaker::new(consecutive(3, 1)).unwrap();
        assert_eq!(fail(&mut b, 0), None);
        assert_eq!(fail(&mut b, 1), None);
        let pass = allowed(&mut b, 2);
        assert_eq!(b.record(pass, Health::Healthy, 2), None);
        assert_eq!(fail(&mut b, 3), None);
        assert_eq!(fail(&mut b, 4), None);
        let t = fail(&mut b, 5).unwrap();
        assert_eq!(t.from, BreakerState::Closed);
        assert_eq!(t.to, BreakerState::Open { until_ms: 1_005 });
        assert_eq!(t.reason, TransitionReason::ConsecutiveFailures { count: 3 });
        assert_eq!((t.at_ms, t.trips), (5, 1));
        assert_eq!(
            b.check(1_004).permit,
            Permit::Rejected {
                retry_in_ms: Some(1)
            }
        );
        assert_eq!(b.wake_at_ms(), Some(1_005));
    }

    #[test]
    fn failure_rate_needs_min_calls() {
        let config = BreakerConfig {
            mode: BreakerMode::FailureRate {
                window_calls: 4,
                min_calls: 3,
                threshold_ratio: 0.5,
            },
            ..consecutive(1, 1)
        };
        let mut b = Breaker::new(config).unwrap();
        assert_eq!(fail(&mut b, 0), None, "one call is not enough");
        let pass = allowed(&mut b, 1);
        assert_eq!(b.record(pass, Health::Healthy, 1), None);
        let t = fail(&mut b, 2).unwrap();
        assert_eq!(
            t.reason,
            TransitionReason::FailureRate {
                failures: 2,
                calls: 3
            }
        );
    }

    #[test]
    fn half_open_admits_its_probes_and_closes_after_all_succeed() {
        let mut b = Breaker::new(consecutive(1, 2)).unwrap();
        let stale = allowed(&mut b, 0);
        fail(&mut b, 0).unwrap();
        let checked = b.check(1_000);
        let t = checked.transition.unwrap();
        assert_eq!(
            (t.from, t.reason),
            (
                BreakerState::Open { until_ms: 1_000 },
                TransitionReason::BreakElapsed
            )
        );
        assert_eq!(checked.event(), Some(ResilienceEvent::Breaker(t)));
        let Permit::AllowedProbe(p1) = checked.permit else {
            panic!()
        };
        let Permit::AllowedProbe(p2) = b.check(1_001).permit else {
            panic!()
        };
        let full = b.check(1_002);
        assert_eq!(full.permit, Permit::Rejected { retry_in_ms: None });
        assert_eq!(
            full.event(),
            Some(ResilienceEvent::BreakerRejected { retry_in_ms: None })
        );
        assert_eq!(
            b.record(stale, Health::Healthy, 1_003),
            None,
            "a pass from before the trip"
        );
        // A cancelled probe frees its slot.
        assert_eq!(b.record(p1, Health::Unknown, 1_004), None);
        let Permit::AllowedProbe(p3) = b.check(1_005).permit else {
            panic!()
        };
        assert_eq!(b.record(p2, Health::Healthy, 1_006), None);
        let t = b.record(p3, Health::Healthy, 1_007).unwrap();
        assert_eq!(
            (t.to, t.reason, t.trips),
            (
                BreakerState::Closed,
                TransitionReason::ProbesSucceeded { probes: 2 },
                0
            )
        );
    }

    #[test]
    fn failed_probes_lengthen_the_break_up_to_the_max_and_closing_resets_it() {
        let mut b = Breaker::new(consecutive(1, 1)).unwrap();
        let mut now = 0;
        fail(&mut b, now).unwrap();
        let mut breaks = vec![];
        for _ in 0..4 {
            let BreakerState::Open { until_ms } = b.state() else {
                panic!()
            };
            breaks.push(until_ms - now);
            now = until_ms;
            let t = fail(&mut b, now).unwrap();
            assert_eq!(t.reason, TransitionReason::ProbeFailed);
        }
        assert_eq!(breaks, [1_000, 3_000, 9_000, 10_000]);
        now += 10_000;
        let pass = allowed(&mut b, now);
        assert_eq!(
            b.record(pass, Health::Healthy, now).unwrap().to,
            BreakerState::Closed
        );
        let t = fail(&mut b, now).unwrap();
        assert_eq!(
            (t.to, t.trips),
            (
                BreakerState::Open {
                    until_ms: now + 1_000
                },
                1
            )
        );
    }

    #[test]
    fn snapshot_round_trips_and_restoring_keeps_the_break() {
        let config = consecutive(1, 1);
        let mut b = Breaker::new(config).unwrap();
        fail(&mut b, 100).unwrap();
        let bytes = b.snapshot().to_bytes();
        assert!(bytes.len() <= 16, "{} bytes", bytes.len());
        let snapshot = BreakerSnapshot::from_bytes(&bytes).unwrap();
        assert_eq!(snapshot, b.snapshot());
        let (mut restored, t) = Breaker::restore(config, snapshot, 600).unwrap();
        assert_eq!(t, None);
        assert_eq!(
            restored.check(600).permit,
            Permit::Rejected {
                retry_in_ms: Some(500)
            }
        );
        assert!(restored.check(1_100).transition.is_some());
        // A clock far behind the snapshot: the break is cut to max_break_ms.
        let (far, _) = Breaker::restore(config, snapshot, 0).unwrap();
        assert_eq!(far.state(), BreakerState::Open { until_ms: 1_100 });
        let (cut, _) = Breaker::restore(
            BreakerConfig {
                max_break_ms: 1_000,
                ..config
            },
            snapshot,
            0,
        )
        .unwrap();
        assert_eq!(cut.state(), BreakerState::Open { until_ms: 1_000 });

        assert_eq!(BreakerSnapshot::from_bytes(&[]), Err(SnapshotError::Empty));
        assert_eq!(
            BreakerSnapshot::from_bytes(&[9, 0]),
            Err(SnapshotError::UnknownVersion(9))
        );
        assert!(matches!(
            BreakerSnapshot::from_bytes(&[SNAPSHOT_VERSION, 7]),
            Err(SnapshotError::Corrupt(_))
        ));
    }

    #[test]
    fn restoring_half_open_forgets_probes_in_flight() {
        let config = consecutive(1, 2);
        let mut b = Breaker::new(config).unwrap();
        fail(&mut b, 0).unwrap();
        let old = allowed(&mut b, 1_000);
        let pass = allowed(&mut b, 1_000);
        b.record(pass, Health::Healthy, 1_001);
        let (mut restored, t) = Breaker::restore(config, b.snapshot(), 2_000).unwrap();
        assert_eq!(
            (t, restored.state()),
            (
                None,
                BreakerState::HalfOpen {
                    probes_in_flight: 0,
                    successes: 1
                }
            )
        );
        assert_eq!(
            restored.record(old, Health::Healthy, 2_000),
            None,
            "passes from before the restart are void"
        );
        let fresh = allowed(&mut restored, 2_001);
        assert_eq!(
            restored.record(fresh, Health::Healthy, 2_002).unwrap().to,
            BreakerState::Closed
        );
        // Fewer probes required now than already succeeded: closes on restore.
        let (closed, t) = Breaker::restore(consecutive(1, 1), b.snapshot(), 2_000).unwrap();
        assert_eq!(
            (closed.state(), t.unwrap().reason),
            (BreakerState::Closed, TransitionReason::Restored)
        );
    }

    /// One step of a simulated run.
    #[derive(Debug, Clone)]
    enum Op {
        /// Time passes, then a request is checked (kept if admitted).
        Check(u64),
        /// Time passes, then the `i`-th outstanding request reports.
        Record(u64, usize, Health),
        /// The worker restarts: snapshot, restore.
        Restart(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let health = prop_oneof![4 => Just(Health::Unhealthy), 4 => Just(Health::Healthy), 1 => Just(Health::Unknown)];
        prop_oneof![
            4 => (0u64..3_000).prop_map(Op::Check),
            5 => (0u64..3_000, any::<usize>(), health).prop_map(|(dt, i, h)| Op::Record(dt, i, h)),
            1 => (0u64..3_000).prop_map(Op::Restart),
        ]
    }

    fn config() -> impl Strategy<Value = BreakerConfig> {
        let mode = prop_oneof![
            (1u32..5).prop_map(|threshold| BreakerMode::Consecutive { threshold }),
            (1u32..=64, 0.05f64..=1.0).prop_flat_map(|(window_calls, threshold_ratio)| (1
                ..=window_calls)
                .prop_map(move |min_calls| {
                    BreakerMode::FailureRate {
                        window_calls,
                        min_calls,
                        threshold_ratio,
                    }
                })),
        ];
        (mode, 100u64..2_000, 0u64..10_000, 1.0f64..=4.0, 1u32..4).prop_map(
            |(mode, base, extra, mult, probes)| BreakerConfig {
                mode,
                base_break_ms: base,
                max_break_ms: base + extra,
                break_multiplier: mult,
                half_open_probes: probes,
            },
        )
    }

    proptest! {
        /// The state sequence over random checks, outcomes, times and
        /// restarts obeys the transition rules.
        #[test]
        fn state_sequence_obeys_the_rules(config in config(), ops in proptest::collection::vec(op(), 1..200)) {
            let mut b = Breaker::new(config).unwrap();
            let mut now = 0u64;
            let mut outstanding: Vec<Pass> = vec![];
            let mut last_break = 0u64;
            for op in ops {
                let before = b.state();
                let transition = match op {
                    Op::Check(dt) => {
                        now += dt;
                        let checked = b.check(now);
                        match (before, checked.permit) {
                            (BreakerState::Closed, Permit::Allowed(_)) => {}
                            (BreakerState::Open { until_ms }, Permit::Rejected { retry_in_ms }) => {
                                prop_assert!(now < until_ms, "open rejects until until_ms, then probes");
                                prop_assert_eq!(retry_in_ms, Some(until_ms - now));
                            }
                            (BreakerState::Open { until_ms }, Permit::AllowedProbe(_)) => prop_assert!(now >= until_ms),
                            (BreakerState::HalfOpen { .. }, Permit::AllowedProbe(_) | Permit::Rejected { retry_in_ms: None }) => {}
                            (state, permit) => prop_assert!(false, "{:?} gave {:?}", state, permit),
                        }
                        if let Permit::Allowed(pass) | Permit::AllowedProbe(pass) = checked.permit {
                            outstanding.push(pass);
                        }
                        checked.transition
                    }
                    Op::Record(dt, i, health) if !outstanding.is_empty() => {
                        now += dt;
                        let pass = outstanding.swap_remove(i % outstanding.len());
                        b.record(pass, health, now)
                    }
                    Op::Record(..) => None,
                    Op::Restart(dt) => {
                        now += dt;
                        outstanding.clear();
                        let bytes = b.snapshot().to_bytes();
                        let snapshot = BreakerSnapshot::from_bytes(&bytes).unwrap();
                        prop_assert_eq!(snapshot, b.snapshot());
                        let (restored, transition) = Breaker::restore(config, snapshot, now).unwrap();
                        prop_assert_eq!(transition, None, "same config: nothing to close");
                        if let BreakerState::HalfOpen { successes, .. } = before {
                            prop_assert_eq!(restored.state(), BreakerState::HalfOpen { probes_in_flight: 0, successes });
                        } else {
                            prop_assert_eq!(restored.state(), before, "restoring keeps the state");
                        }
                        b = restored;
                        None
                    }
                };
                let after = b.state();
                if let BreakerState::HalfOpen { probes_in_flight, successes } = after {
                    prop_assert!(probes_in_flight + successes <= config.half_open_probes, "at most N probes");
                }
                let Some(t) = transition else {
                    let same_kind = std::mem::discriminant(&before) == std::mem::discriminant(&after);
                    prop_assert!(same_kind, "silent change {:?} -> {:?}", before, after);
                    continue;
                };
                prop_assert_eq!(t.from, before);
                if let BreakerState::HalfOpen { .. } = after {
                    // Entered with no probes; the check then admitted one.
                    prop_assert_eq!(t.to, BreakerState::HalfOpen { probes_in_flight: 0, successes: 0 });
                } else {
                    prop_assert_eq!(t.to, after);
                }
                prop_assert_eq!(t.at_ms, now);
                match (t.from, t.to) {
                    (BreakerState::Closed, BreakerState::Open { until_ms }) => {
                        prop_assert_eq!(t.trips, 1);
                        prop_assert_eq!(until_ms, now + config.base_break_ms);
                        last_break = config.base_break_ms;
                    }
                    (BreakerState::Open { .. }, BreakerState::HalfOpen { .. }) => prop_assert_eq!(t.reason, TransitionReason::BreakElapsed),
                    (BreakerState::HalfOpen { .. }, BreakerState::Open { until_ms }) => {
                        let this_break = until_ms - now;
                        prop_assert!(this_break >= last_break && this_break <= config.max_break_ms, "grows up to max");
                        prop_assert!(t.trips >= 2);
                        last_break = this_break;
                    }
                    (BreakerState::HalfOpen { .. }, BreakerState::Closed) => prop_assert_eq!(t.trips, 0),
                    (from, to) => prop_assert!(false, "forbidden transition {:?} -> {:?}", from, to),
                }
            }
        }

        /// In failure-rate mode the breaker trips exactly when a naive
        /// model of the last `window_calls` outcomes says so.
        #[test]
        fn failure_rate_matches_a_naive_window(
            window_calls in 1u32..=64,
            min_frac in 0.0f64..=1.0,
            threshold_ratio in 0.05f64..=1.0,
            outcomes in proptest::collection::vec(proptest::bool::weighted(0.3), 1..300),
        ) {
            let min_calls = ((f64::from(window_calls) * min_frac) as u32).clamp(1, window_calls);
            let config = BreakerConfig {
                mode: BreakerMode::FailureRate { window_calls, min_calls, threshold_ratio },
                ..consecutive(1, 1)
            };
            let mut b = Breaker::new(config).unwrap();
            let mut model: VecDeque<bool> = VecDeque::new();
            for (i, failure) in outcomes.into_iter().enumerate() {
                let now = i as u64;
                if b.state() != BreakerState::Closed {
                    break;
                }
                let pass = allowed(&mut b, now);
                let health = if failure { Health::Unhealthy } else { Health::Healthy };
                let t = b.record(pass, health, now);
                model.push_back(failure);
                if model.len() > window_calls as usize {
                    model.pop_front();
                }
                let failures = model.iter().filter(|f| **f).count() as f64;
                let expected = model.len() >= min_calls as usize && failures >= threshold_ratio * model.len() as f64;
                prop_assert_eq!(t.is_some(), expected);
            }
        }
    }
}
