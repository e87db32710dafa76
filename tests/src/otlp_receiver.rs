//! A local OpenTelemetry collector stand-in on 127.0.0.1, for end-to-end
//! tests of the extension's OTLP/HTTP JSON exporter.
//!
//! [`OtlpReceiver::start`] binds a free loopback port and serves, on a
//! thread of its own, until the [`OtlpReceiver`] is dropped. Its
//! [`OtlpReceiver::url`] is the collector base URL: the exporter POSTs to
//! `{url}/v1/metrics`, `{url}/v1/logs` and `{url}/v1/traces`.
//!
//! Every body is validated strictly (see [`validate`]) before it is
//! accepted:
//!
//! - `Content-Type: application/json` (else 415), no `Content-Encoding`;
//! - it decodes as the signal's `Export…ServiceRequest` of the
//!   `opentelemetry-proto` crate (lowerCamelCase fields, enums as
//!   integers);
//! - every field of the JSON exists in that schema: the crate's serde
//!   silently ignores unknown fields, so a misspelt or snake_case field (or
//!   a logs body posted to `/v1/metrics`) would otherwise decode as an
//!   empty request;
//! - every 64-bit integer (`timeUnixNano`, `startTimeUnixNano`,
//!   `observedTimeUnixNano`, `endTimeUnixNano`, `asInt`, `intValue`,
//!   `count`, `zeroCount`, each of `bucketCounts`) is a JSON string of
//!   decimal digits: the crate also accepts JSON numbers;
//! - trace and span ids (`traceId`, `spanId`, `parentSpanId`) are
//!   lowercase hex of 32 / 16 characters, not all zeros (empty is allowed
//!   where OTLP allows it: a root span's parent, a log record's ids), and
//!   present on every span and link: the crate accepts uppercase, a `0x`
//!   prefix and any length;
//! - spans have a name and non-zero start and end times (end ≥ start);
//!   metrics have a name and data; number points have a value; every
//!   metric point has a non-zero `timeUnixNano`; sums and histograms have
//!   a temporality other than UNSPECIFIED (0), and a histogram's
//!   `bucketCounts`, when given, has one more entry than `explicitBounds`.
//!
//! A valid body is answered 200 `{}` and recorded, decoded and raw, in
//! arrival order ([`OtlpReceiver::metrics`], [`OtlpReceiver::raw`], and the
//! flattened [`OtlpReceiver::log_records`], [`OtlpReceiver::spans`],
//! [`OtlpReceiver::metric_points`]). An invalid one is answered 400 with
//! the reason (a `google.rpc.Status` JSON, `{"code": 3, "message": …}`)
//! and recorded in [`OtlpReceiver::rejections`] (415 for a wrong content
//! type, also a rejection). Other paths are 404, other methods 405 (not
//! rejections).
//!
//! It also stands in for a user's custom JSON endpoint at [`JSON_PATH`]
//! ([`OtlpReceiver::json_url`]): a body there must be Paperclip's JSON
//! document (`format` `paperclip.telemetry.v1`, the service, its version,
//! the window and its rows, each row a `time`, a `kind` of `metric`,
//! `event`, `error` or `span`, a `name`, a finite `value` and string
//! `dims`), with no other field; it is recorded in
//! [`OtlpReceiver::json_documents`].
//!
//! CORS is permissive: `OPTIONS` anything is a preflight answered 204
//! (even while down, so that the browser sees the real status), and every
//! answer carries `Access-Control-Allow-Origin: *`, the allowed methods
//! and headers, and `Access-Control-Expose-Headers: Retry-After`.
//!
//! # Faults
//!
//! [`OtlpReceiver::set_down`] with a [`Down`] answers every request (but
//! preflights) with that status — 503 or 429, with `Retry-After` when
//! given, 400 or 413 — without validating or recording the body;
//! `set_down(None)` comes up again. [`OtlpReceiver::requests`] lists every
//! request but preflights, with its status, including those refused while
//! down.
//!
//! ```no_run
//! use std::time::Duration;
//! use paperclip_e2e::otlp_receiver::{Down, OtlpReceiver};
//!
//! # fn main() -> anyhow::Result<()> {
//! let collector = OtlpReceiver::start()?;
//! let endpoint = collector.url(); // http://127.0.0.1:PORT, set in the options page
//! collector.set_down(Some(Down::Unavailable { retry_after_s: Some(1) }));
//! // … the extension records telemetry; its exports get 503 …
//! collector.set_down(None);
//! collector.wait_for(Duration::from_secs(30), "the spans", |c| c.spans().len() >= 3)?;
//! assert!(collector.rejections().is_empty());
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use serde_json::{json, Value};

/// Request headers allowed by a preflight that names none.
const ALLOWED_HEADERS: &str = "content-type, content-encoding, authorization, accept";

/// One OTLP signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `/v1/metrics`, `ExportMetricsServiceRequest`.
    Metrics,
    /// `/v1/logs`, `ExportLogsServiceRequest`.
    Logs,
    /// `/v1/traces`, `ExportTraceServiceRequest`.
    Traces,
}

impl Signal {
    /// The signal's path: `/v1/metrics`, `/v1/logs` or `/v1/traces`.
    pub fn path(self) -> &'static str {
        match self {
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
            Signal::Traces => "/v1/traces",
        }
    }

    /// The signal served at `path`.
    pub fn from_path(path: &str) -> Option<Signal> {
        [Signal::Metrics, Signal::Logs, Signal::Traces]
            .into_iter()
            .find(|s| s.path() == path)
    }
}

/// How the receiver answers while it is down ([`OtlpReceiver::set_down`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Down {
    /// 503 Service Unavailable, with `Retry-After: retry_after_s` when
    /// given.
    Unavailable {
        /// The `Retry-After` value, in seconds.
        retry_after_s: Option<u32>,
    },
    /// 429 Too Many Requests, with `Retry-After: retry_after_s` when given.
    TooManyRequests {
        /// The `Retry-After` value, in seconds.
        retry_after_s: Option<u32>,
    },
    /// 400 Bad Request (injected: not recorded as a rejection).
    BadRequest,
    /// 413 Payload Too Large.
    TooLarge,
}

