//! OTLP/HTTP JSON export: the encoders ([`metrics_request`],
//! [`logs_request`], [`traces_request`]), the export policy
//! ([`classify`] an HTTP answer) and the offline [`ExportQueue`].
//!
//! The encoders follow the OTLP/JSON rules: field names in lowerCamelCase,
//! enums as integers, every 64-bit integer (`timeUnixNano`, `asInt`,
//! `count`) as a decimal string, trace and span ids as lowercase hex;
//! sums and histograms are DELTA (`aggregationTemporality: 1`): each point
//! covers one collection window `[startTimeUnixNano, timeUnixNano]`. The
//! resource says `service.name = "paperclip"`.
//!
//! Histograms are exported as OTLP **Summary** points carrying the
//! sketch's p50/p90/p95/p99 (plus the exact min and max as quantiles 0 and
//! 1), count and sum. The [`Sketch`](super::sketch::Sketch) is a DDSketch
//! whose buckets are not the OTLP exponential histogram's (its growth
//! factor is 1.0202, not a power-of-two root, and the crate does not expose
//! them), so an ExponentialHistogram would need a second structure on the
//! hot path; the Summary sends the percentiles the panel shows, with the
//! sketch's 1 % accuracy. Its caveat: OTLP gives Summary no temporality
//! and notes that its count and sum are usually cumulative, so a backend
//! must read each point as its own window (its start time says so).
//!
//! Export policy ([`classify`]): 2xx is done; 429, 502, 503 and 504 are
//! retried, after the `Retry-After` header (seconds or HTTP date) when
//! given; everything else — 400, 413, other 4xx, other 5xx — is dropped
//! and counted, never retried. A network error is retried.
//!
//! ```
//! use paperclip_core::telemetry::otlp::{classify, Endpoint, ExportOutcome, ExportQueue, QueueConfig};
//! use paperclip_core::telemetry::Signal;
//!
//! let mut queue = ExportQueue::new(QueueConfig::default())?;
//! let added = queue.enqueue(Endpoint::Traces, r#"{"resourceSpans":[]}"#.into(), &[(Signal::Spans, 3)], 0.0);
//! let id = queue.poll(0.0).send.unwrap();
//! assert_eq!(id, added.id);
//!
//! // 503 with "Retry-After: 7": sent again 7 s later, not before.
//! let outcome = classify(503, Some("7"), 1_000.0);
//! assert_eq!(outcome, ExportOutcome::Retry { after_ms: Some(7_000) });
//! queue.nack(id, outcome, 1_000.0, 0.5);
//! assert_eq!(queue.poll(7_999.0).send, None);
//! assert_eq!(queue.poll(8_000.0).send, Some(id));
//! queue.ack(id);
//! assert!(queue.is_empty());
//! # Ok::<(), paperclip_core::resilience::InvalidSetting>(())
//! ```

use std::collections::VecDeque;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use xxhash_rust::xxh3::xxh3_64;

use super::errors::ErrorRecord;
use super::events::Event;
use super::metrics::{Collection, DataPoint, InstrumentKind, PointValue};
use super::sketch::Sketch;
use super::span::{Span, SpanStatus};
use super::{ms_to_ns, AttrValue, Attributes, DropReason, DropTally, Signal};
use crate::resilience::retry::{full_jitter, parse_retry_after};
use crate::resilience::{check_ms, check_range, InvalidSetting};

/// The media type of every request.
pub const CONTENT_TYPE: &str = "application/json";
/// `AGGREGATION_TEMPORALITY_DELTA`.
pub const DELTA: i32 = 1;
/// The instrumentation scope of everything exported.
pub const SCOPE: &str = "paperclip";
/// OTLP severity numbers used for logs.
pub const SEVERITY_INFO: i32 = 9;
/// OTLP severity of errors.
pub const SEVERITY_ERROR: i32 = 17;

/// Where a queued batch goes: the three OTLP/HTTP endpoints of the
/// collector, or the user's custom JSON endpoint.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /v1/metrics`.
    Metrics,
    /// `POST /v1/logs` (events and errors).
    Logs,
    /// `POST /v1/traces`.
    Traces,
    /// The custom JSON endpoint: Paperclip's own document
    /// ([`super::persist::JsonDocument`]) posted to the URL as given.
    Json,
}

