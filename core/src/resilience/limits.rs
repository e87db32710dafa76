//! Limits on one request and on a provider's traffic: [`TimeoutWatch`]
//! (time to first byte, idle time between chunks, total), [`Bulkhead`]
//! (concurrent requests with a bounded queue) and [`RateLimiter`] (requests
//! and tokens per sliding minute).
//!
//! ```
//! use paperclip_core::resilience::limits::{
//!     Admission, Bulkhead, BulkheadConfig, RateLimiter, RateLimits, Throttle, TimeoutKind, TimeoutWatch, Timeouts, Watch,
//! };
//!
//! // Timeouts: nothing streamed 30 s after the start.
//! let mut watch = TimeoutWatch::start(Timeouts::default(), 0);
//! assert_eq!(watch.check(1_000), Watch::WakeAt(30_000));
//! assert_eq!(watch.check(30_000), Watch::Fired(TimeoutKind::FirstByte));
//! watch.on_chunk(2_000);
//! assert_eq!(watch.check(2_500), Watch::WakeAt(32_000));
//!
//! // Bulkhead: one at a time, one waiting.
//! let mut bulkhead = Bulkhead::new(BulkheadConfig { max_concurrent: 1, max_queue: 1 })?;
//! let Admission::Run(first) = bulkhead.try_acquire() else { unreachable!() };
//! let Admission::Queued { ticket: second, position: 1 } = bulkhead.try_acquire() else { unreachable!() };
//! assert_eq!(bulkhead.try_acquire(), Admission::Rejected);
//! assert_eq!(bulkhead.release(first), Some(second));
//!
//! // Rate limits: two requests per minute.
//! let mut limiter = RateLimiter::new(RateLimits { requests_per_minute: Some(2), tokens_per_minute: None })?;
//! limiter.check(100, 0).unwrap();
//! limiter.check(100, 500).unwrap();
//! assert_eq!(limiter.check(100, 1_000), Err(Throttle::Wait { ms: 60_000 }));
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```

use std::collections::VecDeque;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::{check_ms, check_range, InvalidSetting, ResilienceEvent};

/// Which timeout fired.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutKind {
    /// No byte of the answer arrived in time.
    FirstByte,
    /// The stream stalled between two chunks.
    Idle,
    /// The whole attempt took too long (or reached the retry deadline).
    Total,
}

/// An attempt's time limits.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the start to the first byte of the answer.
    pub first_byte_ms: u64,
    /// Between two chunks of the stream.
    pub idle_ms: u64,
    /// From the start to the end.
    pub total_ms: u64,
}

impl Timeouts {
    /// Accepted `first_byte_ms` (and never above `total_ms`).
    pub const FIRST_BYTE_MS: RangeInclusive<u64> = 1_000..=600_000;
    /// Accepted `idle_ms` (and never above `total_ms`).
    pub const IDLE_MS: RangeInclusive<u64> = 1_000..=600_000;
    /// Accepted `total_ms` (5 s to an hour).
    pub const TOTAL_MS: RangeInclusive<u64> = 5_000..=3_600_000;

    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_ms(
            "timeouts.total_ms",
            self.total_ms,
            *Self::TOTAL_MS.start(),
            *Self::TOTAL_MS.end(),
        )?;
        let first_max = (*Self::FIRST_BYTE_MS.end()).min(self.total_ms);
        check_ms(
            "timeouts.first_byte_ms",
            self.first_byte_ms,
            *Self::FIRST_BYTE_MS.start(),
            first_max,
        )?;
        let idle_max = (*Self::IDLE_MS.end()).min(self.total_ms);
        check_ms(
            "timeouts.idle_ms",
            self.idle_ms,
            *Self::IDLE_MS.start(),
            idle_max,
        )
    }
}

impl Default for Timeouts {
    /// 30 s to the first byte, 30 s between chunks, 5 min in all.
    fn default() -> Self {
        Self {
            first_byte_ms: 30_000,
            idle_ms: 30_000,
            total_ms: 300_000,
        }
    }
}

/// What [`TimeoutWatch::check`] says.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Watch {
    /// This timeout fired: abort the attempt.
    Fired(TimeoutKind),
    /// Nothing yet; check again at this time (ms since the epoch) or at the
    /// next chunk, whichever comes first.
    WakeAt(u64),
}

impl Watch {
    /// The event, when a timeout fired.
    pub fn event(&self) -> Option<ResilienceEvent> {
        match *self {
            Self::Fired(kind) => Some(ResilienceEvent::TimedOut { kind }),
            Self::WakeAt(_) => None,
        }
    }
}

/// One attempt's timeouts over a simulated (or real) clock.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutWatch {
    timeouts: Timeouts,
    started_ms: u64,
    end_ms: u64,
    first_byte_at_ms: Option<u64>,
    last_chunk_at_ms: Option<u64>,
}

impl TimeoutWatch {
    /// The attempt starts at `now_ms`.
    pub fn start(timeouts: Timeouts, now_ms: u64) -> Self {
        Self {
            timeouts,
            started_ms: now_ms,
            end_ms: now_ms.saturating_add(timeouts.total_ms),
            first_byte_at_ms: None,
            last_chunk_at_ms: None,
        }
    }

    /// Ends the attempt at `deadline_ms` at the latest (the retry deadline,
    /// [`RetryState::deadline_at_ms`](super::retry::RetryState::deadline_at_ms));
    /// reported as [`TimeoutKind::Total`].
    pub fn until(mut self, deadline_ms: u64) -> Self {
        self.end_ms = self.end_ms.min(deadline_ms);
        self
    }

    /// Bytes of the answer arrived at `now_ms` (the first call marks the
    /// first byte).
    pub fn on_chunk(&mut self, now_ms: u64) {
        self.first_byte_at_ms.get_or_insert(now_ms);
        self.last_chunk_at_ms = Some(now_ms);
    }

    /// When the first byte arrived, if it did.
    pub fn first_byte_at_ms(&self) -> Option<u64> {
        self.first_byte_at_ms
    }

    /// The timeout that fired by `now_ms` (the earliest due; the total one
    /// on a tie), or when to check next.
    pub fn check(&self, now_ms: u64) -> Watch {
        let (phase_kind, phase_due) = match self.last_chunk_at_ms {
            None => (
                TimeoutKind::FirstByte,
                self.started_ms.saturating_add(self.timeouts.first_byte_ms),
            ),
            Some(at) => (TimeoutKind::Idle, at.saturating_add(self.timeouts.idle_ms)),
        };
        let (kind, due) = if self.end_ms <= phase_due {
            (TimeoutKind::Total, self.end_ms)
        } else {
            (phase_kind, phase_due)
        };
        if now_ms >= due {
            Watch::Fired(kind)
        } else {
            Watch::WakeAt(due)
        }
    }
}

/// A bulkhead's settings.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadConfig {
    /// Requests that may run at once.
    pub max_concurrent: u32,
    /// Requests that may wait for a slot (0: none wait).
    pub max_queue: u32,
}

impl BulkheadConfig {
    /// Accepted `max_concurrent`.
    pub const MAX_CONCURRENT: RangeInclusive<u32> = 1..=16;
    /// Accepted `max_queue`.
    pub const MAX_QUEUE: RangeInclusive<u32> = 0..=64;

    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let running = Self::MAX_CONCURRENT;
        check_range(
            "bulkhead.max_concurrent",
            self.max_concurrent,
            *running.start(),
            *running.end(),
        )?;
        check_range(
            "bulkhead.max_queue",
            self.max_queue,
            *Self::MAX_QUEUE.start(),
            *Self::MAX_QUEUE.end(),
        )
    }
}

impl Default for BulkheadConfig {
    /// Two at once, eight waiting.
    fn default() -> Self {
        Self {
            max_concurrent: 2,
            max_queue: 8,
        }
    }
}

/// A request's place in a [`Bulkhead`] (unique per bulkhead).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

impl Ticket {
    /// Its number, for logs.
    pub fn id(&self) -> u64 {
        self.0
    }
}

/// What [`Bulkhead::try_acquire`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Run now; [`Bulkhead::release`] the ticket when done.
    Run(Ticket),
    /// Wait: the ticket runs when a [`Bulkhead::release`] returns it.
    Queued {
        /// The waiting ticket ([`Bulkhead::cancel`] it to give up).
        ticket: Ticket,
        /// Its place in the queue (1 = next to run).
        position: u32,
    },
    /// Every slot and queue place is taken.
    Rejected,
}

impl Admission {
    /// The event, unless the request runs at once.
    pub fn event(&self) -> Option<ResilienceEvent> {
        match *self {
            Self::Run(_) => None,
            Self::Queued { position, .. } => Some(ResilienceEvent::Queued { position }),
            Self::Rejected => Some(ResilienceEvent::BulkheadRejected),
        }
    }
}

/// At most `max_concurrent` requests running per provider, at most
/// `max_queue` waiting in order: pure bookkeeping by ticket (the shell holds
/// the futures). Its memory is allocated once, at [`Bulkhead::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bulkhead {
    config: BulkheadConfig,
    running: Vec<Ticket>,
    queue: VecDeque<Ticket>,
    next: u64,
}

