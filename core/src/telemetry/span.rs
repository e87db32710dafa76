//! Traces: each user ask is a trace of [`Span`]s (the ask, context
//! gathering, the cache lookup, the provider call with one span per
//! attempt, rendering), built with [`OpenSpan`], kept in a bounded
//! [`SpanStore`] for the devtools timeline and exported as Chrome
//! trace-event JSON ([`chrome_trace`], opens in Perfetto) or OTLP
//! ([`crate::telemetry::otlp::traces_request`]).
//!
//! Ids come from random numbers passed in (16-byte [`TraceId`], 8-byte
//! [`SpanId`]); times are nanoseconds since the epoch.
//!
//! ```
//! use paperclip_core::telemetry::span::{chrome_trace, names, OpenSpan, SpanKind, SpanStore, SpanStatus};
//!
//! let t0 = 1_700_000_000_000_000_000u64;
//! let ask = OpenSpan::root(names::ASK, SpanKind::Internal, (7, 11), 1, t0);
//! let mut call = ask.child(names::PROVIDER_ATTEMPT, SpanKind::Client, 2, t0 + 1_000_000);
//! call.set_attribute("http.response.status_code", 503i64);
//! call.set_status(SpanStatus::Error { message: "503".into() });
//!
//! let mut store = SpanStore::new(1_000)?;
//! store.insert(call.finish(t0 + 5_000_000));
//! store.insert(ask.finish(t0 + 9_000_000));
//! let spans: Vec<_> = store.between(t0, t0 + 2_000_000).into_iter().cloned().collect();
//! assert_eq!(spans.len(), 2);
//! let trace = chrome_trace(&spans);
//! assert_eq!(trace["traceEvents"].as_array().unwrap().iter().filter(|e| e["ph"] == "X").count(), 2);
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::{AttrValue, Attributes, DropReason, DropTally};
use crate::resilience::{check_range, InvalidSetting};

/// Span names shared by the background and the devtools timeline.
pub mod names {
    /// The root span of a user ask.
    pub const ASK: &str = "ask";
    /// Gathering the page context.
    pub const CONTEXT_GATHER: &str = "context.gather";
    /// Looking the answer up in the cache.
    pub const CACHE_LOOKUP: &str = "cache.lookup";
    /// The whole provider call (all attempts).
    pub const PROVIDER_CALL: &str = "provider.call";
    /// One attempt of the provider call (a retry is another attempt).
    pub const PROVIDER_ATTEMPT: &str = "provider.attempt";
    /// One HTTP request to a provider (the background's attempt span).
    pub const PROVIDER_REQUEST: &str = "provider.request";
    /// Rendering the answer.
    pub const RENDER: &str = "render";
    /// Waiting for a place in a provider's bulkhead (concurrent requests).
    pub const PROVIDER_QUEUE: &str = "provider.queue";
    /// Waiting for the user's rate limit to admit a request.
    pub const RATE_WAIT: &str = "rate.wait";
    /// The wait before a retry (`reason`: why the last attempt failed).
    pub const RETRY_WAIT: &str = "retry.wait";
    /// A circuit-breaker decision other than "closed, go on" (`decision`:
    /// `probe`, `rejected`, `opened`, `half_open`, `closed`), zero-length.
    pub const BREAKER: &str = "breaker";
}

/// The most attributes a span keeps.
pub const MAX_SPAN_ATTRIBUTES: usize = 32;
/// The most events a span keeps.
pub const MAX_SPAN_EVENTS: usize = 32;

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

macro_rules! hex_id {
    ($name:ident, $n:literal, $what:literal) => {
        impl $name {
            /// Lowercase hex, as OTLP/JSON writes it.
            pub fn to_hex(&self) -> String {
                hex(&self.0)
            }

            /// Reads lowercase or uppercase hex.
            pub fn from_hex(s: &str) -> Option<Self> {
                unhex::<$n>(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::from_hex(&s)
                    .ok_or_else(|| serde::de::Error::custom(concat!("expected ", $what, " as hex")))
            }
        }
    };
}

/// A trace id: 16 bytes, never all zero (OTLP's invalid id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

impl TraceId {
    /// From two random `u64`s (`hi` then `lo`, big-endian); all zeros
    /// becomes `…01`.
    pub fn from_random(hi: u64, lo: u64) -> Self {
        let lo = if hi == 0 && lo == 0 { 1 } else { lo };
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&hi.to_be_bytes());
        b[8..].copy_from_slice(&lo.to_be_bytes());
        Self(b)
    }
}

