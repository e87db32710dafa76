//! Batching: the bounded [`Buffer`] collects items until a batch is due —
//! [`BufferConfig::batch_size`] items waiting, or the oldest waiting for
//! [`BufferConfig::flush_interval_ms`] — and never holds more than
//! [`BufferConfig::capacity`]: when full, the oldest item is dropped and
//! counted ([`DropReason::BufferFull`]).
//!
//! ```
//! use paperclip_core::telemetry::buffer::{Buffer, BufferConfig};
//! use paperclip_core::telemetry::DropReason;
//!
//! let config = BufferConfig { capacity: 3, batch_size: 2, flush_interval_ms: 5_000.0 };
//! let mut buffer = Buffer::new(config)?;
//! buffer.push("a", 0.0);
//! assert!(!buffer.due(1.0));
//! assert_eq!(buffer.next_flush(1.0), Some(5_000.0)); // when the shell should wake
//! buffer.push("b", 2.0);
//! assert!(buffer.due(2.0)); // a full batch
//! assert_eq!(buffer.take_batch(10, 2.0), ["a", "b"]);
//! for x in ["c", "d", "e", "f"] { buffer.push(x, 3.0); }
//! assert_eq!(buffer.len(), 3); // "c" was dropped, and counted
//! assert_eq!(buffer.take_dropped().get(DropReason::BufferFull), 1);
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```

use std::collections::VecDeque;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::{DropReason, DropTally};
use crate::resilience::{check_range, InvalidSetting};

/// A buffer's settings.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct BufferConfig {
    /// The most items held.
    pub capacity: u32,
    /// A batch is due once this many items wait.
    pub batch_size: u32,
    /// A batch is due once the oldest waiting item waited this long.
    pub flush_interval_ms: f64,
}

impl BufferConfig {
    /// Accepted `capacity`.
    pub const CAPACITY: RangeInclusive<u32> = 1..=100_000;
    /// Accepted `flush_interval_ms` (100 ms to an hour).
    pub const FLUSH_INTERVAL_MS: RangeInclusive<f64> = 100.0..=3_600_000.0;

    /// Checks every setting (`batch_size` in `1..=capacity`).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let (c, f) = (Self::CAPACITY, Self::FLUSH_INTERVAL_MS);
        check_range("buffer.capacity", self.capacity, *c.start(), *c.end())?;
        check_range("buffer.batch_size", self.batch_size, 1, self.capacity)?;
        check_range(
            "buffer.flush_interval_ms",
            self.flush_interval_ms,
            *f.start(),
            *f.end(),
        )
    }
}

impl Default for BufferConfig {
    /// 1,000 items, batches of 100, at least every 30 s.
    fn default() -> Self {
        Self {
            capacity: 1_000,
            batch_size: 100,
            flush_interval_ms: 30_000.0,
        }
    }
}

/// A bounded FIFO with batching (see the module docs).
#[derive(Debug, Clone)]
pub struct Buffer<T> {
    items: VecDeque<T>,
    config: BufferConfig,
    /// When the current wait started: the oldest item's arrival, or the
    /// last batch taken while items remained.
    waiting_since_ms: Option<f64>,
    dropped: DropTally,
}

impl<T> Buffer<T> {
    /// An empty buffer with validated settings.
    pub fn new(config: BufferConfig) -> Result<Self, InvalidSetting> {
        config.validate()?;
        Ok(Self {
            items: VecDeque::new(),
            config,
            waiting_since_ms: None,
            dropped: DropTally::default(),
        })
    }

    /// Its settings.
    pub fn config(&self) -> &BufferConfig {
        &self.config
    }

    /// Adds an item; when full, the oldest is dropped (counted) and
    /// returned.
    pub fn push(&mut self, item: T, now_ms: f64) -> Option<T> {
        let evicted = if self.items.len() >= self.config.capacity as usize {
            self.dropped.add(DropReason::BufferFull, 1);
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(item);
        self.waiting_since_ms.get_or_insert(now_ms);
        evicted
    }

    /// Whether a batch is due: a full batch waits, or the oldest item has
    /// waited the flush interval.
    pub fn due(&self, now_ms: f64) -> bool {
        self.items.len() >= self.config.batch_size as usize
            || self
                .waiting_since_ms
                .is_some_and(|since| now_ms >= since + self.config.flush_interval_ms)
    }

    /// When the next batch is due: `now_ms` if one is due, the end of the
    /// flush interval otherwise, `None` when empty.
    pub fn next_flush(&self, now_ms: f64) -> Option<f64> {
        if self.items.is_empty() {
            None
        } else if self.due(now_ms) {
            Some(now_ms)
        } else {
            self.waiting_since_ms
                .map(|since| since + self.config.flush_interval_ms)
        }
    }

    /// Takes up to `max` of the oldest items (whether due or not: the
    /// caller decides; a flush on shutdown takes everything).
    pub fn take_batch(&mut self, max: usize, now_ms: f64) -> Vec<T> {
        let n = max.min(self.items.len());
        let batch: Vec<T> = self.items.drain(..n).collect();
        self.waiting_since_ms = if self.items.is_empty() {
            None
        } else if n > 0 {
            Some(now_ms)
        } else {
            self.waiting_since_ms
        };
        batch
    }

    /// Takes a batch of at most `batch_size` items if one is due.
    pub fn take_due(&mut self, now_ms: f64) -> Option<Vec<T>> {
        self.due(now_ms)
            .then(|| self.take_batch(self.config.batch_size as usize, now_ms))
    }

    /// How many items wait.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The waiting items, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// Drops not yet taken.
    pub fn take_dropped(&mut self) -> DropTally {
        self.dropped.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(capacity: u32, batch_size: u32) -> BufferConfig {
        BufferConfig {
            capacity,
            batch_size,
            flush_interval_ms: 1_000.0,
        }
    }

    #[test]
    fn flushes_on_interval_and_restarts_the_wait() {
        let mut b = Buffer::new(config(10, 5)).unwrap();
        assert_eq!(b.next_flush(0.0), None);
        assert!(!b.due(1e9));
        b.push(1, 100.0);
        b.push(2, 600.0);
        assert_eq!(b.next_flush(200.0), Some(1_100.0));
        assert!(!b.due(1_099.0));
        assert_eq!(b.take_due(1_100.0), Some(vec![1, 2]));
        assert_eq!(b.next_flush(1_100.0), None);
        for i in 0..7 {
            b.push(i, 2_000.0);
        }
        assert_eq!(b.take_due(2_000.0).unwrap().len(), 5);
        // Two left: they wait a fresh interval from the last batch.
        assert_eq!(b.next_flush(2_000.0), Some(3_000.0));
        assert_eq!(b.take_batch(0, 2_500.0), Vec::<i32>::new());
        assert_eq!(b.next_flush(2_500.0), Some(3_000.0));
        assert_eq!(b.take_due(2_999.0), None);
        assert_eq!(b.iter().count(), 2);
    }

    #[test]
    fn settings_are_validated() {
        assert!(Buffer::<()>::new(config(0, 1)).is_err());
        assert!(Buffer::<()>::new(config(5, 6)).is_err());
        assert!(Buffer::<()>::new(config(5, 0)).is_err());
        let fast = BufferConfig {
            flush_interval_ms: 10.0,
            ..BufferConfig::default()
        };
        assert!(Buffer::<()>::new(fast).is_err());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u32),
        Take(usize),
        Advance(f64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u32..1000).prop_map(Op::Push),
            2 => (0usize..20).prop_map(Op::Take),
            1 => (0.0f64..2_000.0).prop_map(Op::Advance),
        ]
    }

    proptest! {
        /// The buffer never holds more than its capacity; every item pushed
        /// is either still held, taken, or counted as dropped; order is kept.
        #[test]
        fn never_grows_past_its_bound(capacity in 1u32..40, batch in 1u32..40, ops in proptest::collection::vec(op(), 0..300)) {
            let batch = batch.min(capacity);
            let mut b = Buffer::new(config(capacity, batch)).unwrap();
            let (mut now, mut pushed, mut taken, mut dropped) = (0.0, 0u64, Vec::new(), 0u64);
            let mut evicted = Vec::new();
            for op in ops {
                match op {
                    Op::Push(x) => {
                        pushed += 1;
                        if let Some(old) = b.push(x, now) { evicted.push(old); }
                    }
                    Op::Take(n) => taken.extend(b.take_batch(n, now)),
                    Op::Advance(dt) => {
                        now += dt;
                        if let Some(batch) = b.take_due(now) {
                            prop_assert!(batch.len() <= b.config().batch_size as usize);
                            taken.extend(batch);
                        }
                    }
                }
                prop_assert!(b.len() <= capacity as usize);
                if let Some(at) = b.next_flush(now) { prop_assert!(at >= now); }
                dropped += b.take_dropped().get(DropReason::BufferFull);
            }
            prop_assert_eq!(dropped, evicted.len() as u64);
            prop_assert_eq!(pushed, b.len() as u64 + taken.len() as u64 + dropped);
        }
    }
}