impl Bulkhead {
    /// An empty bulkhead.
    pub fn new(config: BulkheadConfig) -> Result<Self, InvalidSetting> {
        config.validate()?;
        Ok(Self {
            config,
            running: Vec::with_capacity(config.max_concurrent as usize),
            queue: VecDeque::with_capacity(config.max_queue as usize),
            next: 0,
        })
    }

    /// Asks for a slot: run now, wait in the queue, or rejected. Nobody
    /// jumps the queue: a free slot with waiters goes to the first waiter.
    pub fn try_acquire(&mut self) -> Admission {
        if self.running.len() < self.config.max_concurrent as usize && self.queue.is_empty() {
            let ticket = self.issue();
            self.running.push(ticket);
            Admission::Run(ticket)
        } else if self.queue.len() < self.config.max_queue as usize {
            let ticket = self.issue();
            self.queue.push_back(ticket);
            Admission::Queued {
                ticket,
                position: self.queue.len() as u32,
            }
        } else {
            Admission::Rejected
        }
    }

    /// A request is done (or abandoned). For a running ticket, frees its
    /// slot and returns the waiting ticket that runs now, if any; a queued
    /// ticket is cancelled; an unknown one (already released) is ignored.
    pub fn release(&mut self, ticket: Ticket) -> Option<Ticket> {
        let Some(i) = self.running.iter().position(|t| *t == ticket) else {
            self.cancel(ticket);
            return None;
        };
        self.running.swap_remove(i);
        let next = self.queue.pop_front()?;
        self.running.push(next);
        Some(next)
    }