impl Endpoint {
    /// The path under the collector's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::Metrics => "/v1/metrics",
            Self::Logs => "/v1/logs",
            Self::Traces => "/v1/traces",
            Self::Json => "",
        }
    }
}

/// A collector URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectorUrlError {
    /// Not `http://` or `https://`.
    #[error("must start with http:// or https://")]
    Scheme,
    /// No host, or spaces in it.
    #[error("has no valid host")]
    Host,
}

/// The URL to POST `endpoint` to, from the user's collector base URL
/// (`http://localhost:4318` → `http://localhost:4318/v1/traces`); for
/// [`Endpoint::Json`] the user's URL itself.
pub fn collector_url(url: &str, endpoint: Endpoint) -> Result<String, CollectorUrlError> {
    let base = url.trim().trim_end_matches('/');
    let lower = base.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or(CollectorUrlError::Scheme)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || base.chars().any(char::is_whitespace) {
        return Err(CollectorUrlError::Host);
    }
    if endpoint == Endpoint::Json {
        return Ok(url.trim().to_string());
    }
    Ok(format!("{base}{}", endpoint.path()))
}

/// The resource every request describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Its attributes.
    pub attributes: Attributes,
}

impl Resource {
    /// `service.name = "paperclip"`, the version and the SDK.
    pub fn paperclip(version: &str) -> Self {
        Self {
            attributes: vec![
                ("service.name".into(), AttrValue::from("paperclip")),
                ("service.version".into(), AttrValue::from(version)),
                (
                    "telemetry.sdk.name".into(),
                    AttrValue::from("paperclip-core"),
                ),
                ("telemetry.sdk.language".into(), AttrValue::from("rust")),
            ],
        }
    }

    fn json(&self) -> Value {
        json!({"attributes": key_values(&self.attributes)})
    }
}

fn scope() -> Value {
    json!({"name": SCOPE, "version": env!("CARGO_PKG_VERSION")})
}

/// An OTLP `AnyValue`.
pub fn any_value(value: &AttrValue) -> Value {
    match value {
        AttrValue::Str(s) => json!({"stringValue": s}),
        AttrValue::Int(i) => json!({"intValue": i.to_string()}),
        AttrValue::Float(x) if x.is_finite() => json!({"doubleValue": x}),
        AttrValue::Float(x) => json!({"stringValue": x.to_string()}),
        AttrValue::Bool(b) => json!({"boolValue": b}),
    }
}

/// OTLP `KeyValue`s.
pub fn key_values(attributes: &Attributes) -> Value {
    attributes
        .iter()
        .map(|(k, v)| json!({"key": k, "value": any_value(v)}))
        .collect()
}

fn labels_json(labels: &[(String, String)]) -> Value {
    labels
        .iter()
        .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}}))
        .collect()
}

fn ns(ms: f64) -> String {
    ms_to_ns(ms).to_string()
}

fn summary_point(sketch: &Sketch, base: &mut serde_json::Map<String, Value>) {
    let s = sketch.summary();
    let mut quantiles = Vec::new();
    if let Some(min) = s.min {
        quantiles.push(json!({"quantile": 0.0, "value": min}));
    }
    for (q, v) in s.quantiles() {
        quantiles.push(json!({"quantile": q, "value": v}));
    }
    if let Some(max) = s.max {
        quantiles.push(json!({"quantile": 1.0, "value": max}));
    }
    base.insert("count".into(), json!(s.count.to_string()));
    base.insert("sum".into(), json!(s.sum));
    base.insert("quantileValues".into(), Value::Array(quantiles));
}

fn data_point(p: &DataPoint, start: &str, end: &str) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("attributes".into(), labels_json(&p.labels));
    o.insert("startTimeUnixNano".into(), json!(start));
    o.insert("timeUnixNano".into(), json!(end));
    match &p.value {
        // OTLP's asInt is an int64: a counter beyond it saturates.
        PointValue::Counter(v) => {
            o.insert(
                "asInt".into(),
                json!(i64::try_from(*v).unwrap_or(i64::MAX).to_string()),
            );
        }
        PointValue::UpDownCounter(v) => {
            o.insert("asInt".into(), json!(v.to_string()));
        }
        PointValue::Gauge(v) => {
            o.insert("asDouble".into(), json!(v));
        }
        PointValue::Histogram(sketch) => summary_point(sketch, &mut o),
    }
    Value::Object(o)
}

