//! The offline [`ExportQueue`]: encoded batches with stable ids
//! ([`BatchId`]) waiting to be sent, bounded in count, bytes and age (the
//! items of evicted, expired or rejected batches are counted as dropped),
//! sent one at a time and retried after the server's `Retry-After` or a
//! full-jitter exponential backoff, and rebuilt after a worker restart.

use std::collections::VecDeque;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::{Endpoint, ExportOutcome};
use crate::resilience::retry::full_jitter;
use crate::resilience::{check_ms, check_range, InvalidSetting};
use crate::telemetry::{DropReason, DropTally, Signal};

/// A batch's stable id: the hash of its endpoint and body, so the same
/// batch queued twice (e.g. re-queued after a worker restart) is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId(pub u64);

impl BatchId {
    /// The id of a body for an endpoint.
    pub fn of(endpoint: Endpoint, body: &str) -> Self {
        let mut key = Vec::with_capacity(body.len() + 12);
        key.extend_from_slice(endpoint.path().as_bytes());
        key.push(0);
        key.extend_from_slice(body.as_bytes());
        Self(xxh3_64(&key))
    }
}

hex_u64!(BatchId, "a batch id");

/// A batch waiting to be sent (the shell persists it in IndexedDB).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct QueuedBatch {
    /// Its stable id.
    pub id: BatchId,
    /// Where it goes.
    pub endpoint: Endpoint,
    /// The OTLP/JSON request body.
    pub body: String,
    /// How many items of each signal it carries (to count them if it is
    /// dropped).
    pub items: Vec<(Signal, u32)>,
    /// When it was queued, ms.
    pub created_ms: f64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not sent before this, ms.
    pub next_attempt_ms: f64,
    /// Whether `next_attempt_ms` is the server's `Retry-After` (kept on
    /// reconnect) rather than a backoff (cut short on reconnect).
    pub server_wait: bool,
}

/// The queue's settings.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct QueueConfig {
    /// The most batches held.
    pub max_batches: u32,
    /// The most body bytes held.
    pub max_bytes: u64,
    /// Batches older than this are dropped (counted), ms.
    pub max_age_ms: u64,
    /// The first backoff step, ms.
    pub backoff_base_ms: u64,
    /// The longest backoff, ms.
    pub backoff_max_ms: u64,
}

impl QueueConfig {
    /// Accepted `max_batches`.
    pub const MAX_BATCHES: RangeInclusive<u32> = 1..=10_000;
    /// Accepted `max_bytes` (64 KiB to 64 MiB).
    pub const MAX_BYTES: RangeInclusive<u64> = 65_536..=67_108_864;
    /// Accepted `max_age_ms` (a minute to a week).
    pub const MAX_AGE_MS: RangeInclusive<u64> = 60_000..=604_800_000;
    /// Accepted `backoff_base_ms`.
    pub const BACKOFF_BASE_MS: RangeInclusive<u64> = 100..=60_000;
    /// Accepted `backoff_max_ms` (and at least `backoff_base_ms`).
    pub const BACKOFF_MAX_MS: RangeInclusive<u64> = 100..=3_600_000;

    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let b = Self::MAX_BATCHES;
        check_range("export.max_batches", self.max_batches, *b.start(), *b.end())?;
        let m = Self::MAX_BYTES;
        check_ms("export.max_bytes", self.max_bytes, *m.start(), *m.end())?;
        let a = Self::MAX_AGE_MS;
        check_ms("export.max_age_ms", self.max_age_ms, *a.start(), *a.end())?;
        let base = Self::BACKOFF_BASE_MS;
        check_ms(
            "export.backoff_base_ms",
            self.backoff_base_ms,
            *base.start(),
            *base.end(),
        )?;
        let cap = Self::BACKOFF_MAX_MS;
        check_ms(
            "export.backoff_max_ms",
            self.backoff_max_ms,
            self.backoff_base_ms.max(*cap.start()),
            *cap.end(),
        )
    }
}

