//! Telemetry: metrics, events, funnels, errors, health and traces, as pure
//! state machines, with OTLP/HTTP JSON and Chrome trace-event encoders.
//!
//! The principal type is [`Engine`], which ties the parts together for the
//! background: every call takes the time (`now_ms`, ms since the epoch, or
//! `now_ns` for spans) and, where a decision is random, a random number
//! `r` in `[0, 1)`; the shell owns the clock, the timers, the random source,
//! the network and IndexedDB. The parts, each usable alone:
//!
//! - [`metrics::Registry`]: counters, up-down counters, gauges and
//!   histograms ([`sketch::Sketch`], a DDSketch) with bounded label
//!   cardinality, delta collection and per-minute time series;
//! - [`events::EventLog`] and [`funnel::Funnel`]; [`errors::ErrorGroups`]
//!   (grouped by a stable [`errors::Fingerprint`]); [`health::HealthBoard`];
//!   [`span::SpanStore`] with [`span::chrome_trace`];
//! - the policies: [`sampling::Sampler`], [`buffer::Buffer`],
//!   [`privacy::Scrubber`] (every string that enters telemetry passes
//!   through it), and the [`otlp`] encoders, [`otlp::classify`] and the
//!   [`otlp::ExportQueue`];
//! - [`panel`]: the devtools panel's queries and answers.
//!
//! Nothing is lost silently: every item that is sampled out, evicted,
//! rejected or expired is counted in the `telemetry.dropped` counter,
//! labelled with a [`DropReason`] and a [`Signal`].
//!
//! ```
//! use paperclip_core::telemetry::{AttrValue, Engine, EngineConfig};
//!
//! let now = 1_700_000_000_000.0;
//! let mut engine = Engine::new(EngineConfig::default(), now)?;
//!
//! // Hot path: register once, bind a label set once, record many times.
//! let asks = engine.metrics_mut().counter("paperclip.asks", "{ask}", "questions asked")?;
//! let openai = engine.metrics_mut().series(asks, &[("provider", "openai")]);
//! engine.metrics_mut().add(openai, 1);
//!
//! // Strings are scrubbed on the way in: no URL path, no key.
//! let props = [("url", AttrValue::from("https://example.com/private/page?q=1"))];
//! engine.event("page.read", &props, now, 0.5);
//! let event = &engine.events().recent(10)[0];
//! assert_eq!(event.properties[0].1, AttrValue::from("https://example.com"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

/// `Display` as 16 lowercase hex digits, and serde as that string (a
/// `u64` does not survive a JavaScript number), for a `u64` newtype.
macro_rules! hex_u64 {
    ($name:ident, $what:literal) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{:016x}", self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_string())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                u64::from_str_radix(&s, 16)
                    .ok()
                    .filter(|_| s.len() == 16)
                    .map(Self)
                    .ok_or_else(|| {
                        serde::de::Error::custom(concat!("expected ", $what, " as 16 hex digits"))
                    })
            }
        }
    };
}

pub mod annotations;
pub mod asks;
pub mod buffer;
pub mod bundle;
pub mod chart;
pub mod compare;
mod engine;
pub mod errors;
pub mod events;
pub mod funnel;
pub mod health;
pub mod metrics;
pub mod otlp;
pub mod page_buffer;
pub mod pages;
pub mod panel;
pub mod persist;
pub mod privacy;
pub mod sampling;
pub mod sketch;
pub mod span;
pub mod trace_import;
pub mod triage;

pub use engine::{Engine, EngineConfig, TickReport};

/// An attribute or property value.
///
/// Externally tagged (`{"str": "openai"}`), so it encodes with JSON and
/// postcard alike.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum AttrValue {
    /// Text (always scrubbed by [`privacy::Scrubber`] before it is kept).
    Str(String),
    /// A whole number.
    Int(i64),
    /// A finite number (non-finite ones are kept as text).
    Float(f64),
    /// A flag.
    Bool(bool),
}

impl From<&str> for AttrValue {
    fn from(value: &str) -> Self {
        Self::Str(value.to_string())
    }
}

impl From<String> for AttrValue {
    fn from(value: String) -> Self {
        Self::Str(value)
    }
}

impl From<i64> for AttrValue {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<u32> for AttrValue {
    fn from(value: u32) -> Self {
        Self::Int(value.into())
    }
}

impl From<f64> for AttrValue {
    fn from(value: f64) -> Self {
        Self::Float(value)
    }
}

impl From<bool> for AttrValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl std::fmt::Display for AttrValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Str(s) => f.write_str(s),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Scrubbed key/value attributes, in the order given.
pub type Attributes = Vec<(String, AttrValue)>;

/// The kinds of telemetry, for sampling rates and drop counts.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Metric measurements and collected points.
    Metrics,
    /// Product events.
    Events,
    /// Error reports.
    Errors,
    /// Trace spans.
    Spans,
}