/// An `ExportMetricsServiceRequest` for one collection.
pub fn metrics_request(resource: &Resource, collection: &Collection) -> Value {
    let (start, end) = (ns(collection.start_ms), ns(collection.end_ms));
    let metrics: Vec<Value> = collection
        .metrics
        .iter()
        .map(|m| {
            let points: Vec<Value> = m.points.iter().map(|p| data_point(p, &start, &end)).collect();
            let d = &m.descriptor;
            let mut o = json!({"name": d.name, "unit": d.unit, "description": d.description});
            let (key, data) = match d.kind {
                InstrumentKind::Counter => (
                    "sum",
                    json!({"dataPoints": points, "aggregationTemporality": DELTA, "isMonotonic": true}),
                ),
                InstrumentKind::UpDownCounter => (
                    "sum",
                    json!({"dataPoints": points, "aggregationTemporality": DELTA, "isMonotonic": false}),
                ),
                InstrumentKind::Gauge => ("gauge", json!({"dataPoints": points})),
                InstrumentKind::Histogram => ("summary", json!({"dataPoints": points})),
            };
            o[key] = data;
            o
        })
        .collect();
    json!({"resourceMetrics": [{
        "resource": resource.json(),
        "scopeMetrics": [{"scope": scope(), "metrics": metrics}],
    }]})
}

fn event_record(e: &Event) -> Value {
    let t = ns(e.time_ms);
    json!({
        "timeUnixNano": t,
        "observedTimeUnixNano": t,
        "severityNumber": SEVERITY_INFO,
        "severityText": "INFO",
        "eventName": e.name,
        "body": {"stringValue": e.name},
        "attributes": key_values(&e.properties),
    })
}

fn error_record(e: &ErrorRecord) -> Value {
    let t = ns(e.time_ms);
    let mut attrs: Attributes = vec![
        ("exception.type".into(), AttrValue::from(e.kind.as_str())),
        (
            "exception.message".into(),
            AttrValue::from(e.message.as_str()),
        ),
    ];
    if let Some(stack) = &e.stack {
        attrs.push((
            "exception.stacktrace".into(),
            AttrValue::from(stack.as_str()),
        ));
    }
    attrs.push((
        "error.fingerprint".into(),
        AttrValue::from(e.fingerprint.to_string()),
    ));
    attrs.push((
        "paperclip.component".into(),
        AttrValue::from(e.source.component.as_str()),
    ));
    if let Some(origin) = &e.source.origin {
        attrs.push(("page.origin".into(), AttrValue::from(origin.as_str())));
    }
    attrs.extend(e.context.iter().cloned());
    json!({
        "timeUnixNano": t,
        "observedTimeUnixNano": t,
        "severityNumber": SEVERITY_ERROR,
        "severityText": "ERROR",
        "body": {"stringValue": e.message},
        "attributes": key_values(&attrs),
    })
}

/// An `ExportLogsServiceRequest`: events as INFO log records (with
/// `eventName`), errors as ERROR log records with the `exception.*`
/// attributes and `error.fingerprint`.
pub fn logs_request(resource: &Resource, events: &[Event], errors: &[ErrorRecord]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .map(event_record)
        .chain(errors.iter().map(error_record))
        .collect();
    json!({"resourceLogs": [{
        "resource": resource.json(),
        "scopeLogs": [{"scope": scope(), "logRecords": records}],
    }]})
}

fn span_json(s: &Span) -> Value {
    let mut o = json!({
        "traceId": s.trace_id.to_hex(),
        "spanId": s.span_id.to_hex(),
        "name": s.name,
        "kind": s.kind.otlp(),
        "startTimeUnixNano": s.start_ns.to_string(),
        "endTimeUnixNano": s.end_ns.to_string(),
        "attributes": key_values(&s.attributes),
        "droppedAttributesCount": s.dropped_attributes,
        "events": s.events.iter().map(|e| json!({
            "timeUnixNano": e.time_ns.to_string(),
            "name": e.name,
            "attributes": key_values(&e.attributes),
        })).collect::<Vec<_>>(),
        "droppedEventsCount": s.dropped_events,
        "status": match &s.status {
            SpanStatus::Error { message } => json!({"code": 2, "message": message}),
            other => json!({"code": other.otlp_code()}),
        },
    });
    if let Some(parent) = s.parent_span_id {
        o["parentSpanId"] = json!(parent.to_hex());
    }
    o
}