hex_id!(TraceId, 16, "a 16-byte trace id");

/// A span id: 8 bytes, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

impl SpanId {
    /// From a random `u64` (0 becomes 1).
    pub fn from_random(r: u64) -> Self {
        Self(r.max(1).to_be_bytes())
    }
}

hex_id!(SpanId, 8, "an 8-byte span id");

/// What a span's operation is (OTLP's `SpanKind`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// Work inside the extension.
    #[default]
    Internal,
    /// Serving a request (the background answering a page).
    Server,
    /// A request to a remote service (a provider call).
    Client,
    /// Sending a message.
    Producer,
    /// Handling a message.
    Consumer,
}

impl SpanKind {
    /// The OTLP enum value.
    pub fn otlp(self) -> i32 {
        match self {
            Self::Internal => 1,
            Self::Server => 2,
            Self::Client => 3,
            Self::Producer => 4,
            Self::Consumer => 5,
        }
    }

    /// A short name for the timeline.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }
}

/// How a span ended.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpanStatus {
    /// Not said.
    #[default]
    Unset,
    /// Succeeded.
    Ok,
    /// Failed.
    Error {
        /// Why (scrubbed).
        message: String,
    },
}

impl SpanStatus {
    /// The OTLP status code (0 unset, 1 ok, 2 error).
    pub fn otlp_code(&self) -> i32 {
        match self {
            Self::Unset => 0,
            Self::Ok => 1,
            Self::Error { .. } => 2,
        }
    }
}

/// Something that happened during a span (a retry scheduled, the first
/// byte, ...).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SpanEvent {
    /// What.
    pub name: String,
    /// When, ns since the epoch.
    pub time_ns: u64,
    /// Details.
    pub attributes: Attributes,
}

/// A finished span.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Span {
    /// The trace (the ask) it belongs to.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: SpanId,
    /// The span it is part of (`None` for the root).
    pub parent_span_id: Option<SpanId>,
    /// What it measures ([`names`]).
    pub name: String,
    /// The kind of operation.
    pub kind: SpanKind,
    /// Start, ns since the epoch.
    pub start_ns: u64,
    /// End, ns since the epoch (never before the start).
    pub end_ns: u64,
    /// Details.
    pub attributes: Attributes,
    /// Events during the span.
    pub events: Vec<SpanEvent>,
    /// How it ended.
    pub status: SpanStatus,
    /// Attributes left out beyond [`MAX_SPAN_ATTRIBUTES`] (or as sensitive).
    pub dropped_attributes: u32,
    /// Events left out beyond [`MAX_SPAN_EVENTS`].
    pub dropped_events: u32,
}

impl Span {
    /// Its duration in ns.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// Whether it overlaps `[from_ns, to_ns]`.
    pub fn overlaps(&self, from_ns: u64, to_ns: u64) -> bool {
        self.start_ns <= to_ns && self.end_ns >= from_ns
    }
}

/// A trace and span id pair, to start children from (also across
/// contexts, e.g. a span started in the content script's request).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The span.
    pub span_id: SpanId,
}

/// A span being measured; [`OpenSpan::finish`] makes it a [`Span`].
#[derive(Debug, Clone, PartialEq)]
pub struct OpenSpan {
    span: Span,
}

impl OpenSpan {
    /// Starts the root span of a new trace.
    pub fn root(
        name: &str,
        kind: SpanKind,
        trace_random: (u64, u64),
        span_random: u64,
        now_ns: u64,
    ) -> Self {
        let trace_id = TraceId::from_random(trace_random.0, trace_random.1);
        Self::start(trace_id, None, name, kind, span_random, now_ns)
    }

    /// Starts a child of `parent` (in `parent`'s trace).
    pub fn child_of(
        parent: SpanContext,
        name: &str,
        kind: SpanKind,
        span_random: u64,
        now_ns: u64,
    ) -> Self {
        Self::start(
            parent.trace_id,
            Some(parent.span_id),
            name,
            kind,
            span_random,
            now_ns,
        )
    }

    /// Starts a child of this span.
    pub fn child(&self, name: &str, kind: SpanKind, span_random: u64, now_ns: u64) -> Self {
        Self::child_of(self.context(), name, kind, span_random, now_ns)
    }