    /// Takes a waiting ticket out of the queue; `false` if it was not queued.
    pub fn cancel(&mut self, ticket: Ticket) -> bool {
        match self.queue.iter().position(|t| *t == ticket) {
            Some(i) => self.queue.remove(i).is_some(),
            None => false,
        }
    }

    /// A waiting ticket's place in the queue (1 = next), `None` if not queued.
    pub fn position(&self, ticket: Ticket) -> Option<u32> {
        self.queue
            .iter()
            .position(|t| *t == ticket)
            .map(|i| i as u32 + 1)
    }

    /// Requests running.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Requests waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    fn issue(&mut self) -> Ticket {
        self.next += 1;
        Ticket(self.next)
    }
}

/// A provider's rate limits (`None`: unlimited).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimits {
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Tokens (prompt + answer) per minute.
    pub tokens_per_minute: Option<u32>,
}

impl RateLimits {
    /// Accepted `requests_per_minute`.
    pub const REQUESTS_PER_MINUTE: RangeInclusive<u32> = 1..=100_000;
    /// Accepted `tokens_per_minute`.
    pub const TOKENS_PER_MINUTE: RangeInclusive<u32> = 100..=100_000_000;

    /// Checks every set limit against its range.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if let Some(rpm) = self.requests_per_minute {
            let range = Self::REQUESTS_PER_MINUTE;
            check_range(
                "limits.requests_per_minute",
                rpm,
                *range.start(),
                *range.end(),
            )?;
        }
        if let Some(tpm) = self.tokens_per_minute {
            let range = Self::TOKENS_PER_MINUTE;
            check_range(
                "limits.tokens_per_minute",
                tpm,
                *range.start(),
                *range.end(),
            )?;
        }
        Ok(())
    }
}