/// An `ExportTraceServiceRequest`.
pub fn traces_request(resource: &Resource, spans: &[Span]) -> Value {
    json!({"resourceSpans": [{
        "resource": resource.json(),
        "scopeSpans": [{"scope": scope(), "spans": spans.iter().map(span_json).collect::<Vec<_>>()}],
    }]})
}

/// What to do after an export attempt.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExportOutcome {
    /// Accepted: remove the batch.
    Done,
    /// Try again (after the server's `Retry-After` if it gave one,
    /// otherwise after a backoff).
    Retry {
        /// The server's wait, ms.
        after_ms: Option<u64>,
    },
    /// Refused for good: drop the batch (counted), never retry.
    Drop {
        /// The HTTP status.
        status: u16,
    },
}

/// Classifies an HTTP answer (see the module docs); `retry_after` is the
/// `Retry-After` header, if any.
pub fn classify(status: u16, retry_after: Option<&str>, now_ms: f64) -> ExportOutcome {
    match status {
        200..=299 => ExportOutcome::Done,
        429 | 502 | 503 | 504 => ExportOutcome::Retry {
            after_ms: retry_after.and_then(|h| parse_retry_after(h, ms_to_ns(now_ms) / 1_000_000)),
        },
        _ => ExportOutcome::Drop { status },
    }
}

/// The outcome of a request that got no HTTP answer (offline, DNS, reset).
pub fn network_error() -> ExportOutcome {
    ExportOutcome::Retry { after_ms: None }
}