    fn start(
        trace_id: TraceId,
        parent: Option<SpanId>,
        name: &str,
        kind: SpanKind,
        span_random: u64,
        now_ns: u64,
    ) -> Self {
        Self {
            span: Span {
                trace_id,
                span_id: SpanId::from_random(span_random),
                parent_span_id: parent,
                name: name.to_string(),
                kind,
                start_ns: now_ns,
                end_ns: now_ns,
                attributes: Vec::new(),
                events: Vec::new(),
                status: SpanStatus::Unset,
                dropped_attributes: 0,
                dropped_events: 0,
            },
        }
    }

    /// Its trace and span id.
    pub fn context(&self) -> SpanContext {
        SpanContext {
            trace_id: self.span.trace_id,
            span_id: self.span.span_id,
        }
    }

    /// When it started.
    pub fn start_ns(&self) -> u64 {
        self.span.start_ns
    }

    /// Sets an attribute (replacing one of the same key); beyond
    /// [`MAX_SPAN_ATTRIBUTES`] it is counted in `dropped_attributes`.
    pub fn set_attribute(&mut self, key: &str, value: impl Into<AttrValue>) {
        let value = value.into();
        let attrs = &mut self.span.attributes;
        if let Some(slot) = attrs.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value;
        } else if attrs.len() < MAX_SPAN_ATTRIBUTES {
            attrs.push((key.to_string(), value));
        } else {
            self.span.dropped_attributes = self.span.dropped_attributes.saturating_add(1);
        }
    }

    /// Adds an event; beyond [`MAX_SPAN_EVENTS`] it is counted in
    /// `dropped_events`.
    pub fn add_event(&mut self, name: &str, attributes: Attributes, now_ns: u64) {
        if self.span.events.len() < MAX_SPAN_EVENTS {
            self.span.events.push(SpanEvent {
                name: name.to_string(),
                time_ns: now_ns,
                attributes,
            });
        } else {
            self.span.dropped_events = self.span.dropped_events.saturating_add(1);
        }
    }

    /// Sets how it ended.
    pub fn set_status(&mut self, status: SpanStatus) {
        self.span.status = status;
    }

    /// Ends it at `now_ns` (not before its start).
    pub fn finish(mut self, now_ns: u64) -> Span {
        self.span.end_ns = now_ns.max(self.span.start_ns);
        self.span
    }
}

/// A bounded store of finished spans, oldest evicted first (counted as
/// [`DropReason::Evicted`]).
#[derive(Debug, Clone)]
pub struct SpanStore {
    spans: VecDeque<Span>,
    capacity: usize,
    /// A lower limit while memory is shed ([`SpanStore::set_floor`]).
    floor: Option<usize>,
    dropped: DropTally,
}

/// Accepted span store capacities.
pub const STORE_CAPACITY: RangeInclusive<u32> = 1..=100_000;

impl SpanStore {
    /// A store keeping at most `capacity` spans.
    pub fn new(capacity: u32) -> Result<Self, InvalidSetting> {
        check_range(
            "telemetry.span_capacity",
            capacity,
            *STORE_CAPACITY.start(),
            *STORE_CAPACITY.end(),
        )?;
        Ok(Self {
            spans: VecDeque::new(),
            capacity: capacity as usize,
            floor: None,
            dropped: DropTally::default(),
        })
    }

    /// Keeps a span, evicting the oldest when full.
    pub fn insert(&mut self, span: Span) {
        let limit = self.floor.map_or(self.capacity, |f| f.min(self.capacity));
        while self.spans.len() >= limit.max(1) {
            self.spans.pop_front();
            self.dropped.add(DropReason::Evicted, 1);
        }
        self.spans.push_back(span);
    }

    /// Keeps at most `floor` spans (the oldest go now, counted as
    /// evicted, and their memory is given back) until `None` restores the
    /// capacity.
    pub fn set_floor(&mut self, floor: Option<usize>) {
        self.floor = floor;
        if let Some(f) = floor {
            let excess = self.spans.len().saturating_sub(f);
            self.spans.drain(..excess);
            self.dropped.add(DropReason::Evicted, excess as u64);
            self.spans.shrink_to_fit();
        }
    }

    /// Spans overlapping `[from_ns, to_ns]`, by start time.
    pub fn between(&self, from_ns: u64, to_ns: u64) -> Vec<&Span> {
        let mut out: Vec<&Span> = self
            .spans
            .iter()
            .filter(|s| s.overlaps(from_ns, to_ns))
            .collect();
        out.sort_by_key(|s| (s.start_ns, std::cmp::Reverse(s.end_ns)));
        out
    }

