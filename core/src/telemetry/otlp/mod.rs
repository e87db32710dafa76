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

// The OTLP/JSON encoders of each signal (encode.rs); the offline export
// queue, its bounds, retries and backoff (queue.rs); here, the endpoints
// and collector URLs, and the export policy.
mod encode;
mod queue;

pub use encode::{
    any_value, key_values, logs_request, metrics_request, traces_request, Resource, CONTENT_TYPE,
    DELTA, SCOPE, SEVERITY_ERROR, SEVERITY_INFO,
};
pub use queue::{BatchId, Enqueued, ExportQueue, Nacked, Poll, QueueConfig, QueuedBatch};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ms_to_ns;
use crate::resilience::retry::parse_retry_after;

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
    /// Plain `http` to another machine (telemetry would cross the network
    /// readable by anyone on the path).
    #[error("must use https (plain http only to this machine: localhost, 127.0.0.1, [::1])")]
    PlainHttp,
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
    if !crate::net::plain_http_allowed(base) {
        return Err(CollectorUrlError::PlainHttp);
    }
    if endpoint == Endpoint::Json {
        return Ok(url.trim().to_string());
    }
    Ok(format!("{base}{}", endpoint.path()))
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // Plain http only to this machine.
        for url in [
            "http://otel.example",
            "http://192.168.1.9:4318",
            "http://127.0.0.1@evil.example",
        ] {
            assert_eq!(
                collector_url(url, Endpoint::Traces),
                Err(CollectorUrlError::PlainHttp),
                "{url}"
            );
        }
        assert!(collector_url("http://127.0.0.1:4318", Endpoint::Json).is_ok());
    }
}
