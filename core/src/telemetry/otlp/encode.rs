//! The OTLP/JSON encoders, one per signal: [`metrics_request`] (a
//! [`Collection`]'s sums, gauges and, for histograms, Summary points),
//! [`logs_request`] (events and errors as log records) and
//! [`traces_request`] (spans), each describing the same [`Resource`] and
//! instrumentation scope, with the JSON helpers they share ([`any_value`],
//! [`key_values`], nanosecond timestamps as strings).

use serde_json::{json, Value};

use crate::telemetry::errors::{ErrorRecord, Severity};
use crate::telemetry::events::Event;
use crate::telemetry::metrics::{Collection, DataPoint, InstrumentKind, PointValue};
use crate::telemetry::sketch::Sketch;
use crate::telemetry::span::{Span, SpanStatus};
use crate::telemetry::{ms_to_ns, AttrValue, Attributes};

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
/// OTLP severity of warnings.
pub const SEVERITY_WARN: i32 = 13;
/// OTLP severity of fatal errors.
pub const SEVERITY_FATAL: i32 = 21;
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
    attrs.push((
        "error.category".into(),
        AttrValue::from(e.category.as_str()),
    ));
    attrs.extend(e.context.iter().cloned());
    // OTLP's severity numbers: INFO 9, WARN 13, ERROR 17, FATAL 21.
    let (number, text) = match e.severity {
        Severity::Info => (SEVERITY_INFO, "INFO"),
        Severity::Warning => (SEVERITY_WARN, "WARN"),
        Severity::Error => (SEVERITY_ERROR, "ERROR"),
        Severity::Fatal => (SEVERITY_FATAL, "FATAL"),
    };
    json!({
        "timeUnixNano": t,
        "observedTimeUnixNano": t,
        "severityNumber": number,
        "severityText": text,
        "body": {"stringValue": e.message},
        "attributes": key_values(&attrs),
    })
}

/// An `ExportLogsServiceRequest`: events as INFO log records (with
/// `eventName`), errors as log records of their severity with the
/// `exception.*` attributes, `error.fingerprint` and `error.category`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::errors::ErrorInput;
    use crate::telemetry::metrics::{MetricsConfig, Registry};
    use crate::telemetry::privacy::Scrubber;
    use crate::telemetry::span::{OpenSpan, SpanKind};
    use crate::telemetry::DropTally;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
    use serde::Serialize;

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
        // A warning is a WARN record, with its category.
        let mut warning = error.clone();
        warning.severity = Severity::Warning;
        let json = logs_request(&Resource::paperclip("1"), &[], &[warning]);
        let req: ExportLogsServiceRequest = validate(&json);
        let record = &req.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(
            (record.severity_number, record.severity_text.as_str()),
            (SEVERITY_WARN, "WARN")
        );
        assert!(record.attributes.iter().any(|kv| kv.key == "error.category"
            && kv.value.as_ref().unwrap().value == Some(ProtoValue::StringValue("ui".into()))));
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
}
