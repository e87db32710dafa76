//! Product events: an [`Event`] has a name, a time and scrubbed, bounded
//! properties; the [`EventLog`] keeps the most recent ones for the
//! devtools panel (bounded, oldest evicted and counted).
//!
//! ```
//! use paperclip_core::telemetry::events::{Event, EventLimits, EventLog};
//! use paperclip_core::telemetry::privacy::Scrubber;
//! use paperclip_core::telemetry::{AttrValue, DropTally};
//!
//! let mut dropped = DropTally::default();
//! let props = [
//!     ("provider", AttrValue::from("openai")),
//!     ("selection", AttrValue::from("the user's selected text")),
//! ];
//! let event = Event::new("ask.sent", 1_000.0, props, &Scrubber::default(), &EventLimits::default(), &mut dropped);
//! assert_eq!(event.properties, [("provider".to_string(), AttrValue::from("openai"))]);
//! assert_eq!(dropped.total(), 1); // the selection never enters telemetry
//!
//! let mut log = EventLog::new(100)?;
//! log.record(event);
//! assert_eq!(log.between(0.0, 2_000.0, Some("ask.sent"), 10).len(), 1);
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```

use std::collections::VecDeque;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::privacy::Scrubber;
use super::{AttrValue, Attributes, DropReason, DropTally};
use crate::resilience::{check_range, InvalidSetting};

/// Bounds on one event.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct EventLimits {
    /// The most properties kept (others are counted as dropped).
    pub max_properties: u32,
    /// The longest name, in characters.
    pub max_name_len: u32,
}

impl EventLimits {
    /// Accepted `max_properties`.
    pub const MAX_PROPERTIES: RangeInclusive<u32> = 0..=128;
    /// Accepted `max_name_len`.
    pub const MAX_NAME_LEN: RangeInclusive<u32> = 8..=256;

    /// Checks every setting against its range.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let (p, n) = (Self::MAX_PROPERTIES, Self::MAX_NAME_LEN);
        check_range(
            "events.max_properties",
            self.max_properties,
            *p.start(),
            *p.end(),
        )?;
        check_range(
            "events.max_name_len",
            self.max_name_len,
            *n.start(),
            *n.end(),
        )
    }
}

impl Default for EventLimits {
    /// 32 properties, 128-character names.
    fn default() -> Self {
        Self {
            max_properties: 32,
            max_name_len: 128,
        }
    }
}

/// Something that happened.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Event {
    /// What (e.g. `ask.sent`).
    pub name: String,
    /// When, ms since the epoch.
    pub time_ms: f64,
    /// Details, scrubbed and bounded.
    pub properties: Attributes,
}

impl Event {
    /// An event with its name and properties scrubbed and bounded; dropped
    /// properties are counted in `dropped`.
    pub fn new<'a, I>(
        name: &str,
        time_ms: f64,
        properties: I,
        scrubber: &Scrubber,
        limits: &EventLimits,
        dropped: &mut DropTally,
    ) -> Self
    where
        I: IntoIterator<Item = (&'a str, AttrValue)>,
    {
        Self {
            name: scrubber.text_within(name, limits.max_name_len as usize),
            time_ms,
            properties: scrubber.attributes(properties, limits.max_properties as usize, dropped),
        }
    }

    /// A property's value.
    pub fn property(&self, key: &str) -> Option<&AttrValue> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// The recent events, bounded.
#[derive(Debug, Clone)]
pub struct EventLog {
    events: VecDeque<Event>,
    capacity: usize,
    /// A lower limit while memory is shed ([`EventLog::set_floor`]).
    floor: Option<usize>,
    dropped: DropTally,
}

/// Accepted event log capacities.
pub const LOG_CAPACITY: RangeInclusive<u32> = 1..=100_000;

impl EventLog {
    /// A log keeping the `capacity` most recent events.
    pub fn new(capacity: u32) -> Result<Self, InvalidSetting> {
        check_range(
            "telemetry.event_capacity",
            capacity,
            *LOG_CAPACITY.start(),
            *LOG_CAPACITY.end(),
        )?;
        Ok(Self {
            events: VecDeque::new(),
            capacity: capacity as usize,
            floor: None,
            dropped: DropTally::default(),
        })
    }

    /// Keeps an event, evicting the oldest when full (counted).
    pub fn record(&mut self, event: Event) {
        let limit = self.floor.map_or(self.capacity, |f| f.min(self.capacity));
        while self.events.len() >= limit.max(1) {
            self.events.pop_front();
            self.dropped.add(DropReason::Evicted, 1);
        }
        self.events.push_back(event);
    }

    /// Keeps at most `floor` events (the oldest go now, counted as
    /// evicted, and their memory is given back) until `None` restores the
    /// capacity.
    pub fn set_floor(&mut self, floor: Option<usize>) {
        self.floor = floor;
        if let Some(f) = floor {
            let excess = self.events.len().saturating_sub(f);
            self.events.drain(..excess);
            self.dropped.add(DropReason::Evicted, excess as u64);
            self.events.shrink_to_fit();
        }
    }

    /// The `limit` most recent events, newest first.
    pub fn recent(&self, limit: usize) -> Vec<&Event> {
        self.events.iter().rev().take(limit).collect()
    }

    /// Events in `[from_ms, to_ms]` (of one name if given), newest first,
    /// at most `limit`.
    pub fn between(
        &self,
        from_ms: f64,
        to_ms: f64,
        name: Option<&str>,
        limit: usize,
    ) -> Vec<&Event> {
        self.events
            .iter()
            .rev()
            .filter(|e| e.time_ms >= from_ms && e.time_ms <= to_ms)
            .filter(|e| name.is_none_or(|n| e.name == n))
            .take(limit)
            .collect()
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Evictions not yet taken.
    pub fn take_dropped(&mut self) -> DropTally {
        self.dropped.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(name: &str, t: f64) -> Event {
        Event::new(
            name,
            t,
            [("n", AttrValue::Int(t as i64))],
            &Scrubber::default(),
            &EventLimits::default(),
            &mut DropTally::default(),
        )
    }

    #[test]
    fn names_and_properties_are_scrubbed_and_bounded() {
        let limits = EventLimits {
            max_properties: 2,
            max_name_len: 8,
        };
        let mut dropped = DropTally::default();
        let props = (0..5).map(|i| ("k", AttrValue::Int(i)));
        let e = Event::new(
            "see https://example.com/x/y now",
            1.0,
            props,
            &Scrubber::default(),
            &limits,
            &mut dropped,
        );
        assert_eq!(e.name.chars().count(), 8);
        assert_eq!(e.properties.len(), 2);
        assert_eq!(dropped.get(DropReason::AttributeLimit), 3);
        assert_eq!(e.property("k"), Some(&AttrValue::Int(0)));
        assert!(EventLimits {
            max_properties: 500,
            ..limits
        }
        .validate()
        .is_err());
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
    }

    #[test]
    fn log_queries() {
        let mut log = EventLog::new(10).unwrap();
        for i in 0..6 {
            log.record(event(if i % 2 == 0 { "a" } else { "b" }, i as f64));
        }
        assert_eq!(
            log.recent(2).iter().map(|e| e.time_ms).collect::<Vec<_>>(),
            [5.0, 4.0]
        );
        let a: Vec<f64> = log
            .between(1.0, 4.0, Some("a"), 10)
            .iter()
            .map(|e| e.time_ms)
            .collect();
        assert_eq!(a, [4.0, 2.0]);
        assert_eq!(log.between(0.0, 10.0, None, 3).len(), 3);
        assert!(EventLog::new(0).is_err());
    }

    proptest! {
        /// The log never holds more than its capacity and counts every eviction.
        #[test]
        fn log_is_bounded(capacity in 1u32..30, n in 0usize..100) {
            let mut log = EventLog::new(capacity).unwrap();
            for i in 0..n {
                log.record(event("e", i as f64));
                prop_assert!(log.len() <= capacity as usize);
            }
            prop_assert_eq!(log.len() as u64 + log.take_dropped().total(), n as u64);
        }
    }
}