/// Why [`RateLimiter::check`] held a request back.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Throttle {
    /// Over a limit now: ask again in `ms` (sooner will not succeed).
    #[error("rate limited: wait {ms} ms")]
    Wait {
        /// The wait.
        ms: u64,
    },
    /// The request's token estimate alone is over the per-minute limit.
    #[error("{tokens} tokens exceed the limit of {limit} per minute")]
    TooLarge {
        /// The estimate.
        tokens: u32,
        /// The limit.
        limit: u32,
    },
}

impl Throttle {
    /// The event.
    pub fn event(&self) -> ResilienceEvent {
        match *self {
            Self::Wait { ms } => ResilienceEvent::RateLimited { wait_ms: ms },
            Self::TooLarge { tokens, limit } => ResilienceEvent::OverTokenLimit { tokens, limit },
        }
    }
}

/// An admitted request's receipt, for [`RateLimiter::settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    slot: u64,
    tokens: u32,
}

/// Length of one slot of the limiter's window.
const SLOT_MS: u64 = 1_000;
/// Slots counted: a minute of them, plus the current partial one.
const SLOTS: usize = 61;

/// What one slot admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Usage {
    requests: u32,
    tokens: u32,
}

/// Requests and tokens per *sliding* minute.
///
/// A sliding-window counter in one-second slots: a request is admitted only
/// if, counting it, the last 61 slots (every slot a minute-long window
/// ending now can touch) stay within the limits, so no 60 s window ever
/// holds more than the configured rates. (A token bucket, by contrast, lets
/// a full bucket plus a minute's refill through in one minute: twice the
/// rate.) At most one second stricter than exact. Fixed size, no
/// allocation. Time that goes backwards counts as the latest time seen.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimiter {
    limits: RateLimits,
    /// The slot number (time / 1 s) of the newest slot.
    head: u64,
    slots: [Usage; SLOTS],
}

impl RateLimiter {
    /// A limiter with nothing admitted yet.
    pub fn new(limits: RateLimits) -> Result<Self, InvalidSetting> {
        limits.validate()?;
        Ok(Self {
            limits,
            head: 0,
            slots: [Usage::default(); SLOTS],
        })
    }

    /// The limits.
    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Admits a request estimated at `tokens` (prompt + expected answer) at
    /// `now_ms`, or says how long to wait. Correct the estimate with
    /// [`settle`](Self::settle) once the usage is known.
    pub fn check(&mut self, tokens: u32, now_ms: u64) -> Result<Grant, Throttle> {
        if let Some(limit) = self
            .limits
            .tokens_per_minute
            .filter(|limit| tokens > *limit)
        {
            return Err(Throttle::TooLarge { tokens, limit });
        }
        self.advance(now_ms);
        let (requests, used) = self.totals();
        let excess_requests = match self.limits.requests_per_minute {
            Some(limit) => (requests + 1).saturating_sub(u64::from(limit)),
            None => 0,
        };
        let excess_tokens = match self.limits.tokens_per_minute {
            Some(limit) => (used + u64::from(tokens)).saturating_sub(u64::from(limit)),
            None => 0,
        };
        if excess_requests > 0 || excess_tokens > 0 {
            return Err(Throttle::Wait {
                ms: self.wait_for(excess_requests, excess_tokens, now_ms),
            });
        }
        let i = self.index(self.head);
        self.slots[i].requests += 1;
        self.slots[i].tokens = self.slots[i].tokens.saturating_add(tokens);
        Ok(Grant {
            slot: self.head,
            tokens,
        })
    }