impl Default for QueueConfig {
    /// 200 batches or 8 MiB, kept a day, backoff 1 s doubling to 5 min.
    fn default() -> Self {
        Self {
            max_batches: 200,
            max_bytes: 8 * 1024 * 1024,
            max_age_ms: 24 * 60 * 60 * 1000,
            backoff_base_ms: 1_000,
            backoff_max_ms: 300_000,
        }
    }
}

/// What [`ExportQueue::enqueue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// The batch's id.
    pub id: BatchId,
    /// It was already queued (nothing was added).
    pub duplicate: bool,
    /// Batches dropped to make room (delete them from storage).
    pub evicted: Vec<BatchId>,
}

/// What [`ExportQueue::poll`] says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Poll {
    /// The batch to send now (now in flight): POST its body, then call
    /// [`ExportQueue::ack`] or [`ExportQueue::nack`].
    pub send: Option<BatchId>,
    /// Batches that expired (delete them from storage).
    pub expired: Vec<BatchId>,
    /// When to poll again if nothing is sent now.
    pub wake_at_ms: Option<f64>,
}

/// What [`ExportQueue::nack`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nacked {
    /// The batch waits until then.
    Scheduled {
        /// ms.
        at_ms: f64,
    },
    /// The batch was removed (sent, or dropped and counted).
    Removed,
    /// No such batch.
    Unknown,
}

/// The offline queue: a bounded FIFO of batches with retries and backoff
/// (one batch in flight at a time). The shell persists each batch when
/// queued and deletes it when removed (acknowledged, dropped, evicted or
/// expired), and rebuilds the queue with [`ExportQueue::restore`] after a
/// worker restart.
#[derive(Debug, Clone)]
pub struct ExportQueue {
    config: QueueConfig,
    batches: VecDeque<QueuedBatch>,
    bytes: u64,
    in_flight: Option<BatchId>,
    dropped: [DropTally; 4],
}