impl Down {
    /// The HTTP status answered.
    pub fn status(self) -> u16 {
        match self {
            Down::Unavailable { .. } => 503,
            Down::TooManyRequests { .. } => 429,
            Down::BadRequest => 400,
            Down::TooLarge => 413,
        }
    }

    fn retry_after_s(self) -> Option<u32> {
        match self {
            Down::Unavailable { retry_after_s } | Down::TooManyRequests { retry_after_s } => {
                retry_after_s
            }
            Down::BadRequest | Down::TooLarge => None,
        }
    }

    /// The `google.rpc.Status` code of the answer's body.
    fn rpc_code(self) -> u16 {
        match self {
            Down::Unavailable { .. } => 14,
            Down::TooManyRequests { .. } => 8,
            Down::BadRequest | Down::TooLarge => 3,
        }
    }
}

/// A log record, flattened: the body as text (or, without a body, the
/// event name), the attributes as sent with their values as text, and
/// `timeUnixNano` as decimal text.
pub type LogRow = (String, Vec<(String, String)>, String);

/// A span, flattened: trace id and span id as lowercase hex, and name.
pub type SpanRow = (String, String, String);

/// A metric point, flattened: metric name, attributes sorted by key (values
/// as text), `startTimeUnixNano`, `timeUnixNano`, and the value (`asInt` or
/// `asDouble` of a gauge or sum point; `count` of a histogram, exponential
/// histogram or summary point).
pub type MetricPointRow = (String, Vec<(String, String)>, u64, u64, f64);

/// A validated request, decoded.
enum Decoded {
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
    Traces(ExportTraceServiceRequest),
}

/// The custom JSON endpoint's path.
pub const JSON_PATH: &str = "/ingest/paperclip";

/// Paperclip's JSON document as a consumer reads it (from the module docs,
/// not from the extension's code).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct JsonDocument {
    format: String,
    service: String,
    version: String,
    from_ms: f64,
    to_ms: f64,
    rows: Vec<JsonRow>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct JsonRow {
    time: f64,
    kind: String,
    name: String,
    value: f64,
    dims: BTreeMap<String, String>,
}