    /// The spans of one trace, by start time.
    pub fn trace(&self, trace_id: &TraceId) -> Vec<&Span> {
        let mut out: Vec<&Span> = self
            .spans
            .iter()
            .filter(|s| s.trace_id == *trace_id)
            .collect();
        out.sort_by_key(|s| (s.start_ns, std::cmp::Reverse(s.end_ns)));
        out
    }

    /// How many spans it holds.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Its capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Evictions not yet taken.
    pub fn take_dropped(&mut self) -> DropTally {
        self.dropped.take()
    }
}

fn attr_json(value: &AttrValue) -> Value {
    match value {
        AttrValue::Str(s) => json!(s),
        AttrValue::Int(i) => json!(i),
        AttrValue::Float(x) => json!(x),
        AttrValue::Bool(b) => json!(b),
    }
}

fn args(attrs: &Attributes) -> Map<String, Value> {
    attrs
        .iter()
        .map(|(k, v)| (k.clone(), attr_json(v)))
        .collect()
}

/// µs after `origin_ns`, as Chrome's `ts` and `dur` want them.
fn micros(ns: u64, origin_ns: u64) -> f64 {
    ns.saturating_sub(origin_ns) as f64 / 1_000.0
}

/// Chrome trace-event JSON for `spans` (the JSON object format:
/// `{"traceEvents": [...]}`), which Perfetto and `chrome://tracing` open.
///
/// Each span is a complete event (`"ph": "X"`, `ts` and `dur` in µs,
/// `ts` counted from the earliest span so that nanoseconds survive in an
/// `f64`; the origin is `otherData.origin_unix_ns`) with
/// its attributes, ids and status in `args`; span events are thread-scoped
/// instant events (`"ph": "i"`). Each trace gets its own threads
/// (`tid`s, named after the trace), as many as it needs for its spans to
/// nest: a span overlapping a sibling without containing it goes to
/// another thread of the trace.
pub fn chrome_trace(spans: &[Span]) -> Value {
    let mut sorted: Vec<&Span> = spans.iter().collect();
    sorted.sort_by_key(|s| (s.start_ns, std::cmp::Reverse(s.end_ns)));
    let origin = sorted.first().map_or(0, |s| s.start_ns);
    // Traces in order of their first span.
    let mut trace_order: Vec<TraceId> = Vec::new();
    let mut by_trace: HashMap<TraceId, Vec<&Span>> = HashMap::new();
    for s in sorted {
        by_trace
            .entry(s.trace_id)
            .or_insert_with(|| {
                trace_order.push(s.trace_id);
                Vec::new()
            })
            .push(s);
    }
    let mut events = vec![json!({
        "name": "process_name", "ph": "M", "pid": 1, "tid": 0,
        "args": {"name": "Paperclip"},
    })];
    let mut next_tid = 1u64;
    for trace_id in trace_order {
        // Each lane is a stack of end times of the spans open on it.
        let mut lanes: Vec<(u64, Vec<u64>)> = Vec::new();
        for span in &by_trace[&trace_id] {
            let fits = |stack: &mut Vec<u64>| {
                while stack.last().is_some_and(|end| *end <= span.start_ns) {
                    stack.pop();
                }
                stack.last().is_none_or(|end| *end >= span.end_ns)
            };
            let lane = match lanes.iter_mut().position(|(_, stack)| fits(stack)) {
                Some(i) => i,
                None => {
                    let tid = next_tid;
                    next_tid += 1;
                    let short = &trace_id.to_hex()[..8];
                    let suffix = if lanes.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", lanes.len() + 1)
                    };
                    events.push(json!({
                        "name": "thread_name", "ph": "M", "pid": 1, "tid": tid,
                        "args": {"name": format!("trace {short}{suffix}")},
                    }));
                    lanes.push((tid, Vec::new()));
                    lanes.len() - 1
                }
            };
            let (tid, stack) = &mut lanes[lane];
            stack.push(span.end_ns);
            let mut a = args(&span.attributes);
            a.insert("trace_id".into(), json!(span.trace_id.to_hex()));
            a.insert("span_id".into(), json!(span.span_id.to_hex()));
            if let Some(parent) = span.parent_span_id {
                a.insert("parent_span_id".into(), json!(parent.to_hex()));
            }
            match &span.status {
                SpanStatus::Unset => {}
                SpanStatus::Ok => {
                    a.insert("status".into(), json!("ok"));
                }
                SpanStatus::Error { message } => {
                    a.insert("status".into(), json!("error"));
                    a.insert("status_message".into(), json!(message));
                }
            }
            events.push(json!({
                "name": span.name,
                "cat": span.kind.as_str(),
                "ph": "X",
                "ts": micros(span.start_ns, origin),
                "dur": micros(span.duration_ns(), 0),
                "pid": 1,
                "tid": *tid,
                "args": a,
            }));
            for e in &span.events {
                events.push(json!({
                    "name": e.name,
                    "cat": "event",
                    "ph": "i",
                    "s": "t",
                    "ts": micros(e.time_ns, origin),
                    "pid": 1,
                    "tid": *tid,
                    "args": args(&e.attributes),
                }));
            }
        }
    }
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"origin_unix_ns": origin.to_string()},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: u64 = 1_700_000_000_000_000_000;

    fn span(trace: u64, id: u64, parent: Option<u64>, start: u64, end: u64) -> Span {
        let ctx = SpanContext {
            trace_id: TraceId::from_random(0, trace),
            span_id: SpanId::from_random(parent.unwrap_or(0)),
        };
        let open = match parent {
            Some(_) => OpenSpan::child_of(ctx, "s", SpanKind::Internal, id, T0 + start),
            None => OpenSpan::root("s", SpanKind::Internal, (0, trace), id, T0 + start),
        };
        open.finish(T0 + end)
    }

    #[test]
    fn ids_are_hex_and_never_zero() {
        let t = TraceId::from_random(0x0102_0304_0506_0708, 0x090a_0b0c_0d0e_0f10);
        assert_eq!(t.to_hex(), "0102030405060708090a0b0c0d0e0f10");
        assert_eq!(TraceId::from_hex(&t.to_hex().to_uppercase()), Some(t));
        assert_eq!(
            TraceId::from_random(0, 0).to_hex(),
            "00000000000000000000000000000001"
        );
        assert_eq!(SpanId::from_random(0).to_hex(), "0000000000000001");
        assert_eq!(SpanId::from_hex("xyz"), None);
        assert_eq!(SpanId::from_hex("é0000000000000"), None);
        assert_eq!(
            serde_json::to_string(&SpanId::from_random(255)).unwrap(),
            "\"00000000000000ff\""
        );
        assert!(serde_json::from_str::<SpanId>("\"00\"").is_err());
    }

    #[test]
    fn open_spans_bound_attributes_and_events() {
        let mut s = OpenSpan::root("ask", SpanKind::Internal, (1, 2), 3, T0);
        for i in 0..40 {
            s.set_attribute(&format!("k{i}"), i as i64);
            s.add_event("e", Vec::new(), T0 + i);
        }
        s.set_attribute("k0", "replaced");
        let child = s.child("render", SpanKind::Internal, 4, T0 + 5);
        assert_eq!(child.context().trace_id, s.context().trace_id);
        let child = child.finish(T0 + 2); // before its start: clamped
        assert_eq!(child.duration_ns(), 0);
        assert_eq!(child.parent_span_id, Some(s.context().span_id));
        let span = s.finish(T0 + 100);
        assert_eq!((span.attributes.len(), span.dropped_attributes), (32, 8));
        assert_eq!((span.events.len(), span.dropped_events), (32, 8));
        assert_eq!(span.attributes[0].1, AttrValue::from("replaced"));
        let json = serde_json::to_string(&span).unwrap();
        assert_eq!(serde_json::from_str::<Span>(&json).unwrap(), span);
        let bytes = postcard::to_allocvec(&span).unwrap();
        assert_eq!(postcard::from_bytes::<Span>(&bytes).unwrap(), span);
    }

    #[test]
    fn store_queries_by_time_and_trace() {
        let mut store = SpanStore::new(3).unwrap();
        store.insert(span(1, 1, None, 0, 100));
        store.insert(span(1, 2, Some(1), 10, 20));
        store.insert(span(2, 3, None, 200, 300));
        assert_eq!(store.between(T0 + 50, T0 + 60).len(), 1);
        assert_eq!(store.between(T0 + 15, T0 + 250).len(), 3);
        assert_eq!(store.between(T0 + 301, T0 + 400).len(), 0);
        assert_eq!(store.trace(&TraceId::from_random(0, 1)).len(), 2);
        store.insert(span(3, 4, None, 400, 500));
        assert_eq!(store.len(), 3);
        assert_eq!(store.take_dropped().get(DropReason::Evicted), 1);
        assert!(SpanStore::new(0).is_err());
    }

    #[test]
    fn chrome_trace_nests_and_splits_overlaps() {
        let mut root = span(1, 1, None, 0, 1_000_000);
        root.name = "ask".into();
        root.attributes
            .push(("provider".into(), AttrValue::from("openai")));
        root.status = SpanStatus::Error {
            message: "boom".into(),
        };
        root.events.push(SpanEvent {
            name: "retry".into(),
            time_ns: T0 + 500_000,
            attributes: vec![("attempt".into(), AttrValue::Int(2))],
        });
        let a = span(1, 2, Some(1), 100_000, 600_000);
        let b = span(1, 3, Some(1), 400_000, 900_000); // overlaps `a`
        let other = span(9, 4, None, 0, 10);
        let trace = chrome_trace(&[b, root, a, other]);
        let events = trace["traceEvents"].as_array().unwrap();
        let complete: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(complete.len(), 4);
        let ask = complete.iter().find(|e| e["name"] == "ask").unwrap();
        assert_eq!(ask["ts"], json!(0.0));
        assert_eq!(trace["otherData"]["origin_unix_ns"], T0.to_string());
        assert_eq!(ask["dur"], json!(1000.0));
        assert_eq!(ask["args"]["provider"], "openai");
        assert_eq!(ask["args"]["status"], "error");
        assert_eq!(ask["args"]["trace_id"], TraceId::from_random(0, 1).to_hex());
        // `a` nests in the root's thread; `b` overlaps `a` and moves.
        let tid = |id: u64| {
            complete
                .iter()
                .find(|e| e["args"]["span_id"] == SpanId::from_random(id).to_hex())
                .unwrap()["tid"]
                .as_u64()
                .unwrap()
        };
        assert_eq!(tid(1), tid(2));
        assert_ne!(tid(2), tid(3));
        assert_ne!(tid(4), tid(1));
        let instant = events.iter().find(|e| e["ph"] == "i").unwrap();
        assert_eq!(
            (instant["name"].as_str(), instant["s"].as_str()),
            (Some("retry"), Some("t"))
        );
        assert_eq!(instant["tid"].as_u64(), Some(tid(1)));
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["ph"] == "M")
            .filter_map(|e| e["args"]["name"].as_str())
            .collect();
        assert_eq!(names.len(), 4); // the process and three threads
        assert!(names.contains(&"Paperclip"));
    }

    proptest! {
        /// The store never holds more than its capacity, and every span it
        /// let go is counted.
        #[test]
        fn store_is_bounded(capacity in 1u32..50, n in 0usize..200) {
            let mut store = SpanStore::new(capacity).unwrap();
            for i in 0..n {
                store.insert(span(1, i as u64 + 1, None, i as u64, i as u64 + 1));
                prop_assert!(store.len() <= capacity as usize);
            }
            prop_assert_eq!(store.len() as u64 + store.take_dropped().total(), n as u64);
        }

        /// Within each chrome-trace thread, complete events nest properly.
        #[test]
        fn chrome_threads_nest(intervals in proptest::collection::vec((0u64..1_000_000, 0u64..500_000), 1..40)) {
            let spans: Vec<Span> = intervals
                .iter()
                .enumerate()
                .map(|(i, (start, len))| span(1 + (i as u64 % 3), i as u64 + 1, None, *start, start + len))
                .collect();
            let trace = chrome_trace(&spans);
            let mut by_tid: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
            for e in trace["traceEvents"].as_array().unwrap().iter().filter(|e| e["ph"] == "X") {
                let ns = |v: &Value| (v.as_f64().unwrap() * 1000.0).round() as u64;
                let ts = ns(&e["ts"]);
                by_tid.entry(e["tid"].as_u64().unwrap()).or_default().push((ts, ts + ns(&e["dur"])));
            }
            prop_assert_eq!(by_tid.values().map(Vec::len).sum::<usize>(), spans.len());
            for list in by_tid.values() {
                for (i, a) in list.iter().enumerate() {
                    for b in &list[i + 1..] {
                        let disjoint = a.1 <= b.0 || b.1 <= a.0;
                        let nested = (a.0 <= b.0 && b.1 <= a.1) || (b.0 <= a.0 && a.1 <= b.1);
                        prop_assert!(disjoint || nested, "{:?} {:?}", a, b);
                    }
                }
            }
        }
    }
}