    /// Replaces a grant's estimate with the `actual` tokens used (if it is
    /// still inside the window), so later checks see the real usage.
    pub fn settle(&mut self, grant: Grant, actual: u32, now_ms: u64) {
        self.advance(now_ms);
        if grant.slot + SLOTS as u64 > self.head {
            let i = self.index(grant.slot);
            let slot = &mut self.slots[i];
            slot.tokens = slot
                .tokens
                .saturating_sub(grant.tokens)
                .saturating_add(actual);
        }
    }

    fn index(&self, slot: u64) -> usize {
        (slot % SLOTS as u64) as usize
    }

    fn totals(&self) -> (u64, u64) {
        self.slots.iter().fold((0, 0), |(r, t), s| {
            (r + u64::from(s.requests), t + u64::from(s.tokens))
        })
    }

    /// The wait until the oldest slots, freeing at least the excess, have
    /// left the window.
    fn wait_for(&self, excess_requests: u64, excess_tokens: u64, now_ms: u64) -> u64 {
        let oldest = self.head.saturating_sub(SLOTS as u64 - 1);
        let (mut requests, mut tokens) = (0u64, 0u64);
        for slot in oldest..=self.head {
            let usage = self.slots[self.index(slot)];
            requests += u64::from(usage.requests);
            tokens += u64::from(usage.tokens);
            if requests >= excess_requests && tokens >= excess_tokens {
                return (slot + SLOTS as u64)
                    .saturating_mul(SLOT_MS)
                    .saturating_sub(now_ms);
            }
        }
        // Unreachable with an estimate within the limit: the whole window
        // frees everything. A full window as a safe answer.
        (self.head + SLOTS as u64)
            .saturating_mul(SLOT_MS)
            .saturating_sub(now_ms)
    }