/// The items a collector reports as rejected in a 2xx answer's
/// `partialSuccess` (0 when none or when the body is not JSON).
pub fn rejected_items(body: &str) -> u64 {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return 0;
    };
    let partial = &v["partialSuccess"];
    ["rejectedDataPoints", "rejectedLogRecords", "rejectedSpans"]
        .iter()
        .filter_map(|k| match &partial[k] {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        })
        .sum()
}

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
    use super::super::errors::{ErrorInput, ErrorRecord};
    use super::super::metrics::{MetricsConfig, Registry};
    use super::super::privacy::Scrubber;
    use super::super::span::{OpenSpan, SpanKind};
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
    use proptest::prelude::*;

    const T0: f64 = 1_700_000_000_000.0;

    /// Decodes `json` as the real OTLP type, and checks that the decoded
    /// message, written back, holds every field we wrote with the same
    /// value: a misspelt field (which serde would skip) fails here.
    fn validate<T: serde::de::DeserializeOwned + Serialize>(json: &Value) -> T {
        let text = serde_json::to_string(json).unwrap();
        let decoded: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let back = serde_json::to_value(&decoded).unwrap();
        assert_subset(json, &back, "$");
        decoded
    }

    fn assert_subset(ours: &Value, theirs: &Value, path: &str) {
        match (ours, theirs) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    let Some(w) = b.get(k) else {
                        panic!("{path}.{k} not in the schema: {theirs}")
                    };
                    assert_subset(v, w, &format!("{path}.{k}"));
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                assert_eq!(a.len(), b.len(), "{path}");
                for (i, (v, w)) in a.iter().zip(b).enumerate() {
                    assert_subset(v, w, &format!("{path}[{i}]"));
                }
            }
            (Value::Number(a), Value::Number(b)) => assert_eq!(a.as_f64(), b.as_f64(), "{path}"),
            _ => assert_eq!(ours, theirs, "{path}"),
        }
    }

    /// Every field named like a 64-bit integer is a string.
    fn assert_int64_strings(v: &Value) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    if k.ends_with("UnixNano") || k == "asInt" || k == "intValue" || k == "count" {
                        assert!(x.is_string(), "{k} = {x}");
                    }
                    assert_int64_strings(x);
                }
            }
            Value::Array(a) => a.iter().for_each(assert_int64_strings),
            _ => {}
        }
    }

    fn sample_collection() -> Collection {
        let mut r = Registry::new(MetricsConfig::default(), Scrubber::default(), T0).unwrap();
        let c = r.counter("paperclip.asks", "{ask}", "asks").unwrap();
        let u = r
            .up_down_counter("paperclip.in_flight", "{request}", "")
            .unwrap();
        let g = r.gauge("paperclip.cache.entries", "{entry}", "").unwrap();
        let h = r.histogram("provider.latency", "ms", "latency").unwrap();
        r.add_with(c, &[("provider", "openai")], 3);
        r.add_delta_with(u, &[], -2);
        r.set_with(g, &[], 41.5);
        for v in [12.0, 80.0, 250.0, 1_200.0] {
            r.record_with(h, &[("provider", "openai")], v);
        }
        r.collect(T0 + 60_000.0)
    }

    #[test]
    fn metrics_decode_as_the_otlp_schema() {
        let json = metrics_request(&Resource::paperclip("1.2.3"), &sample_collection());
        assert_int64_strings(&json);
        let req: ExportMetricsServiceRequest = validate(&json);
        let rm = &req.resource_metrics[0];
        let service = &rm.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, "service.name");
        assert_eq!(
            service.value.as_ref().unwrap().value,
            Some(ProtoValue::StringValue("paperclip".into()))
        );
        let metrics = &rm.scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 4);
        for m in metrics {
            match m.data.as_ref().unwrap() {
                Data::Sum(s) if m.name == "paperclip.asks" => {
                    assert!(s.is_monotonic);
                    assert_eq!(s.aggregation_temporality, DELTA);
                    let p = &s.data_points[0];
                    assert_eq!(p.value, Some(NumberValue::AsInt(3)));
                    assert_eq!(p.start_time_unix_nano, 1_700_000_000_000_000_000);
                    assert_eq!(p.time_unix_nano, 1_700_000_060_000_000_000);
                }
                Data::Sum(s) => {
                    assert!(!s.is_monotonic);
                    assert_eq!(s.aggregation_temporality, DELTA);
                    assert_eq!(s.data_points[0].value, Some(NumberValue::AsInt(-2)));
                }
                Data::Gauge(g) => {
                    assert_eq!(g.data_points[0].value, Some(NumberValue::AsDouble(41.5)))
                }
                Data::Summary(s) => {
                    let p = &s.data_points[0];
                    assert_eq!((p.count, p.sum), (4, 1_542.0));
                    let q: Vec<f64> = p.quantile_values.iter().map(|q| q.quantile).collect();
                    assert_eq!(q, [0.0, 0.5, 0.9, 0.95, 0.99, 1.0]);
                    assert_eq!(p.quantile_values[0].value, 12.0);
                    assert_eq!(p.quantile_values[5].value, 1_200.0);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn logs_decode_as_the_otlp_schema() {
        let scrubber = Scrubber::default();
        let mut dropped = DropTally::default();
        let event = Event::new(
            "ask.sent",
            T0,
            [
                ("provider", AttrValue::from("openai")),
                ("tokens", AttrValue::Int(1 << 40)),
                ("ok", AttrValue::Bool(true)),
                ("ratio", AttrValue::Float(0.25)),
            ],
            &scrubber,
            &Default::default(),
            &mut dropped,
        );
        let error = ErrorRecord::new(
            ErrorInput {
                message: "boom 42",
                kind: "TypeError",
                stack: Some("at f (chrome-extension://x/bg.js:1:2)"),
                component: "background",
                page_url: Some("https://example.com/a"),
                ..ErrorInput::default()
            },
            T0 + 1.0,
            &scrubber,
            &mut dropped,
        );
        let json = logs_request(
            &Resource::paperclip("1"),
            &[event],
            std::slice::from_ref(&error),
        );
        assert_int64_strings(&json);
        let req: ExportLogsServiceRequest = validate(&json);
        let records = &req.resource_logs[0].scope_logs[0].log_records;
        assert_eq!(records.len(), 2);
        assert_eq!(
            (records[0].severity_number, records[0].event_name.as_str()),
            (SEVERITY_INFO, "ask.sent")
        );
        assert_eq!(records[0].time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(
            records[0].attributes[1].value.as_ref().unwrap().value,
            Some(ProtoValue::IntValue(1 << 40))
        );
        assert_eq!(records[1].severity_number, SEVERITY_ERROR);
        let fp = records[1]
            .attributes
            .iter()
            .find(|kv| kv.key == "error.fingerprint")
            .unwrap();
        assert_eq!(
            fp.value.as_ref().unwrap().value,
            Some(ProtoValue::StringValue(error.fingerprint.to_string()))
        );
        assert!(records[1]
            .attributes
            .iter()
            .any(|kv| kv.key == "exception.stacktrace"));
    }

    #[test]
    fn traces_decode_as_the_otlp_schema() {
        let root = OpenSpan::root(
            "ask",
            SpanKind::Internal,
            (0xabc, 0xdef),
            1,
            1_700_000_000_000_000_000,
        );
        let mut call = root.child(
            "provider.attempt",
            SpanKind::Client,
            2,
            1_700_000_000_100_000_000,
        );
        call.set_attribute("http.response.status_code", 503i64);
        call.add_event(
            "retry",
            vec![("attempt".into(), AttrValue::Int(2))],
            1_700_000_000_200_000_000,
        );
        call.set_status(SpanStatus::Error {
            message: "unavailable".into(),
        });
        let call = call.finish(1_700_000_000_300_000_000);
        let root = root.finish(1_700_000_000_400_000_000);
        let json = traces_request(&Resource::paperclip("1"), &[root.clone(), call.clone()]);
        assert_int64_strings(&json);
        assert_eq!(
            json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"],
            "0000000000000abc0000000000000def"
        );
        let req: ExportTraceServiceRequest = validate(&json);
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans[0].trace_id, root.trace_id.0.to_vec());
        assert_eq!(spans[0].span_id, root.span_id.0.to_vec());
        assert!(spans[0].parent_span_id.is_empty());
        assert_eq!(spans[1].parent_span_id, root.span_id.0.to_vec());
        assert_eq!((spans[1].kind, spans[0].kind), (3, 1));
        assert_eq!(spans[1].start_time_unix_nano, 1_700_000_000_100_000_000);
        assert_eq!(spans[1].status.as_ref().unwrap().code, 2);
        assert_eq!(spans[1].events[0].name, "retry");
    }

    #[test]
    fn statuses_are_classified() {
        let now = 1_000_000.0;
        assert_eq!(classify(200, None, now), ExportOutcome::Done);
        assert_eq!(classify(204, Some("5"), now), ExportOutcome::Done);
        for s in [429, 502, 503, 504] {
            assert_eq!(
                classify(s, None, now),
                ExportOutcome::Retry { after_ms: None },
                "{s}"
            );
            assert_eq!(
                classify(s, Some("3"), now),
                ExportOutcome::Retry {
                    after_ms: Some(3_000)
                },
                "{s}"
            );
        }
        // An HTTP date: 1970-01-01T00:16:50Z is 1,010,000 ms.
        assert_eq!(
            classify(503, Some("Thu, 01 Jan 1970 00:16:50 GMT"), now),
            ExportOutcome::Retry {
                after_ms: Some(10_000)
            }
        );
        assert_eq!(
            classify(429, Some("soon"), now),
            ExportOutcome::Retry { after_ms: None }
        );
        for s in [400, 401, 403, 404, 408, 413, 500, 501, 302] {
            assert_eq!(
                classify(s, Some("1"), now),
                ExportOutcome::Drop { status: s },
                "{s}"
            );
        }
        assert_eq!(network_error(), ExportOutcome::Retry { after_ms: None });
        assert_eq!(
            rejected_items(r#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"x"}}"#),
            3
        );
        assert_eq!(
            rejected_items(r#"{"partialSuccess":{"rejectedDataPoints":2}}"#),
            2
        );
        assert_eq!(rejected_items("{}"), 0);
        assert_eq!(rejected_items("not json"), 0);
    }

    #[test]
    fn collector_urls() {
        assert_eq!(
            collector_url(" http://localhost:4318/ ", Endpoint::Traces).unwrap(),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            collector_url("https://otel.example/base", Endpoint::Logs).unwrap(),
            "https://otel.example/base/v1/logs"
        );
        assert_eq!(
            collector_url("ftp://x", Endpoint::Metrics),
            Err(CollectorUrlError::Scheme)
        );
        assert_eq!(
            collector_url("http:///x", Endpoint::Metrics),
            Err(CollectorUrlError::Host)
        );
        assert_eq!(
            collector_url("http://a b", Endpoint::Metrics),
            Err(CollectorUrlError::Host)
        );
        // The custom JSON endpoint is the URL as given.
        assert_eq!(
            collector_url(" https://ingest.example/t/ ", Endpoint::Json).unwrap(),
            "https://ingest.example/t/"
        );
        assert_eq!(
            collector_url("ingest.example", Endpoint::Json),
            Err(CollectorUrlError::Scheme)
        );
    }

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
