//! Reading a Chrome trace-event file (what the panel's "Download Chrome
//! trace" writes, or any tool's JSON trace) back for viewing in the
//! panel's timeline: its complete events (`"ph": "X"`) as bars, bounded
//! in bytes and count, with a precise error for anything else; and the
//! timeline's window (`zoom`, `pan`).
//!
//! ```
//! use paperclip_core::telemetry::trace_import::parse;
//! let bars = parse(r#"{"traceEvents": [{"name": "ask", "ph": "X", "ts": 10, "dur": 5, "tid": 1}]}"#).unwrap();
//! assert_eq!((bars[0].name.as_str(), bars[0].start_us, bars[0].dur_us), ("ask", 10.0, 5.0));
//! assert!(parse("[]").is_err());
//! ```

use serde_json::Value;

/// The largest file read, in bytes.
pub const MAX_TRACE_BYTES: usize = 20 * 1024 * 1024;
/// The most events kept.
pub const MAX_TRACE_EVENTS: usize = 100_000;
/// The longest name kept, in characters.
const MAX_NAME_CHARS: usize = 200;

/// One complete event of an imported trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceBar {
    /// Its name.
    pub name: String,
    /// Its lane (the event's `tid`).
    pub lane: u64,
    /// Start, µs on the trace's clock.
    pub start_us: f64,
    /// Duration, µs.
    pub dur_us: f64,
    /// Whether it says it failed (`args.status` is `error`).
    pub failed: bool,
}

/// The narrowest window of a timeline, as a share of the whole.
pub const MIN_WINDOW: f64 = 1.0 / 1024.0;

/// The visible window `(lo, hi)`, shares of the whole in `[0, 1]`, zoomed
/// by `factor` around its middle (below 1 zooms in).
pub fn zoom((lo, hi): (f64, f64), factor: f64) -> (f64, f64) {
    let mid = (lo + hi) / 2.0;
    let half = ((hi - lo) * factor / 2.0).clamp(MIN_WINDOW / 2.0, 0.5);
    pan((mid - half, mid + half), 0.0)
}

/// The window moved by `by` (a share of the whole), kept inside `[0, 1]`.
pub fn pan((lo, hi): (f64, f64), by: f64) -> (f64, f64) {
    let width = hi - lo;
    let lo = (lo + by).clamp(0.0, 1.0 - width);
    (lo, lo + width)
}

/// Why a file is not a trace to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceImportError {
    /// Larger than [`MAX_TRACE_BYTES`].
    #[error("the file is {0} bytes; at most {MAX_TRACE_BYTES} can be read")]
    TooLarge(usize),
    /// Not JSON.
    #[error("the file is not JSON: {0}")]
    NotJson(String),
    /// JSON, but neither `{"traceEvents": [...]}` nor an array of events.
    #[error("the file is not a Chrome trace: it has no traceEvents array")]
    NoEvents,
    /// No complete event to show.
    #[error("the trace has no complete events (\"ph\": \"X\" with ts and dur) to show")]
    Empty,
}

/// The complete events of trace file `text`, in file order (at most
/// [`MAX_TRACE_EVENTS`]); other events are skipped.
pub fn parse(text: &str) -> Result<Vec<TraceBar>, TraceImportError> {
    if text.len() > MAX_TRACE_BYTES {
        return Err(TraceImportError::TooLarge(text.len()));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| TraceImportError::NotJson(e.to_string()))?;
    let events = match &value {
        Value::Array(events) => events,
        Value::Object(o) => match o.get("traceEvents") {
            Some(Value::Array(events)) => events,
            _ => return Err(TraceImportError::NoEvents),
        },
        _ => return Err(TraceImportError::NoEvents),
    };
    let number = |e: &Value, k: &str| e.get(k).and_then(Value::as_f64).filter(|n| n.is_finite());
    let bars: Vec<TraceBar> = events
        .iter()
        .filter(|e| e.get("ph").and_then(Value::as_str) == Some("X"))
        .filter_map(|e| {
            let (start_us, dur_us) = (number(e, "ts")?, number(e, "dur")?);
            (dur_us >= 0.0).then(|| TraceBar {
                name: e
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("(unnamed)")
                    .chars()
                    .take(MAX_NAME_CHARS)
                    .collect(),
                lane: e.get("tid").and_then(Value::as_u64).unwrap_or(0),
                start_us,
                dur_us,
                failed: e.pointer("/args/status").and_then(Value::as_str) == Some("error"),
            })
        })
        .take(MAX_TRACE_EVENTS)
        .collect();
    if bars.is_empty() {
        return Err(TraceImportError::Empty);
    }
    Ok(bars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::span::{chrome_trace, names, OpenSpan, SpanKind, SpanStatus};

    #[test]
    fn the_window_zooms_around_its_middle_and_stays_inside() {
        assert_eq!(zoom((0.0, 1.0), 0.5), (0.25, 0.75));
        assert_eq!(zoom((0.25, 0.75), 4.0), (0.0, 1.0));
        assert_eq!(pan((0.25, 0.75), 0.5), (0.5, 1.0));
        assert_eq!(pan((0.25, 0.75), -1.0), (0.0, 0.5));
        let tiny = (0..20).fold((0.0, 1.0), |w, _| zoom(w, 0.5));
        assert!((tiny.1 - tiny.0 - MIN_WINDOW).abs() < 1e-12);
    }

    #[test]
    fn our_own_export_reads_back() {
        let t0 = 1_700_000_000_000_000_000u64;
        let root = OpenSpan::root(names::ASK, SpanKind::Internal, (1, 2), 3, t0);
        let mut child = root.child(names::PROVIDER_REQUEST, SpanKind::Client, 4, t0 + 1_000_000);
        child.set_status(SpanStatus::Error {
            message: "503".into(),
        });
        let spans = [child.finish(t0 + 3_000_000), root.finish(t0 + 5_000_000)];
        let file = chrome_trace(&spans).to_string();
        let bars = parse(&file).unwrap();
        let read: Vec<(&str, f64, f64, bool)> = bars
            .iter()
            .map(|b| (b.name.as_str(), b.start_us, b.dur_us, b.failed))
            .collect();
        assert_eq!(
            read,
            [
                ("ask", 0.0, 5000.0, false),
                ("provider.request", 1000.0, 2000.0, true)
            ]
        );
    }

    #[test]
    fn anything_else_is_refused_precisely() {
        assert!(matches!(parse("{"), Err(TraceImportError::NotJson(_))));
        assert_eq!(parse("{}"), Err(TraceImportError::NoEvents));
        assert_eq!(parse("42"), Err(TraceImportError::NoEvents));
        assert_eq!(
            parse(r#"{"traceEvents": [{"ph": "M"}]}"#),
            Err(TraceImportError::Empty)
        );
        assert_eq!(
            parse(r#"[{"ph": "X", "ts": 1, "dur": -1}, {"ph": "X", "ts": "a", "dur": 1}]"#),
            Err(TraceImportError::Empty)
        );
        let huge = " ".repeat(MAX_TRACE_BYTES + 1);
        assert_eq!(
            parse(&huge),
            Err(TraceImportError::TooLarge(MAX_TRACE_BYTES + 1))
        );
        let long = format!(
            r#"[{{"ph": "X", "ts": 1, "dur": 1, "name": "{}"}}]"#,
            "n".repeat(500)
        );
        assert_eq!(parse(&long).unwrap()[0].name.chars().count(), 200);
    }
}
