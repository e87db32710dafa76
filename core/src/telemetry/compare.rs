//! Comparing two traces (two asks) span by span, for the devtools panel's
//! comparison: spans are matched by name and by their order among spans
//! of that name (the second `provider.request` of one with the second of
//! the other), each with both durations and the difference.
//!
//! ```
//! use paperclip_core::telemetry::compare::compare;
//! assert!(compare(&[], &[]).is_empty());
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::span::Span;

/// One span of either trace, with its counterpart.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SpanDelta {
    /// The span's name.
    pub name: String,
    /// Which of the spans of that name (0 for the first).
    pub occurrence: usize,
    /// Its duration in the first trace, ms (`None`: it has no such span).
    pub a_ms: Option<f64>,
    /// Its duration in the second trace, ms.
    pub b_ms: Option<f64>,
}

impl SpanDelta {
    /// The second minus the first, ms, where both have it.
    pub fn delta_ms(&self) -> Option<f64> {
        Some(self.b_ms? - self.a_ms?)
    }
}

fn durations(spans: &[Span]) -> Vec<(String, usize, f64)> {
    let mut sorted: Vec<&Span> = spans.iter().collect();
    sorted.sort_by_key(|s| (s.start_ns, std::cmp::Reverse(s.end_ns)));
    let mut seen: HashMap<&str, usize> = HashMap::new();
    sorted
        .into_iter()
        .map(|s| {
            let n = seen.entry(s.name.as_str()).or_default();
            let occurrence = *n;
            *n += 1;
            (s.name.clone(), occurrence, s.duration_ns() as f64 / 1e6)
        })
        .collect()
}

/// The spans of `a` and `b` matched by name and occurrence: first those of
/// `a` in their order (with their counterpart in `b`, if any), then those
/// only `b` has.
pub fn compare(a: &[Span], b: &[Span]) -> Vec<SpanDelta> {
    let mut others: HashMap<(String, usize), f64> = durations(b)
        .into_iter()
        .map(|(name, i, ms)| ((name, i), ms))
        .collect();
    let mut out: Vec<SpanDelta> = durations(a)
        .into_iter()
        .map(|(name, occurrence, ms)| SpanDelta {
            b_ms: others.remove(&(name.clone(), occurrence)),
            name,
            occurrence,
            a_ms: Some(ms),
        })
        .collect();
    for (name, occurrence, ms) in durations(b) {
        if others.contains_key(&(name.clone(), occurrence)) {
            out.push(SpanDelta {
                name,
                occurrence,
                a_ms: None,
                b_ms: Some(ms),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::span::{names, OpenSpan, SpanKind};

    fn trace(id: u64, requests: &[u64]) -> Vec<Span> {
        let ms = 1_000_000u64;
        let root = OpenSpan::root(names::ASK, SpanKind::Internal, (id, id), 1, 0);
        let mut out = Vec::new();
        let mut at = 0;
        for (i, d) in requests.iter().enumerate() {
            let r = root.child(names::PROVIDER_REQUEST, SpanKind::Client, 10 + i as u64, at);
            at += d * ms;
            out.push(r.finish(at));
        }
        out.push(root.finish(at + ms));
        out
    }

    #[test]
    fn spans_are_matched_by_name_and_order() {
        let a = trace(1, &[10, 30]);
        let b = trace(2, &[15]);
        let d = compare(&a, &b);
        type Row<'a> = (&'a str, usize, Option<f64>, Option<f64>, Option<f64>);
        let rows: Vec<Row> = d
            .iter()
            .map(|s| (s.name.as_str(), s.occurrence, s.a_ms, s.b_ms, s.delta_ms()))
            .collect();
        assert_eq!(
            rows,
            [
                ("ask", 0, Some(41.0), Some(16.0), Some(-25.0)),
                ("provider.request", 0, Some(10.0), Some(15.0), Some(5.0)),
                ("provider.request", 1, Some(30.0), None, None),
            ]
        );
        // The other way round, the one only `a` had comes last.
        let back = compare(&b, &a);
        assert_eq!(back.last().unwrap().a_ms, None);
        assert_eq!(back.last().unwrap().b_ms, Some(30.0));
        assert_eq!(back.len(), 3);
    }
}