    /// Moves the window to `now_ms`, clearing slots that left it.
    fn advance(&mut self, now_ms: u64) {
        let now = now_ms / SLOT_MS;
        if now > self.head {
            let first = self.head.max(now.saturating_sub(SLOTS as u64)) + 1;
            for slot in first..=now {
                let i = self.index(slot);
                self.slots[i] = Usage::default();
            }
            self.head = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn settings_are_checked() {
        Timeouts::default().validate().unwrap();
        BulkheadConfig::default().validate().unwrap();
        RateLimits::default().validate().unwrap();
        let t = Timeouts {
            first_byte_ms: 10_000,
            idle_ms: 10_000,
            total_ms: 8_000,
        };
        assert_eq!(
            t.validate().unwrap_err().to_string(),
            "timeouts.first_byte_ms: 10000 is outside 1000..=8000"
        );
        assert_eq!(
            Bulkhead::new(BulkheadConfig {
                max_concurrent: 0,
                max_queue: 0
            })
            .unwrap_err()
            .setting,
            "bulkhead.max_concurrent"
        );
        let limits = RateLimits {
            requests_per_minute: Some(0),
            tokens_per_minute: None,
        };
        assert_eq!(
            RateLimiter::new(limits).unwrap_err().setting,
            "limits.requests_per_minute"
        );
    }

    #[test]
    fn timeouts_on_a_simulated_clock() {
        let t = Timeouts {
            first_byte_ms: 1_000,
            idle_ms: 500,
            total_ms: 5_000,
        };
        let mut w = TimeoutWatch::start(t, 100);
        assert_eq!(w.check(100), Watch::WakeAt(1_100));
        assert_eq!(w.check(1_100), Watch::Fired(TimeoutKind::FirstByte));
        assert_eq!(
            w.check(1_100).event(),
            Some(ResilienceEvent::TimedOut {
                kind: TimeoutKind::FirstByte
            })
        );
        w.on_chunk(900);
        assert_eq!(w.first_byte_at_ms(), Some(900));
        assert_eq!(w.check(1_100), Watch::WakeAt(1_400));
        w.on_chunk(1_300);
        assert_eq!(w.first_byte_at_ms(), Some(900));
        assert_eq!(w.check(1_799), Watch::WakeAt(1_800));
        assert_eq!(w.check(1_800), Watch::Fired(TimeoutKind::Idle));
        w.on_chunk(4_900);
        assert_eq!(w.check(4_950), Watch::WakeAt(5_100));
        assert_eq!(w.check(5_100), Watch::Fired(TimeoutKind::Total));
        let capped = TimeoutWatch::start(t, 100).until(600);
        assert_eq!(capped.check(600), Watch::Fired(TimeoutKind::Total));
    }

    #[test]
    fn bulkhead_is_fifo_and_cancellable() {
        let mut b = Bulkhead::new(BulkheadConfig {
            max_concurrent: 1,
            max_queue: 3,
        })
        .unwrap();
        let Admission::Run(a) = b.try_acquire() else {
            panic!()
        };
        let queued: Vec<Ticket> = (1..=3)
            .map(|n| match b.try_acquire() {
                Admission::Queued { ticket, position } if position == n => ticket,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            b.try_acquire().event(),
            Some(ResilienceEvent::BulkheadRejected)
        );
        assert!(b.cancel(queued[0]));
        assert!(!b.cancel(queued[0]));
        assert_eq!(b.position(queued[2]), Some(2));
        assert_eq!(b.release(a), Some(queued[1]));
        assert_eq!(b.release(a), None, "released twice");
        assert_eq!(b.release(queued[2]), None, "a queued ticket is cancelled");
        assert_eq!((b.running(), b.queued()), (1, 0));
        assert_eq!(b.release(queued[1]), None);
        assert!(matches!(b.try_acquire(), Admission::Run(_)));
    }

    #[test]
    fn rate_limiter_counts_tokens_and_settles_estimates() {
        let limits = RateLimits {
            requests_per_minute: None,
            tokens_per_minute: Some(1_000),
        };
        let mut l = RateLimiter::new(limits).unwrap();
        assert_eq!(
            l.check(1_001, 0),
            Err(Throttle::TooLarge {
                tokens: 1_001,
                limit: 1_000
            })
        );
        let grant = l.check(800, 0).unwrap();
        let err = l.check(300, 10_000).unwrap_err();
        assert_eq!(err, Throttle::Wait { ms: 51_000 });
        assert_eq!(
            err.event(),
            ResilienceEvent::RateLimited { wait_ms: 51_000 }
        );
        l.settle(grant, 500, 10_000);
        l.check(300, 10_000).unwrap();
        let second = l.check(200, 20_000).unwrap();
        assert_eq!(l.check(1, 20_000), Err(Throttle::Wait { ms: 41_000 }));
        l.check(1_000, 80_000).unwrap_err();
        l.settle(second, 0, 80_000);
        l.check(1_000, 80_000).unwrap();
    }

    #[derive(Debug, Clone)]
    enum BulkOp {
        Acquire,
        Release(usize),
        Cancel(usize),
    }

    proptest! {
        /// A timeout never fires before its deadline, and fires at it.
        #[test]
        fn timeouts_fire_exactly_when_due(
            first in 1u64..5_000, idle in 1u64..5_000, total in 1u64..20_000,
            chunks in proptest::collection::vec(0u64..3_000, 0..20), probe in 0u64..3_000,
        ) {
            let t = Timeouts { first_byte_ms: first, idle_ms: idle, total_ms: total };
            let mut w = TimeoutWatch::start(t, 0);
            let mut now = 0;
            let mut last = None;
            for gap in chunks.into_iter().map(Some).chain([None]) {
                let at = now + gap.unwrap_or(probe);
                let phase_due = last.map_or(first, |l| l + idle);
                let due = phase_due.min(total);
                match w.check(at) {
                    Watch::WakeAt(wake) => { prop_assert_eq!(wake, due); prop_assert!(at < due); }
                    Watch::Fired(kind) => {
                        prop_assert!(at >= due);
                        let expected = if total <= phase_due { TimeoutKind::Total } else if last.is_some() { TimeoutKind::Idle } else { TimeoutKind::FirstByte };
                        prop_assert_eq!(kind, expected);
                        break;
                    }
                }
                if gap.is_some() {
                    w.on_chunk(at);
                    last = Some(at);
                    now = at;
                }
            }
        }

        /// The bulkhead never runs more than `max_concurrent` nor queues
        /// more than `max_queue`, admits in FIFO order, and never leaks a slot.
        #[test]
        fn bulkhead_bounds(
            max_concurrent in 1u32..=4, max_queue in 0u32..=4,
            ops in proptest::collection::vec(prop_oneof![
                3 => Just(BulkOp::Acquire),
                2 => any::<usize>().prop_map(BulkOp::Release),
                1 => any::<usize>().prop_map(BulkOp::Cancel),
            ], 1..200),
        ) {
            let mut b = Bulkhead::new(BulkheadConfig { max_concurrent, max_queue }).unwrap();
            let (mut running, mut queue): (Vec<Ticket>, VecDeque<Ticket>) = (vec![], VecDeque::new());
            for op in ops {
                match op {
                    BulkOp::Acquire => match b.try_acquire() {
                        Admission::Run(t) => { prop_assert!(queue.is_empty()); running.push(t) }
                        Admission::Queued { ticket, position } => {
                            prop_assert_eq!(running.len(), max_concurrent as usize);
                            queue.push_back(ticket);
                            prop_assert_eq!(position as usize, queue.len());
                        }
                        Admission::Rejected => prop_assert_eq!(queue.len(), max_queue as usize),
                    },
                    BulkOp::Release(i) if !running.is_empty() => {
                        let t = running.swap_remove(i % running.len());
                        let next = b.release(t);
                        prop_assert_eq!(next, queue.pop_front());
                        running.extend(next);
                    }
                    BulkOp::Cancel(i) if !queue.is_empty() => {
                        let t = queue.remove(i % queue.len()).unwrap();
                        prop_assert!(b.cancel(t));
                    }
                    _ => {}
                }
                prop_assert!(b.running() <= max_concurrent as usize && b.queued() <= max_queue as usize);
                prop_assert_eq!((b.running(), b.queued()), (running.len(), queue.len()));
            }
        }

        /// No sliding minute ever holds more than the limits, and a wait the
        /// limiter names is enough when nothing else is admitted meanwhile.
        #[test]
        fn rate_limiter_never_exceeds_a_sliding_minute(
            rpm in 1u32..20,
            tpm in 100u32..5_000,
            requests in proptest::collection::vec((0u64..8_000, 0u32..=2_000), 1..150),
        ) {
            let mut l = RateLimiter::new(RateLimits { requests_per_minute: Some(rpm), tokens_per_minute: Some(tpm) }).unwrap();
            let mut admitted: Vec<(u64, u32)> = vec![];
            let mut now = 0u64;
            for (gap, tokens) in requests {
                now += gap;
                match l.check(tokens, now) {
                    Ok(_) => {
                        admitted.push((now, tokens));
                        let window = admitted.iter().filter(|(t, _)| *t + 60_000 > now);
                        let (count, sum) = window.fold((0u32, 0u64), |(c, s), (_, k)| (c + 1, s + u64::from(*k)));
                        prop_assert!(count <= rpm && sum <= u64::from(tpm), "{} requests, {} tokens", count, sum);
                    }
                    Err(Throttle::TooLarge { .. }) => prop_assert!(tokens > tpm),
                    Err(Throttle::Wait { ms }) => {
                        prop_assert!(ms > 0);
                        let mut later = l.clone();
                        prop_assert!(later.check(tokens, now + ms).is_ok(), "waiting {} ms is enough", ms);
                    }
                }
            }
        }
    }
}