impl Signal {
    /// Every signal, in index order.
    pub const ALL: [Signal; 4] = [Self::Metrics, Self::Events, Self::Errors, Self::Spans];

    /// The label value (`metrics`, `events`, `errors`, `spans`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Events => "events",
            Self::Errors => "errors",
            Self::Spans => "spans",
        }
    }

    /// A dense index (0..4).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why telemetry was dropped: the `reason` label of `telemetry.dropped`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The sampler decided not to keep it.
    SampledOut,
    /// A bounded buffer was full and dropped its oldest item.
    BufferFull,
    /// A bounded local store (events, spans, error groups) evicted its
    /// oldest entry.
    Evicted,
    /// A measurement was not a finite number.
    InvalidValue,
    /// Attributes, labels or span events beyond their limit.
    AttributeLimit,
    /// The offline export queue was full and dropped its oldest batch.
    QueueFull,
    /// A queued batch grew older than the queue's maximum age.
    Expired,
    /// The collector refused a batch (400, 413, other non-retryable
    /// answers) or reported rejected items in a partial success.
    Rejected,
    /// An attribute under a sensitive key (`api_key`, `prompt`, ...) was
    /// left out by the [`privacy::Scrubber`].
    Redacted,
    /// Export was turned off with telemetry still waiting to be sent.
    ExportDisabled,
}

impl DropReason {
    /// Every reason, in index order.
    pub const ALL: [DropReason; 10] = [
        Self::SampledOut,
        Self::BufferFull,
        Self::Evicted,
        Self::InvalidValue,
        Self::AttributeLimit,
        Self::QueueFull,
        Self::Expired,
        Self::Rejected,
        Self::Redacted,
        Self::ExportDisabled,
    ];

    /// The label value (`sampled_out`, `buffer_full`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SampledOut => "sampled_out",
            Self::BufferFull => "buffer_full",
            Self::Evicted => "evicted",
            Self::InvalidValue => "invalid_value",
            Self::AttributeLimit => "attribute_limit",
            Self::QueueFull => "queue_full",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
            Self::Redacted => "redacted",
            Self::ExportDisabled => "export_disabled",
        }
    }
}

/// Drop counts by reason, kept by each bounded part and moved into the
/// `telemetry.dropped` counter by whoever owns it ([`Engine`] does).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropTally([u64; 10]);

impl DropTally {
    /// Counts `n` drops for `reason`.
    pub fn add(&mut self, reason: DropReason, n: u64) {
        let slot = &mut self.0[reason as usize];
        *slot = slot.saturating_add(n);
    }

    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|n| *n == 0)
    }

    /// The non-zero counts.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .into_iter()
            .map(|r| (r, self.get(r)))
            .filter(|(_, n)| *n > 0)
    }

    /// Returns the counts and resets them.
    pub fn take(&mut self) -> DropTally {
        std::mem::take(self)
    }
}

/// Milliseconds since the epoch (JavaScript's `Date.now()`) to nanoseconds
/// (OTLP's `timeUnixNano`); negative and non-finite times become 0.
pub fn ms_to_ns(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        // Saturates above u64::MAX (year 2554).
        (ms * 1e6).round() as u64
    } else {
        0
    }
}

/// Nanoseconds to milliseconds since the epoch.
pub fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_signals_encode_as_json_and_postcard() {
        let values = [
            AttrValue::from("x"),
            AttrValue::from(3i64),
            AttrValue::from(0.5),
            AttrValue::from(true),
        ];
        for v in values {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<AttrValue>(&json).unwrap(), v);
            let bytes = postcard::to_allocvec(&v).unwrap();
            assert_eq!(postcard::from_bytes::<AttrValue>(&bytes).unwrap(), v);
        }
        assert_eq!(
            serde_json::to_string(&AttrValue::from(2i64)).unwrap(),
            r#"{"int":2}"#
        );
        for (i, s) in Signal::ALL.into_iter().enumerate() {
            assert_eq!(s.index(), i);
        }
        for (i, r) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(r as usize, i);
        }
    }

    #[test]
    fn drop_tally_counts_and_takes() {
        let mut t = DropTally::default();
        assert!(t.is_empty());
        t.add(DropReason::BufferFull, 2);
        t.add(DropReason::Rejected, 3);
        assert_eq!(t.total(), 5);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            [(DropReason::BufferFull, 2), (DropReason::Rejected, 3)]
        );
        let taken = t.take();
        assert!(t.is_empty());
        assert_eq!(taken.get(DropReason::Rejected), 3);
    }

    #[test]
    fn time_conversions() {
        assert_eq!(ms_to_ns(1.5), 1_500_000);
        assert_eq!(ms_to_ns(-1.0), 0);
        assert_eq!(ms_to_ns(f64::NAN), 0);
        assert_eq!(ns_to_ms(2_000_000), 2.0);
    }
}