/// Validates a custom JSON endpoint body.
fn check_json(body: &[u8]) -> std::result::Result<Value, String> {
    let doc: JsonDocument = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if doc.format != "paperclip.telemetry.v1" || doc.service != "paperclip" {
        return Err(format!(
            "format {:?}, service {:?}",
            doc.format, doc.service
        ));
    }
    if doc.from_ms.partial_cmp(&doc.to_ms) == Some(std::cmp::Ordering::Greater)
        || !doc.to_ms.is_finite()
    {
        return Err(format!("window {} .. {}", doc.from_ms, doc.to_ms));
    }
    for r in &doc.rows {
        if !matches!(r.kind.as_str(), "metric" | "event" | "error" | "span")
            || r.name.is_empty()
            || !r.value.is_finite()
        {
            return Err(format!("row {:?} {:?} {}", r.kind, r.name, r.value));
        }
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

#[derive(Default)]
struct State {
    json: Vec<Value>,
    down: Option<Down>,
    metrics: Vec<(ExportMetricsServiceRequest, Value)>,
    logs: Vec<(ExportLogsServiceRequest, Value)>,
    traces: Vec<(ExportTraceServiceRequest, Value)>,
    rejections: Vec<String>,
    requests: Vec<(String, u16)>,
    preflights: usize,
}

/// A running OTLP/HTTP JSON receiver; stops when dropped.
pub struct OtlpReceiver {
    server: Arc<tiny_http::Server>,
    port: u16,
    state: Arc<Mutex<State>>,
}

impl OtlpReceiver {
    /// Serves on a free loopback port, up, with nothing recorded.
    pub fn start() -> Result<OtlpReceiver> {
        let server = Arc::new(
            tiny_http::Server::http("127.0.0.1:0")
                .map_err(|e| anyhow::anyhow!("otlp receiver: {e}"))?,
        );
        let port = server
            .server_addr()
            .to_ip()
            .expect("bound to an IP address")
            .port();
        let state = Arc::new(Mutex::new(State::default()));
        let worker = server.clone();
        let shared = state.clone();
        std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                for request in worker.incoming_requests() {
                    let _ = handle(&shared, request);
                }
            })?;
        Ok(OtlpReceiver {
            server,
            port,
            state,
        })
    }

    /// The collector base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The custom JSON endpoint's URL.
    pub fn json_url(&self) -> String {
        format!("{}{JSON_PATH}", self.url())
    }

    /// The documents accepted at the custom JSON endpoint, in arrival order.
    pub fn json_documents(&self) -> Vec<Value> {
        self.state().json.clone()
    }

    /// Goes down with `down`, or comes up again with `None`.
    pub fn set_down(&self, down: Option<Down>) {
        self.state().down = down;
    }

    /// Forgets everything recorded (accepted requests, rejections, the
    /// request log, the preflight count); the down state is kept.
    pub fn clear(&self) {
        let mut state = self.state();
        let down = state.down;
        *state = State {
            down,
            ..State::default()
        };
    }

    /// The accepted metrics requests, in arrival order.
    pub fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.state()
            .metrics
            .iter()
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// The accepted logs requests, in arrival order.
    pub fn logs(&self) -> Vec<ExportLogsServiceRequest> {
        self.state().logs.iter().map(|(r, _)| r.clone()).collect()
    }

    /// The accepted trace requests, in arrival order.
    pub fn traces(&self) -> Vec<ExportTraceServiceRequest> {
        self.state().traces.iter().map(|(r, _)| r.clone()).collect()
    }

    /// The accepted requests of `signal` as the JSON received, in arrival
    /// order.
    pub fn raw(&self, signal: Signal) -> Vec<Value> {
        let state = self.state();
        match signal {
            Signal::Metrics => state.metrics.iter().map(|(_, v)| v.clone()).collect(),
            Signal::Logs => state.logs.iter().map(|(_, v)| v.clone()).collect(),
            Signal::Traces => state.traces.iter().map(|(_, v)| v.clone()).collect(),
        }
    }

    /// Why each refused body was invalid (`/v1/…: reason`), in arrival
    /// order. Injected faults are not rejections.
    pub fn rejections(&self) -> Vec<String> {
        self.state().rejections.clone()
    }

    /// Every request but preflights: its path and the status answered, in
    /// arrival order (including those refused while down).
    pub fn requests(&self) -> Vec<(String, u16)> {
        self.state().requests.clone()
    }

    /// How many CORS preflights (`OPTIONS`) were answered.
    pub fn preflights(&self) -> usize {
        self.state().preflights
    }

    /// Every accepted log record, in arrival order.
    pub fn log_records(&self) -> Vec<LogRow> {
        let state = self.state();
        let records = state
            .logs
            .iter()
            .flat_map(|(r, _)| &r.resource_logs)
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records);
        records
            .map(|l| {
                let body = match l.body.as_ref().and_then(|b| b.value.as_ref()) {
                    Some(_) => any_to_string(l.body.as_ref()),
                    None => l.event_name.clone(),
                };
                (
                    body,
                    attributes(&l.attributes),
                    l.time_unix_nano.to_string(),
                )
            })
            .collect()
    }

    /// Every accepted span, in arrival order.
    pub fn spans(&self) -> Vec<SpanRow> {
        let state = self.state();
        let spans = state
            .traces
            .iter()
            .flat_map(|(r, _)| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans);
        spans
            .map(|s| (hex(&s.trace_id), hex(&s.span_id), s.name.clone()))
            .collect()
    }

    /// Every accepted metric point, in arrival order.
    pub fn metric_points(&self) -> Vec<MetricPointRow> {
        let state = self.state();
        let metrics = state
            .metrics
            .iter()
            .flat_map(|(r, _)| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics);
        let mut rows = Vec::new();
        for m in metrics {
            let mut push = |attrs: &[KeyValue], start: u64, time: u64, value: f64| {
                let mut attrs = attributes(attrs);
                attrs.sort();
                rows.push((m.name.clone(), attrs, start, time, value));
            };
            let number = |p: &Option<NumberValue>| match p {
                Some(NumberValue::AsInt(i)) => *i as f64,
                Some(NumberValue::AsDouble(d)) => *d,
                None => f64::NAN,
            };
            match &m.data {
                Some(Data::Gauge(g)) => g.data_points.iter().for_each(|p| {
                    push(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        number(&p.value),
                    )
                }),
                Some(Data::Sum(s)) => s.data_points.iter().for_each(|p| {
                    push(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        number(&p.value),
                    )
                }),
                Some(Data::Histogram(h)) => h.data_points.iter().for_each(|p| {
                    push(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        p.count as f64,
                    )
                }),
                Some(Data::ExponentialHistogram(h)) => h.data_points.iter().for_each(|p| {
                    push(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        p.count as f64,
                    )
                }),
                Some(Data::Summary(s)) => s.data_points.iter().for_each(|p| {
                    push(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        p.count as f64,
                    )
                }),
                None => {}
            }
        }
        rows
    }

    /// Polls `pred` every 50 ms until it holds, or fails after `timeout`
    /// naming `what` and what was received.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Self) -> bool,
    ) -> Result<()> {
        let started = Instant::now();
        loop {
            if pred(self) {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                bail!("waited {timeout:?} for {what}; {}", self.summary());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A one-line account of what was received, for failure messages.
    pub fn summary(&self) -> String {
        let state = self.state();
        let last: Vec<String> = state
            .requests
            .iter()
            .rev()
            .take(10)
            .rev()
            .map(|(p, s)| format!("{p} {s}"))
            .collect();
        format!(
            "accepted {} metrics, {} logs, {} traces requests; {} rejections {:?}; \
             {} requests (last: {}); down: {:?}",
            state.metrics.len(),
            state.logs.len(),
            state.traces.len(),
            state.rejections.len(),
            state.rejections,
            state.requests.len(),
            last.join(", "),
            state.down,
        )
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name, value).expect("valid header")
}

fn request_header<'a>(request: &'a tiny_http::Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// Answers `status` with a JSON `body`, the CORS headers and `extra`.
fn respond(
    request: tiny_http::Request,
    status: u16,
    body: &Value,
    extra: &[(&str, String)],
) -> std::io::Result<()> {
    let allow_headers = request_header(&request, "Access-Control-Request-Headers")
        .unwrap_or(ALLOWED_HEADERS)
        .to_string();
    let mut response = tiny_http::Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
        .with_header(header("Access-Control-Allow-Origin", "*"))
        .with_header(header("Access-Control-Allow-Methods", "POST, OPTIONS"))
        .with_header(header("Access-Control-Allow-Headers", &allow_headers))
        .with_header(header("Access-Control-Expose-Headers", "Retry-After"));
    for (name, value) in extra {
        response = response.with_header(header(name, value));
    }
    request.respond(response)
}

fn rpc_status(code: u16, message: &str) -> Value {
    json!({"code": code, "message": message})
}

fn handle(state: &Mutex<State>, mut request: tiny_http::Request) -> std::io::Result<()> {
    let path = request.url().split('?').next().unwrap_or("/").to_string();
    if *request.method() == tiny_http::Method::Options {
        lock(state).preflights += 1;
        return respond(
            request,
            204,
            &json!({}),
            &[
                ("Access-Control-Max-Age", "600".into()),
                ("Access-Control-Allow-Private-Network", "true".into()),
            ],
        );
    }
    let mut body = Vec::new();
    let read = request.as_reader().read_to_end(&mut body);

    let down = lock(state).down;
    if let Some(down) = down {
        let status = down.status();
        let mut extra = Vec::new();
        if let Some(s) = down.retry_after_s() {
            extra.push(("Retry-After", s.to_string()));
        }
        let body = rpc_status(down.rpc_code(), &format!("injected {down:?}"));
        lock(state).requests.push((path, status));
        return respond(request, status, &body, &extra);
    }

    if path == JSON_PATH && *request.method() == tiny_http::Method::Post {
        let media = request_header(&request, "Content-Type")
            .unwrap_or("")
            .to_string();
        let verdict = if !media
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json")
        {
            Err(format!("Content-Type {media:?}, not application/json"))
        } else {
            read.map_err(|e| e.to_string())
                .and_then(|_| check_json(&body))
        };
        let mut st = lock(state);
        return match verdict {
            Ok(doc) => {
                st.json.push(doc);
                st.requests.push((path, 200));
                drop(st);
                respond(request, 200, &json!({}), &[])
            }
            Err(reason) => {
                st.rejections.push(format!("{path}: {reason}"));
                st.requests.push((path, 400));
                drop(st);
                respond(request, 400, &rpc_status(3, &reason), &[])
            }
        };
    }
    let Some(signal) = Signal::from_path(&path) else {
        lock(state).requests.push((path, 404));
        return respond(request, 404, &rpc_status(5, "not found"), &[]);
    };
    if *request.method() != tiny_http::Method::Post {
        lock(state).requests.push((path, 405));
        return respond(
            request,
            405,
            &rpc_status(12, "only POST"),
            &[("Allow", "POST, OPTIONS".into())],
        );
    }

    let content_type = request_header(&request, "Content-Type").unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let encoding = request_header(&request, "Content-Encoding").unwrap_or("identity");
    let verdict = if !media.eq_ignore_ascii_case("application/json") {
        Err((
            415,
            format!("Content-Type {content_type:?}, not application/json"),
        ))
    } else if !encoding.eq_ignore_ascii_case("identity") {
        Err((
            415,
            format!("Content-Encoding {encoding:?} is not supported"),
        ))
    } else if let Err(e) = read {
        Err((400, format!("reading the body: {e}")))
    } else {
        check(signal, &body).map_err(|e| (400, e))
    };

    let mut st = lock(state);
    match verdict {
        Ok((decoded, raw)) => {
            match decoded {
                Decoded::Metrics(r) => st.metrics.push((r, raw)),
                Decoded::Logs(r) => st.logs.push((r, raw)),
                Decoded::Traces(r) => st.traces.push((r, raw)),
            }
            st.requests.push((path, 200));
            drop(st);
            respond(request, 200, &json!({}), &[])
        }
        Err((status, reason)) => {
            st.rejections.push(format!("{path}: {reason}"));
            st.requests.push((path, status));
            drop(st);
            respond(request, status, &rpc_status(3, &reason), &[])
        }
    }
}

/// Validates `body` as an OTLP/JSON export request of `signal` with the
/// rules of the module docs; returns the JSON, or why it is invalid.
pub fn validate(signal: Signal, body: &[u8]) -> std::result::Result<Value, String> {
    check(signal, body).map(|(_, raw)| raw)
}

fn check(signal: Signal, body: &[u8]) -> std::result::Result<(Decoded, Value), String> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if !raw.is_object() {
        return Err("the body is not a JSON object".into());
    }
    check_raw(&raw, "$", "")?;
    let decoded = match signal {
        Signal::Metrics => Decoded::Metrics(decode(&raw)?),
        Signal::Logs => Decoded::Logs(decode(&raw)?),
        Signal::Traces => Decoded::Traces(decode(&raw)?),
    };
    match &decoded {
        Decoded::Metrics(r) => check_metrics(r)?,
        Decoded::Logs(_) => {}
        Decoded::Traces(r) => check_traces(r)?,
    }
    Ok((decoded, raw))
}

/// Decodes `raw` as `T`, and checks that `T` written back has every field
/// of `raw` (serde skips unknown fields silently).
fn decode<T>(raw: &Value) -> std::result::Result<T, String>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let decoded: T = T::deserialize(raw).map_err(|e| format!("not the OTLP schema: {e}"))?;
    let back = serde_json::to_value(&decoded).map_err(|e| format!("re-encoding: {e}"))?;
    known_fields(raw, &back, "$")?;
    Ok(decoded)
}