impl ExportQueue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Result<Self, InvalidSetting> {
        config.validate()?;
        Ok(Self {
            config,
            batches: VecDeque::new(),
            bytes: 0,
            in_flight: None,
            dropped: Default::default(),
        })
    }

    /// A queue rebuilt from persisted batches (after a worker restart):
    /// duplicates are merged, the bounds applied (evictions counted), and
    /// nothing is in flight, so a batch whose answer was lost is sent
    /// again. Returns the queue and the ids to delete from storage.
    pub fn restore(
        config: QueueConfig,
        mut saved: Vec<QueuedBatch>,
    ) -> Result<(Self, Vec<BatchId>), InvalidSetting> {
        let mut queue = Self::new(config)?;
        saved.sort_by(|a, b| a.created_ms.total_cmp(&b.created_ms));
        let mut removed = Vec::new();
        for batch in saved {
            if queue.batches.iter().any(|b| b.id == batch.id) {
                continue;
            }
            queue.bytes += batch.body.len() as u64;
            queue.batches.push_back(batch);
            removed.extend(queue.enforce_bounds());
        }
        Ok((queue, removed))
    }

    /// Queues a batch carrying `items` (per signal).
    pub fn enqueue(
        &mut self,
        endpoint: Endpoint,
        body: String,
        items: &[(Signal, u32)],
        now_ms: f64,
    ) -> Enqueued {
        let id = BatchId::of(endpoint, &body);
        if self.batches.iter().any(|b| b.id == id) {
            return Enqueued {
                id,
                duplicate: true,
                evicted: Vec::new(),
            };
        }
        self.bytes += body.len() as u64;
        self.batches.push_back(QueuedBatch {
            id,
            endpoint,
            body,
            items: items.to_vec(),
            created_ms: now_ms,
            attempts: 0,
            next_attempt_ms: now_ms,
            server_wait: false,
        });
        let evicted = self.enforce_bounds();
        Enqueued {
            id,
            duplicate: false,
            evicted,
        }
    }

    /// Drops the oldest batches (not the one in flight) while over a bound.
    fn enforce_bounds(&mut self) -> Vec<BatchId> {
        let mut evicted = Vec::new();
        while self.batches.len() > self.config.max_batches as usize
            || self.bytes > self.config.max_bytes
        {
            let victim = self
                .batches
                .iter()
                .position(|b| Some(b.id) != self.in_flight);
            let Some(at) = victim else { break };
            let batch = self.remove_at(at);
            self.count(&batch, DropReason::QueueFull);
            evicted.push(batch.id);
        }
        evicted
    }

    fn remove_at(&mut self, at: usize) -> QueuedBatch {
        let batch = self.batches.remove(at).expect("index in range");
        self.bytes -= batch.body.len() as u64;
        if self.in_flight == Some(batch.id) {
            self.in_flight = None;
        }
        batch
    }

    fn count(&mut self, batch: &QueuedBatch, reason: DropReason) {
        for (signal, n) in &batch.items {
            self.dropped[signal.index()].add(reason, u64::from(*n));
        }
    }

    /// Expires old batches and picks the batch to send now: the one due
    /// earliest (the oldest among equals), unless one is in flight.
    pub fn poll(&mut self, now_ms: f64) -> Poll {
        let mut expired = Vec::new();
        let max_age = self.config.max_age_ms as f64;
        while let Some(at) = self
            .batches
            .iter()
            .position(|b| now_ms - b.created_ms > max_age && Some(b.id) != self.in_flight)
        {
            let batch = self.remove_at(at);
            self.count(&batch, DropReason::Expired);
            expired.push(batch.id);
        }
        if self.in_flight.is_some() {
            return Poll {
                send: None,
                expired,
                wake_at_ms: None,
            };
        }
        let next = self
            .batches
            .iter()
            .min_by(|a, b| a.next_attempt_ms.total_cmp(&b.next_attempt_ms));
        match next {
            Some(b) if b.next_attempt_ms <= now_ms => {
                self.in_flight = Some(b.id);
                Poll {
                    send: Some(b.id),
                    expired,
                    wake_at_ms: None,
                }
            }
            other => Poll {
                send: None,
                expired,
                wake_at_ms: other.map(|b| b.next_attempt_ms),
            },
        }
    }

    /// When the next batch may be sent: `None` when the queue is empty or
    /// a batch is in flight (its answer comes first).
    pub fn next_attempt_ms(&self) -> Option<f64> {
        if self.in_flight.is_some() {
            return None;
        }
        self.batches
            .iter()
            .map(|b| b.next_attempt_ms)
            .min_by(f64::total_cmp)
    }

    /// A queued batch.
    pub fn get(&self, id: BatchId) -> Option<&QueuedBatch> {
        self.batches.iter().find(|b| b.id == id)
    }

    /// The batch was accepted: removes it. `false` if unknown.
    pub fn ack(&mut self, id: BatchId) -> bool {
        match self.batches.iter().position(|b| b.id == id) {
            Some(at) => {
                self.remove_at(at);
                true
            }
            None => false,
        }
    }

    /// The batch was not accepted: schedules a retry (after the server's
    /// wait, or a full-jitter backoff with random `r` in `[0, 1)`), or
    /// removes it (dropped and counted) when the outcome says so.
    pub fn nack(&mut self, id: BatchId, outcome: ExportOutcome, now_ms: f64, r: f64) -> Nacked {
        let Some(at) = self.batches.iter().position(|b| b.id == id) else {
            return Nacked::Unknown;
        };
        if self.in_flight == Some(id) {
            self.in_flight = None;
        }
        match outcome {
            ExportOutcome::Done => {
                self.remove_at(at);
                Nacked::Removed
            }
            ExportOutcome::Drop { .. } => {
                let batch = self.remove_at(at);
                self.count(&batch, DropReason::Rejected);
                Nacked::Removed
            }
            ExportOutcome::Retry { after_ms } => {
                let (base, cap) = (self.config.backoff_base_ms, self.config.backoff_max_ms);
                let batch = &mut self.batches[at];
                let wait = after_ms.unwrap_or_else(|| full_jitter(base, cap, batch.attempts, r));
                batch.attempts = batch.attempts.saturating_add(1);
                batch.next_attempt_ms = now_ms + wait as f64;
                batch.server_wait = after_ms.is_some();
                Nacked::Scheduled {
                    at_ms: batch.next_attempt_ms,
                }
            }
        }
    }

    /// Back online: batches waiting on a backoff are due now (those
    /// waiting on a server's `Retry-After` keep waiting).
    pub fn online(&mut self, now_ms: f64) {
        for b in &mut self.batches {
            if !b.server_wait {
                b.next_attempt_ms = b.next_attempt_ms.min(now_ms);
            }
        }
    }

    /// Counts items a collector rejected in a partial success.
    pub fn count_rejected(&mut self, signal: Signal, n: u64) {
        self.dropped[signal.index()].add(DropReason::Rejected, n);
    }

    /// The queued batches, oldest first (for persistence).
    pub fn batches(&self) -> impl Iterator<Item = &QueuedBatch> {
        self.batches.iter()
    }

    /// How many batches.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// Whether none.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Body bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Drops not yet taken, per signal.
    pub fn take_dropped(&mut self) -> Vec<(Signal, DropTally)> {
        Signal::ALL
            .into_iter()
            .map(|s| (s, self.dropped[s.index()].take()))
            .filter(|(_, t)| !t.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{classify, network_error};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn queue_retries_drops_and_deduplicates() {
        let mut q = ExportQueue::new(QueueConfig::default()).unwrap();
        let a = q.enqueue(
            Endpoint::Logs,
            "a".into(),
            &[(Signal::Events, 2), (Signal::Errors, 1)],
            0.0,
        );
        assert!(!a.duplicate);
        assert!(q.enqueue(Endpoint::Logs, "a".into(), &[], 1.0).duplicate);
        let b = q.enqueue(Endpoint::Logs, "b".into(), &[(Signal::Events, 5)], 2.0);
        assert_eq!(q.len(), 2);
        // One in flight at a time, oldest first.
        assert_eq!(q.poll(10.0).send, Some(a.id));
        assert_eq!(q.poll(10.0).send, None);
        // Network error: backoff (r = 0.5 of 1 s), then sent again.
        assert_eq!(
            q.nack(a.id, network_error(), 10.0, 0.5),
            Nacked::Scheduled { at_ms: 510.0 }
        );
        assert_eq!(q.poll(20.0).send, Some(b.id));
        // 413: dropped for good, and counted.
        assert_eq!(
            q.nack(b.id, classify(413, None, 30.0), 30.0, 0.5),
            Nacked::Removed
        );
        let p = q.poll(100.0);
        assert_eq!((p.send, p.wake_at_ms), (None, Some(510.0)));
        // Back online: the backoff is cut short.
        q.online(200.0);
        assert_eq!(q.poll(200.0).send, Some(a.id));
        // 429 with Retry-After survives a reconnect.
        q.nack(
            a.id,
            ExportOutcome::Retry {
                after_ms: Some(60_000),
            },
            300.0,
            0.0,
        );
        q.online(400.0);
        assert_eq!(q.poll(400.0).send, None);
        assert_eq!(q.get(a.id).unwrap().attempts, 2);
        assert_eq!(q.poll(60_300.0).send, Some(a.id));
        assert!(q.ack(a.id));
        assert!(!q.ack(a.id));
        assert_eq!(q.nack(a.id, network_error(), 0.0, 0.0), Nacked::Unknown);
        let dropped = q.take_dropped();
        assert_eq!(
            dropped,
            [(Signal::Events, {
                let mut t = DropTally::default();
                t.add(DropReason::Rejected, 5);
                t
            })]
        );
    }

    #[test]
    fn queue_expires_and_restores() {
        let config = QueueConfig {
            max_age_ms: 60_000,
            ..QueueConfig::default()
        };
        let mut q = ExportQueue::new(config).unwrap();
        let a = q.enqueue(Endpoint::Metrics, "a".into(), &[(Signal::Metrics, 4)], 0.0);
        let b = q.enqueue(
            Endpoint::Traces,
            "b".into(),
            &[(Signal::Spans, 1)],
            50_000.0,
        );
        assert_eq!(q.poll(50_000.0).send, Some(a.id));
        // The worker dies with `a` in flight; storage still has both.
        let saved: Vec<QueuedBatch> = q.batches().cloned().chain(q.batches().cloned()).collect();
        let json = serde_json::to_string(&saved).unwrap();
        let saved: Vec<QueuedBatch> = serde_json::from_str(&json).unwrap();
        let (mut q, removed) = ExportQueue::restore(config, saved).unwrap();
        assert!(removed.is_empty());
        assert_eq!(q.len(), 2); // duplicates merged
        let p = q.poll(70_000.0);
        assert_eq!(p.expired, [a.id]);
        assert_eq!(p.send, Some(b.id));
        assert_eq!(q.take_dropped()[0].1.get(DropReason::Expired), 4);
        assert!(ExportQueue::new(QueueConfig {
            backoff_max_ms: 10,
            ..config
        })
        .is_err());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Enqueue(u16, usize),
        Poll,
        Ack,
        Nack(u16),
        Advance(f64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u16>(), 1usize..40_000).prop_map(|(k, n)| Op::Enqueue(k, n)),
            3 => Just(Op::Poll),
            1 => Just(Op::Ack),
            2 => prop::sample::select(vec![0u16, 400, 413, 429, 500, 503]).prop_map(Op::Nack),
            1 => (0.0f64..600_000.0).prop_map(Op::Advance),
        ]
    }

    proptest! {
        /// The queue never exceeds its bounds; every item queued is still
        /// queued, acknowledged, or counted as dropped.
        #[test]
        fn queue_is_bounded_and_loses_nothing_silently(ops in proptest::collection::vec(op(), 0..200), max in 1u32..8) {
            let config = QueueConfig { max_batches: max, max_bytes: 65_536, max_age_ms: 3_600_000, ..QueueConfig::default() };
            let mut q = ExportQueue::new(config).unwrap();
            let (mut now, mut queued, mut acked, mut in_flight) = (0.0, 0u64, 0u64, None);
            for op in ops {
                match op {
                    Op::Enqueue(k, n) => {
                        let body = format!("{k}{}", "x".repeat(n));
                        if !q.enqueue(Endpoint::Logs, body, &[(Signal::Events, 1)], now).duplicate {
                            queued += 1;
                        }
                    }
                    Op::Poll => {
                        if let Some(id) = q.poll(now).send { in_flight = Some(id); }
                    }
                    Op::Ack => {
                        if let Some(id) = in_flight.take() {
                            if q.ack(id) { acked += 1; }
                        }
                    }
                    Op::Nack(status) => {
                        if let Some(id) = in_flight.take() {
                            let outcome = if status == 0 { network_error() } else { classify(status, None, now) };
                            q.nack(id, outcome, now, 0.3);
                        }
                    }
                    Op::Advance(dt) => now += dt,
                }
                prop_assert!(q.len() <= max as usize);
                prop_assert!(q.bytes() <= 65_536 || q.len() == 1);
            }
            let dropped: u64 = q.take_dropped().iter().map(|(_, t)| t.total()).sum();
            prop_assert_eq!(queued, q.len() as u64 + acked + dropped);
        }
    }
}