fn known_fields(ours: &Value, theirs: &Value, path: &str) -> std::result::Result<(), String> {
    match (ours, theirs) {
        (Value::Object(a), b) => {
            for (k, v) in a {
                let here = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => known_fields(v, w, &here)?,
                    None if k.contains('_') => {
                        return Err(format!(
                            "{here}: snake_case field name (OTLP/JSON wants lowerCamelCase)"
                        ))
                    }
                    None => return Err(format!("{here}: no such field in the OTLP schema")),
                }
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                known_fields(v, w, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Unsigned 64-bit integer fields.
const U64_FIELDS: &[&str] = &[
    "timeUnixNano",
    "startTimeUnixNano",
    "observedTimeUnixNano",
    "endTimeUnixNano",
    "count",
    "zeroCount",
];
/// Signed 64-bit integer fields.
const I64_FIELDS: &[&str] = &["asInt", "intValue"];

/// Checks the raw JSON at `path` (in an array or object under `parent`).
fn check_raw(v: &Value, path: &str, parent: &str) -> std::result::Result<(), String> {
    match v {
        Value::Object(o) => {
            if parent == "spans" || parent == "links" {
                for id in ["traceId", "spanId"] {
                    match o.get(id) {
                        Some(Value::String(s)) if !s.is_empty() => {}
                        _ => return Err(format!("{path}.{id}: missing or empty")),
                    }
                }
            }
            for (k, x) in o {
                let here = format!("{path}.{k}");
                let k = k.as_str();
                if U64_FIELDS.contains(&k) {
                    int64_string(x, &here, false)?;
                } else if I64_FIELDS.contains(&k) {
                    int64_string(x, &here, true)?;
                } else if k == "bucketCounts" {
                    let Value::Array(counts) = x else {
                        return Err(format!("{here}: not an array"));
                    };
                    for (i, c) in counts.iter().enumerate() {
                        int64_string(c, &format!("{here}[{i}]"), false)?;
                    }
                } else if k == "traceId" {
                    hex_id(x, &here, 32)?;
                } else if k == "spanId" || k == "parentSpanId" {
                    hex_id(x, &here, 16)?;
                } else {
                    check_raw(x, &here, k)?;
                }
            }
            Ok(())
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_raw(x, &format!("{path}[{i}]"), parent)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn int64_string(v: &Value, path: &str, signed: bool) -> std::result::Result<(), String> {
    let Value::String(s) = v else {
        return Err(format!(
            "{path}: a 64-bit integer must be a JSON string, got {v}"
        ));
    };
    let ok = if signed {
        s.parse::<i64>().is_ok() && !s.starts_with('+')
    } else {
        s.parse::<u64>().is_ok() && !s.starts_with('+')
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{path}: {s:?} is not a decimal 64-bit integer"))
    }
}

fn hex_id(v: &Value, path: &str, len: usize) -> std::result::Result<(), String> {
    let Value::String(s) = v else {
        return Err(format!("{path}: an id must be a hex string, got {v}"));
    };
    if s.is_empty() {
        return Ok(());
    }
    if s.len() != len || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "{path}: {s:?} is not {len} lowercase hex characters"
        ));
    }
    if s.bytes().all(|b| b == b'0') {
        return Err(format!("{path}: all zeros is an invalid id"));
    }
    Ok(())
}

fn check_metrics(r: &ExportMetricsServiceRequest) -> std::result::Result<(), String> {
    for (i, rm) in r.resource_metrics.iter().enumerate() {
        for (j, sm) in rm.scope_metrics.iter().enumerate() {
            for (k, m) in sm.metrics.iter().enumerate() {
                let at = format!("resourceMetrics[{i}].scopeMetrics[{j}].metrics[{k}]");
                if m.name.is_empty() {
                    return Err(format!("{at}: no name"));
                }
                let name = &m.name;
                let temporality = |t: i32| {
                    if t == 0 {
                        Err(format!("{at} ({name}): aggregationTemporality UNSPECIFIED"))
                    } else {
                        Ok(())
                    }
                };
                let times: Vec<u64> = match &m.data {
                    None => return Err(format!("{at} ({name}): no data (gauge, sum, …)")),
                    Some(Data::Gauge(g)) => {
                        number_values(&g.data_points, &at, name)?;
                        g.data_points.iter().map(|p| p.time_unix_nano).collect()
                    }
                    Some(Data::Sum(s)) => {
                        temporality(s.aggregation_temporality)?;
                        number_values(&s.data_points, &at, name)?;
                        s.data_points.iter().map(|p| p.time_unix_nano).collect()
                    }
                    Some(Data::Histogram(h)) => {
                        temporality(h.aggregation_temporality)?;
                        for p in &h.data_points {
                            if !p.bucket_counts.is_empty()
                                && p.bucket_counts.len() != p.explicit_bounds.len() + 1
                            {
                                return Err(format!(
                                    "{at} ({name}): {} bucketCounts for {} explicitBounds",
                                    p.bucket_counts.len(),
                                    p.explicit_bounds.len()
                                ));
                            }
                        }
                        h.data_points.iter().map(|p| p.time_unix_nano).collect()
                    }
                    Some(Data::ExponentialHistogram(h)) => {
                        temporality(h.aggregation_temporality)?;
                        h.data_points.iter().map(|p| p.time_unix_nano).collect()
                    }
                    Some(Data::Summary(s)) => {
                        s.data_points.iter().map(|p| p.time_unix_nano).collect()
                    }
                };
                if times.contains(&0) {
                    return Err(format!("{at} ({name}): a point without timeUnixNano"));
                }
            }
        }
    }
    Ok(())
}

fn number_values(
    points: &[opentelemetry_proto::tonic::metrics::v1::NumberDataPoint],
    at: &str,
    name: &str,
) -> std::result::Result<(), String> {
    if points.iter().any(|p| p.value.is_none()) {
        return Err(format!("{at} ({name}): a point without asInt or asDouble"));
    }
    Ok(())
}

fn check_traces(r: &ExportTraceServiceRequest) -> std::result::Result<(), String> {
    for (i, rs) in r.resource_spans.iter().enumerate() {
        for (j, ss) in rs.scope_spans.iter().enumerate() {
            for (k, s) in ss.spans.iter().enumerate() {
                let at = format!("resourceSpans[{i}].scopeSpans[{j}].spans[{k}]");
                if s.name.is_empty() {
                    return Err(format!("{at}: no name"));
                }
                if s.start_time_unix_nano == 0 || s.end_time_unix_nano == 0 {
                    return Err(format!("{at} ({}): no start or end time", s.name));
                }
                if s.end_time_unix_nano < s.start_time_unix_nano {
                    return Err(format!("{at} ({}): ends before it starts", s.name));
                }
            }
        }
    }
    Ok(())
}

fn attributes(attrs: &[KeyValue]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|kv| (kv.key.clone(), any_to_string(kv.value.as_ref())))
        .collect()
}

/// An attribute value as text: strings as they are, numbers and booleans
/// as Rust prints them, bytes as hex, arrays `[a, b]`, maps `{k: v}`.
fn any_to_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(AnyValueKind::StringValue(s)) => s.clone(),
        Some(AnyValueKind::BoolValue(b)) => b.to_string(),
        Some(AnyValueKind::IntValue(i)) => i.to_string(),
        Some(AnyValueKind::DoubleValue(d)) => d.to_string(),
        Some(AnyValueKind::BytesValue(b)) => hex(b),
        Some(AnyValueKind::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(|v| any_to_string(Some(v))).collect();
            format!("[{}]", items.join(", "))
        }
        Some(AnyValueKind::KvlistValue(kv)) => {
            let items: BTreeMap<&str, String> = kv
                .values
                .iter()
                .map(|kv| (kv.key.as_str(), any_to_string(kv.value.as_ref())))
                .collect();
            let items: Vec<String> = items.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("{{{}}}", items.join(", "))
        }
        Some(AnyValueKind::StringValueStrindex(i)) => format!("strindex {i}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    const TRACE: &str = "5b8efff798038103d269b633813fc60c";
    const ROOT: &str = "eee19b7ec3c1b174";
    const CHILD: &str = "eee19b7ec3c1b175";

    fn resource() -> Value {
        json!({"attributes": [{"key": "service.name", "value": {"stringValue": "paperclip"}}]})
    }

    fn metrics_sample() -> Value {
        json!({"resourceMetrics": [{
            "resource": resource(),
            "scopeMetrics": [{
                "scope": {"name": "paperclip", "version": "1.2.3"},
                "metrics": [
                    {"name": "paperclip.asks", "unit": "{ask}", "description": "asks",
                     "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [{
                        "attributes": [
                            {"key": "provider", "value": {"stringValue": "openai"}},
                            {"key": "attempt", "value": {"intValue": "2"}}
                        ],
                        "startTimeUnixNano": "1700000000000000000",
                        "timeUnixNano": "1700000060000000000",
                        "asInt": "3"
                     }]}},
                    {"name": "paperclip.cache.entries", "unit": "{entry}",
                     "gauge": {"dataPoints": [{
                        "timeUnixNano": "1700000060000000000", "asDouble": 41.5
                     }]}},
                    {"name": "provider.latency", "unit": "ms",
                     "summary": {"dataPoints": [{
                        "attributes": [{"key": "provider", "value": {"stringValue": "openai"}}],
                        "startTimeUnixNano": "1700000000000000000",
                        "timeUnixNano": "1700000060000000000",
                        "count": "4", "sum": 1542.0,
                        "quantileValues": [
                            {"quantile": 0.0, "value": 12.0},
                            {"quantile": 0.5, "value": 80.0},
                            {"quantile": 1.0, "value": 1200.0}
                        ]
                     }]}},
                    {"name": "request.size", "unit": "By",
                     "histogram": {"aggregationTemporality": 1, "dataPoints": [{
                        "startTimeUnixNano": "1700000000000000000",
                        "timeUnixNano": "1700000060000000000",
                        "count": "3", "sum": 30.0,
                        "bucketCounts": ["1", "2"], "explicitBounds": [10.0],
                        "min": 5.0, "max": 15.0
                     }]}}
                ]
            }]
        }]})
    }

    fn logs_sample() -> Value {
        json!({"resourceLogs": [{
            "resource": resource(),
            "scopeLogs": [{
                "scope": {"name": "paperclip"},
                "logRecords": [
                    {"timeUnixNano": "1700000001000000000",
                     "observedTimeUnixNano": "1700000001000000000",
                     "severityNumber": 9, "severityText": "INFO",
                     "eventName": "paperclip.ask",
                     "attributes": [
                        {"key": "provider", "value": {"stringValue": "openai"}},
                        {"key": "tokens", "value": {"intValue": "42"}},
                        {"key": "ok", "value": {"boolValue": true}}
                     ],
                     "traceId": TRACE, "spanId": ROOT},
                    {"timeUnixNano": "1700000002000000000",
                     "severityNumber": 17, "severityText": "ERROR",
                     "body": {"stringValue": "provider timed out"},
                     "attributes": [], "traceId": "", "spanId": ""}
                ]
            }]
        }]})
    }

    fn traces_sample() -> Value {
        json!({"resourceSpans": [{
            "resource": resource(),
            "scopeSpans": [{
                "scope": {"name": "paperclip"},
                "spans": [
                    {"traceId": TRACE, "spanId": ROOT, "parentSpanId": "",
                     "name": "ask", "kind": 1,
                     "startTimeUnixNano": "1700000000000000000",
                     "endTimeUnixNano": "1700000001500000000",
                     "attributes": [{"key": "provider", "value": {"stringValue": "openai"}}],
                     "events": [{"timeUnixNano": "1700000000200000000", "name": "first_token"}],
                     "status": {"code": 1}},
                    {"traceId": TRACE, "spanId": CHILD, "parentSpanId": ROOT,
                     "name": "provider.request", "kind": 3,
                     "startTimeUnixNano": "1700000000100000000",
                     "endTimeUnixNano": "1700000001400000000",
                     "links": [{"traceId": TRACE, "spanId": ROOT}],
                     "status": {"code": 2, "message": "timeout"}}
                ]
            }]
        }]})
    }

    /// A raw HTTP/1.1 request; returns status, lowercase headers and body.
    fn send(
        url: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Vec<(String, String)>, String) {
        let addr = url.strip_prefix("http://").unwrap();
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().split(' ').nth(1).unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status.parse().unwrap(), headers, body.to_string())
    }

    fn post(url: &str, signal: Signal, body: &Value) -> (u16, Vec<(String, String)>, String) {
        send(
            url,
            "POST",
            signal.path(),
            &[("Content-Type", "application/json")],
            &body.to_string(),
        )
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_crate_decodes_otlp_json() {
        let m: ExportMetricsServiceRequest = serde_json::from_value(metrics_sample()).unwrap();
        let metrics = &m.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 4);
        let Some(Data::Sum(sum)) = &metrics[0].data else {
            panic!("{:?}", metrics[0].data)
        };
        assert_eq!(sum.aggregation_temporality, 1);
        assert_eq!(sum.data_points[0].value, Some(NumberValue::AsInt(3)));
        assert_eq!(sum.data_points[0].time_unix_nano, 1_700_000_060_000_000_000);
        assert_eq!(
            sum.data_points[0].attributes[1]
                .value
                .as_ref()
                .unwrap()
                .value,
            Some(AnyValueKind::IntValue(2))
        );
        let Some(Data::Summary(summary)) = &metrics[2].data else {
            panic!("{:?}", metrics[2].data)
        };
        assert_eq!(summary.data_points[0].count, 4);
        assert_eq!(summary.data_points[0].quantile_values[1].value, 80.0);
        let Some(Data::Histogram(h)) = &metrics[3].data else {
            panic!("{:?}", metrics[3].data)
        };
        assert_eq!(h.data_points[0].bucket_counts, vec![1, 2]);

        let l: ExportLogsServiceRequest = serde_json::from_value(logs_sample()).unwrap();
        let records = &l.resource_logs[0].scope_logs[0].log_records;
        assert_eq!(records[0].event_name, "paperclip.ask");
        assert_eq!(
            records[0].observed_time_unix_nano,
            1_700_000_001_000_000_000
        );
        assert_eq!(hex(&records[0].trace_id), TRACE);
        assert!(records[1].trace_id.is_empty());

        let t: ExportTraceServiceRequest = serde_json::from_value(traces_sample()).unwrap();
        let spans = &t.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans[0].trace_id.len(), 16);
        assert_eq!(hex(&spans[1].parent_span_id), ROOT);
        assert_eq!(spans[1].status.as_ref().unwrap().code, 2);
        assert_eq!(spans[0].end_time_unix_nano, 1_700_000_001_500_000_000);

        for (signal, sample) in [
            (Signal::Metrics, metrics_sample()),
            (Signal::Logs, logs_sample()),
            (Signal::Traces, traces_sample()),
        ] {
            validate(signal, sample.to_string().as_bytes()).unwrap();
        }
    }

    /// What the crate lets through, and `validate` does not.
    #[test]
    fn the_crate_is_lenient_and_validate_is_not() {
        let mut m = metrics_sample();
        m["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]["asInt"] =
            json!(3);
        let ok: ExportMetricsServiceRequest = serde_json::from_value(m.clone()).unwrap();
        assert!(!ok.resource_metrics.is_empty());
        let e = validate(Signal::Metrics, m.to_string().as_bytes()).unwrap_err();
        assert!(
            e.contains("asInt: a 64-bit integer must be a JSON string"),
            "{e}"
        );

        let mut t = traces_sample();
        t["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = json!(TRACE.to_uppercase());
        let ok: ExportTraceServiceRequest = serde_json::from_value(t.clone()).unwrap();
        assert_eq!(
            hex(&ok.resource_spans[0].scope_spans[0].spans[0].trace_id),
            TRACE
        );
        assert!(validate(Signal::Traces, t.to_string().as_bytes()).is_err());
        t["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = json!(format!("0x{ROOT}"));
        let ok: ExportTraceServiceRequest = serde_json::from_value(t.clone()).unwrap();
        assert_eq!(
            ok.resource_spans[0].scope_spans[0].spans[0].trace_id.len(),
            8
        );
        assert!(validate(Signal::Traces, t.to_string().as_bytes()).is_err());

        // snake_case and misspelt fields are skipped by serde.
        let mut l = logs_sample();
        let rec = &mut l["resourceLogs"][0]["scopeLogs"][0]["logRecords"][1];
        let time = rec.as_object_mut().unwrap().remove("timeUnixNano").unwrap();
        rec["time_unix_nano"] = time;
        let ok: ExportLogsServiceRequest = serde_json::from_value(l.clone()).unwrap();
        assert_eq!(
            ok.resource_logs[0].scope_logs[0].log_records[1].time_unix_nano,
            0
        );
        let e = validate(Signal::Logs, l.to_string().as_bytes()).unwrap_err();
        assert!(e.contains("snake_case"), "{e}");

        // A logs body is an empty metrics request to serde.
        let ok: ExportMetricsServiceRequest = serde_json::from_value(logs_sample()).unwrap();
        assert!(ok.resource_metrics.is_empty());
        let e = validate(Signal::Metrics, logs_sample().to_string().as_bytes()).unwrap_err();
        assert!(e.contains("$.resourceLogs: no such field"), "{e}");

        // An attribute's intValue as a number.
        let mut l = logs_sample();
        l["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"][1]["value"]
            ["intValue"] = json!(42);
        let e = validate(Signal::Logs, l.to_string().as_bytes()).unwrap_err();
        assert!(e.contains("intValue"), "{e}");

        // An empty export is valid.
        for s in [Signal::Metrics, Signal::Logs, Signal::Traces] {
            validate(s, b"{}").unwrap();
        }
    }

    #[test]
    fn accepts_and_records_each_signal() {
        let rx = OtlpReceiver::start().unwrap();
        let url = rx.url();
        assert!(url.starts_with("http://127.0.0.1:"));
        for (signal, sample) in [
            (Signal::Metrics, metrics_sample()),
            (Signal::Logs, logs_sample()),
            (Signal::Traces, traces_sample()),
        ] {
            let (status, headers, body) = post(&url, signal, &sample);
            assert_eq!(status, 200, "{body}");
            assert_eq!(body, "{}");
            assert_eq!(get(&headers, "access-control-allow-origin"), Some("*"));
            assert_eq!(rx.raw(signal), vec![sample]);
        }
        assert_eq!(rx.rejections(), Vec::<String>::new());
        assert_eq!(
            rx.requests(),
            vec![
                ("/v1/metrics".to_string(), 200),
                ("/v1/logs".to_string(), 200),
                ("/v1/traces".to_string(), 200),
            ]
        );
        assert_eq!(rx.metrics().len(), 1);
        assert_eq!(rx.logs().len(), 1);
        assert_eq!(rx.traces().len(), 1);

        let logs = rx.log_records();
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[0].0, "paperclip.ask");
        assert_eq!(
            logs[0].1,
            vec![
                ("provider".to_string(), "openai".to_string()),
                ("tokens".to_string(), "42".to_string()),
                ("ok".to_string(), "true".to_string()),
            ]
        );
        assert_eq!(logs[0].2, "1700000001000000000");
        assert_eq!(logs[1].0, "provider timed out");

        assert_eq!(
            rx.spans(),
            vec![
                (TRACE.to_string(), ROOT.to_string(), "ask".to_string()),
                (
                    TRACE.to_string(),
                    CHILD.to_string(),
                    "provider.request".to_string()
                ),
            ]
        );

        let points = rx.metric_points();
        assert_eq!(points.len(), 4);
        assert_eq!(points[0].0, "paperclip.asks");
        assert_eq!(
            points[0].1,
            vec![
                ("attempt".to_string(), "2".to_string()),
                ("provider".to_string(), "openai".to_string()),
            ]
        );
        assert_eq!(
            (points[0].2, points[0].3, points[0].4),
            (1_700_000_000_000_000_000, 1_700_000_060_000_000_000, 3.0)
        );
        assert_eq!(points[1].4, 41.5);
        assert_eq!(
            (points[2].0.as_str(), points[2].4),
            ("provider.latency", 4.0)
        );
        assert_eq!((points[3].0.as_str(), points[3].4), ("request.size", 3.0));

        rx.wait_for(Duration::from_millis(200), "two spans", |r| {
            r.spans().len() == 2
        })
        .unwrap();
        let e = rx
            .wait_for(Duration::from_millis(120), "three spans", |r| {
                r.spans().len() == 3
            })
            .unwrap_err();
        assert!(e.to_string().contains("three spans"), "{e}");
    }

    #[test]
    fn rejects_invalid_bodies_with_400() {
        let rx = OtlpReceiver::start().unwrap();
        let url = rx.url();

        let mut m = metrics_sample();
        m["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]
            ["timeUnixNano"] = json!(1_700_000_060_000_000_000u64);
        let (status, _, body) = post(&url, Signal::Metrics, &m);
        assert_eq!(status, 400);
        assert!(
            body.contains("timeUnixNano: a 64-bit integer must be a JSON string"),
            "{body}"
        );

        let mut t = traces_sample();
        t["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = json!(TRACE.to_uppercase());
        let (status, _, body) = post(&url, Signal::Traces, &t);
        assert_eq!(status, 400);
        assert!(body.contains("lowercase hex"), "{body}");

        t["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = json!(&TRACE[..16]);
        let (status, _, body) = post(&url, Signal::Traces, &t);
        assert_eq!(status, 400);
        assert!(body.contains("32 lowercase hex"), "{body}");

        let (status, _, _) = send(
            &url,
            "POST",
            "/v1/logs",
            &[("Content-Type", "application/x-protobuf")],
            "x",
        );
        assert_eq!(status, 415);
        let (status, _, _) = send(
            &url,
            "POST",
            "/v1/logs",
            &[("Content-Type", "application/json")],
            "{",
        );
        assert_eq!(status, 400);
        let (status, _, _) = send(&url, "GET", "/v1/logs", &[], "");
        assert_eq!(status, 405);
        let (status, _, _) = send(&url, "POST", "/v1/nope", &[], "{}");
        assert_eq!(status, 404);

        assert_eq!(rx.rejections().len(), 5, "{:?}", rx.rejections());
        assert!(rx.rejections()[0].starts_with("/v1/metrics: "));
        assert!(rx.metrics().is_empty() && rx.traces().is_empty() && rx.logs().is_empty());
        let statuses: Vec<u16> = rx.requests().iter().map(|(_, s)| *s).collect();
        assert_eq!(statuses, vec![400, 400, 400, 415, 400, 405, 404]);
    }

    #[test]
    fn down_then_up() {
        let rx = OtlpReceiver::start().unwrap();
        let url = rx.url();
        rx.set_down(Some(Down::Unavailable {
            retry_after_s: Some(7),
        }));
        let (status, headers, _) = post(&url, Signal::Logs, &logs_sample());
        assert_eq!(status, 503);
        assert_eq!(get(&headers, "retry-after"), Some("7"));
        assert_eq!(get(&headers, "access-control-allow-origin"), Some("*"));
        assert!(rx.logs().is_empty());

        // Preflights still pass while down.
        let (status, headers, _) = send(
            &url,
            "OPTIONS",
            "/v1/logs",
            &[
                ("Origin", "chrome-extension://abc"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            "",
        );
        assert_eq!(status, 204);
        assert_eq!(get(&headers, "access-control-allow-origin"), Some("*"));
        assert_eq!(
            get(&headers, "access-control-allow-headers"),
            Some("content-type")
        );
        assert!(get(&headers, "access-control-allow-methods")
            .unwrap()
            .contains("POST"));
        assert_eq!(rx.preflights(), 1);

        rx.set_down(None);
        let (status, _, _) = post(&url, Signal::Logs, &logs_sample());
        assert_eq!(status, 200);
        assert_eq!(rx.logs().len(), 1);
        assert_eq!(rx.log_records().len(), 2);
        assert_eq!(
            rx.requests(),
            vec![("/v1/logs".to_string(), 503), ("/v1/logs".to_string(), 200)]
        );
        assert!(rx.rejections().is_empty());
    }

    #[test]
    fn too_large_too_many_and_bad_request_modes() {
        let rx = OtlpReceiver::start().unwrap();
        let url = rx.url();
        rx.set_down(Some(Down::TooLarge));
        let (status, headers, _) = post(&url, Signal::Metrics, &metrics_sample());
        assert_eq!(status, 413);
        assert_eq!(get(&headers, "retry-after"), None);

        rx.set_down(Some(Down::TooManyRequests {
            retry_after_s: Some(2),
        }));
        let (status, headers, _) = post(&url, Signal::Metrics, &metrics_sample());
        assert_eq!(status, 429);
        assert_eq!(get(&headers, "retry-after"), Some("2"));

        rx.set_down(Some(Down::TooManyRequests {
            retry_after_s: None,
        }));
        let (status, headers, _) = post(&url, Signal::Metrics, &metrics_sample());
        assert_eq!(status, 429);
        assert_eq!(get(&headers, "retry-after"), None);

        rx.set_down(Some(Down::BadRequest));
        let (status, _, _) = post(&url, Signal::Metrics, &metrics_sample());
        assert_eq!(status, 400);

        assert!(rx.metrics().is_empty());
        assert!(rx.rejections().is_empty());
        let statuses: Vec<u16> = rx.requests().iter().map(|(_, s)| *s).collect();
        assert_eq!(statuses, vec![413, 429, 429, 400]);

        rx.set_down(None);
        let (status, _, _) = post(&url, Signal::Metrics, &metrics_sample());
        assert_eq!(status, 200);
        assert_eq!(rx.metric_points().len(), 4);
        rx.clear();
        assert!(rx.requests().is_empty() && rx.metrics().is_empty());
    }
}
