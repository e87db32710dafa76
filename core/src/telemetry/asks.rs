//! The devtools panel's request log: one [`AskRow`] per question, read from
//! the spans of its trace (the `ask` root and its children: reading the
//! page, the cache lookup, each provider attempt), so that the log needs no
//! store of its own and shows what the request really did.
//!
//! ```
//! use paperclip_core::telemetry::asks::asks;
//! assert!(asks(&[], 10).is_empty());
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::span::{names, Span, SpanStatus, TraceId};
use super::AttrValue;

/// One provider attempt of an ask.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AttemptRow {
    /// The provider's kind (`openai_compatible`, ...).
    pub provider: String,
    /// `ok`, or the failure (`http_4xx`, `timeout`, ...).
    pub outcome: String,
    /// When it started, ms after the ask started.
    pub at_ms: f64,
    /// How long it took, ms.
    pub ms: f64,
    /// Time to the response's headers, ms after the attempt started.
    pub ttfb_ms: Option<f64>,
    /// Time to the first text, ms after the attempt started.
    pub first_token_ms: Option<f64>,
}

/// One step of the path an ask took, in time order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum PathStep {
    /// A provider attempt.
    Attempt(AttemptRow),
    /// A wait: `queue` (the provider's concurrent requests), `rate` (the
    /// user's rate limit) or `retry` (the backoff before a retry).
    Wait {
        /// Which wait.
        kind: String,
        /// Why (for a retry: how the last attempt failed).
        reason: Option<String>,
        /// How long, ms.
        ms: f64,
    },
    /// A circuit-breaker decision (`probe`, `rejected`, `opened`,
    /// `half_open`, `closed`).
    Breaker {
        /// The decision.
        decision: String,
    },
}

/// One ask, as its spans tell it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AskRow {
    /// Its trace.
    pub trace_id: TraceId,
    /// When it started, ms since the epoch.
    pub start_ms: f64,
    /// How long it took, ms (question to the answer stored).
    pub ms: f64,
    /// `typed`, or the quick action.
    pub action: String,
    /// The site's origin (absent in a private window).
    pub site: Option<String>,
    /// Where the answer came from (`normal`, `fallback`, `cached`,
    /// `offline`).
    pub level: String,
    /// Reading the page, ms.
    pub context_ms: Option<f64>,
    /// Whether a cached answer was looked up, and found.
    pub cache_hit: Option<bool>,
    /// The provider attempts in order.
    pub attempts: Vec<AttemptRow>,
    /// Attempts, waits and breaker decisions, in order.
    pub steps: Vec<PathStep>,
    /// Time spent waiting in queues and for the rate limit, ms.
    pub queue_ms: Option<f64>,
    /// Time to the first byte of the attempt that answered, ms after the
    /// ask started.
    pub ttfb_ms: Option<f64>,
    /// Time to the first text of the attempt that answered, ms after the
    /// ask started.
    pub first_token_ms: Option<f64>,
    /// Tokens sent, as the provider counted them.
    pub tokens_in: Option<u64>,
    /// Tokens received.
    pub tokens_out: Option<u64>,
    /// What it cost, US dollars (from the user's price table).
    pub cost_usd: Option<f64>,
    /// `ok`, or why it failed.
    pub outcome: String,
}

fn text(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.to_string())
}

fn number(span: &Span, key: &str) -> Option<f64> {
    span.attributes
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            AttrValue::Int(n) => Some(*n as f64),
            AttrValue::Float(f) => Some(*f),
            _ => None,
        })
}

/// The sum of `key` over `spans`, if any has it.
fn total(spans: &[&Span], key: &str) -> Option<f64> {
    spans
        .iter()
        .filter_map(|s| number(s, key))
        .fold(None, |sum, v| Some(sum.unwrap_or(0.0) + v))
}

const ATTEMPTS: [&str; 2] = [names::PROVIDER_REQUEST, names::PROVIDER_ATTEMPT];

/// The step a child span is, if it is one.
fn step(s: &Span, root: &Span) -> Option<PathStep> {
    let wait = |kind: &str| PathStep::Wait {
        kind: kind.into(),
        reason: text(s, "reason"),
        ms: ms(s.duration_ns()),
    };
    match s.name.as_str() {
        n if ATTEMPTS.contains(&n) => Some(PathStep::Attempt(AttemptRow {
            provider: text(s, "provider.kind").unwrap_or_default(),
            outcome: text(s, "outcome")?,
            at_ms: ms(s.start_ns.saturating_sub(root.start_ns)),
            ms: ms(s.duration_ns()),
            ttfb_ms: number(s, "ttfb_ms"),
            first_token_ms: number(s, "first_text_ms"),
        })),
        names::PROVIDER_QUEUE => Some(wait("queue")),
        names::RATE_WAIT => Some(wait("rate")),
        names::RETRY_WAIT => Some(wait("retry")),
        names::BREAKER => Some(PathStep::Breaker {
            decision: text(s, "decision")?,
        }),
        _ => None,
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The asks among `spans` (any order), newest first, at most `limit`.
/// Children whose root is not among them are left out.
pub fn asks(spans: &[Span], limit: usize) -> Vec<AskRow> {
    let mut children: HashMap<TraceId, Vec<&Span>> = HashMap::new();
    for s in spans.iter().filter(|s| s.parent_span_id.is_some()) {
        children.entry(s.trace_id).or_default().push(s);
    }
    let mut roots: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none() && s.name == names::ASK)
        .collect();
    roots.sort_by_key(|s| std::cmp::Reverse(s.start_ns));
    roots
        .into_iter()
        .take(limit)
        .map(|root| {
            let mut kids = children.remove(&root.trace_id).unwrap_or_default();
            kids.sort_by_key(|s| s.start_ns);
            let find = |name: &str| kids.iter().find(|s| s.name == name);
            let steps: Vec<PathStep> = kids.iter().filter_map(|s| step(s, root)).collect();
            let attempts: Vec<AttemptRow> = steps
                .iter()
                .filter_map(|s| match s {
                    PathStep::Attempt(a) => Some(a.clone()),
                    _ => None,
                })
                .collect();
            let answered = attempts.iter().rev().find(|a| a.outcome == "ok");
            let waits: Vec<f64> = steps
                .iter()
                .filter_map(|s| match s {
                    PathStep::Wait { kind, ms, .. } if kind != "retry" => Some(*ms),
                    _ => None,
                })
                .collect();
            let calls: Vec<&Span> = kids
                .iter()
                .copied()
                .filter(|s| s.name == names::PROVIDER_CALL)
                .collect();
            AskRow {
                trace_id: root.trace_id,
                start_ms: ms(root.start_ns),
                ms: ms(root.duration_ns()),
                action: text(root, "action").unwrap_or_else(|| "typed".into()),
                site: text(root, "site"),
                level: text(root, "level").unwrap_or_else(|| "normal".into()),
                context_ms: find(names::CONTEXT_GATHER).map(|s| ms(s.duration_ns())),
                cache_hit: find(names::CACHE_LOOKUP).and_then(|s| {
                    s.attributes
                        .iter()
                        .find(|(k, _)| k == "hit")
                        .map(|(_, v)| *v == AttrValue::Bool(true))
                }),
                queue_ms: (!waits.is_empty()).then(|| waits.iter().sum()),
                ttfb_ms: answered.and_then(|a| Some(a.at_ms + a.ttfb_ms?)),
                first_token_ms: answered.and_then(|a| Some(a.at_ms + a.first_token_ms?)),
                tokens_in: total(&calls, "tokens.in").map(|n| n as u64),
                tokens_out: total(&calls, "tokens.out").map(|n| n as u64),
                cost_usd: total(&calls, "cost_usd"),
                attempts,
                steps,
                outcome: match &root.status {
                    SpanStatus::Error { message } => message.clone(),
                    _ => "ok".into(),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::span::{OpenSpan, SpanKind};

    fn end(mut s: OpenSpan, at_ns: u64, attrs: &[(&str, AttrValue)], failed: Option<&str>) -> Span {
        for (k, v) in attrs {
            s.set_attribute(k, v.clone());
        }
        if let Some(message) = failed {
            s.set_status(SpanStatus::Error {
                message: message.into(),
            });
        }
        s.finish(at_ns)
    }

    #[test]
    fn an_ask_is_read_from_its_spans() {
        let t0 = 1_700_000_000_000_000_000u64;
        let root = OpenSpan::root(names::ASK, SpanKind::Internal, (1, 2), 3, t0);
        let gather = root.child(names::CONTEXT_GATHER, SpanKind::Internal, 4, t0 + 1_000_000);
        let lookup = root.child(names::CACHE_LOOKUP, SpanKind::Internal, 5, t0 + 3_000_000);
        let first = root.child(names::PROVIDER_ATTEMPT, SpanKind::Client, 6, t0 + 4_000_000);
        let second = root.child(
            names::PROVIDER_ATTEMPT,
            SpanKind::Client,
            7,
            t0 + 20_000_000,
        );
        let other = OpenSpan::root(
            names::ASK,
            SpanKind::Internal,
            (8, 9),
            10,
            t0 - 1_000_000_000,
        );
        let spans = vec![
            end(
                second,
                t0 + 50_000_000,
                &[
                    ("provider.kind", "openai_compatible".into()),
                    ("outcome", "ok".into()),
                ],
                None,
            ),
            end(gather, t0 + 3_000_000, &[], None),
            end(
                first,
                t0 + 10_000_000,
                &[
                    ("provider.kind", "openai_compatible".into()),
                    ("outcome", "http_5xx".into()),
                ],
                Some("503"),
            ),
            end(
                lookup,
                t0 + 3_500_000,
                &[("hit", AttrValue::Bool(false))],
                None,
            ),
            end(
                root,
                t0 + 60_000_000,
                &[
                    ("action", "summarize".into()),
                    ("level", "normal".into()),
                    ("site", "https://a.example".into()),
                ],
                None,
            ),
            end(
                other,
                t0 - 900_000_000,
                &[],
                Some("the page did not answer"),
            ),
        ];
        let rows = asks(&spans, 10);
        assert_eq!(rows.len(), 2);
        let a = &rows[0];
        assert_eq!(
            (a.action.as_str(), a.level.as_str(), a.outcome.as_str()),
            ("summarize", "normal", "ok")
        );
        assert_eq!(a.site.as_deref(), Some("https://a.example"));
        assert_eq!(
            (a.ms, a.context_ms, a.cache_hit),
            (60.0, Some(2.0), Some(false))
        );
        let attempts: Vec<(&str, f64, f64)> = a
            .attempts
            .iter()
            .map(|t| (t.outcome.as_str(), t.at_ms, t.ms))
            .collect();
        assert_eq!(attempts, [("http_5xx", 4.0, 6.0), ("ok", 20.0, 30.0)]);
        assert_eq!(rows[1].outcome, "the page did not answer");
        assert_eq!(
            (rows[1].site.clone(), rows[1].action.as_str()),
            (None, "typed")
        );
        assert_eq!(asks(&spans, 1).len(), 1);
    }

    #[test]
    fn waits_breaker_decisions_first_token_tokens_and_cost_are_read() {
        let t0 = 1_700_000_000_000_000_000u64;
        let ms = 1_000_000u64;
        let root = OpenSpan::root(names::ASK, SpanKind::Internal, (1, 2), 3, t0);
        let call = root.child(names::PROVIDER_CALL, SpanKind::Client, 4, t0 + ms);
        let queue = root.child(names::PROVIDER_QUEUE, SpanKind::Internal, 5, t0 + ms);
        let first = root.child(names::PROVIDER_REQUEST, SpanKind::Client, 6, t0 + 11 * ms);
        let retry = root.child(names::RETRY_WAIT, SpanKind::Internal, 7, t0 + 20 * ms);
        let probe = root.child(names::BREAKER, SpanKind::Internal, 8, t0 + 120 * ms);
        let second = root.child(names::PROVIDER_REQUEST, SpanKind::Client, 9, t0 + 121 * ms);
        let spans = vec![
            end(root, t0 + 200 * ms, &[], None),
            end(
                call,
                t0 + 190 * ms,
                &[
                    ("tokens.in", AttrValue::Int(120)),
                    ("tokens.out", AttrValue::Int(30)),
                    ("cost_usd", AttrValue::Float(0.0021)),
                ],
                None,
            ),
            end(queue, t0 + 11 * ms, &[], None),
            end(
                first,
                t0 + 20 * ms,
                &[
                    ("outcome", "http_5xx".into()),
                    ("ttfb_ms", AttrValue::Float(8.0)),
                ],
                Some("503"),
            ),
            end(retry, t0 + 120 * ms, &[("reason", "http_5xx".into())], None),
            end(probe, t0 + 120 * ms, &[("decision", "probe".into())], None),
            end(
                second,
                t0 + 190 * ms,
                &[
                    ("outcome", "ok".into()),
                    ("ttfb_ms", AttrValue::Float(9.0)),
                    ("first_text_ms", AttrValue::Float(15.0)),
                ],
                None,
            ),
        ];
        let a = &asks(&spans, 1)[0];
        let kinds: Vec<String> = a
            .steps
            .iter()
            .map(|s| match s {
                PathStep::Attempt(t) => format!("attempt {}", t.outcome),
                PathStep::Wait { kind, reason, ms } => format!("{kind} {reason:?} {ms}"),
                PathStep::Breaker { decision } => format!("breaker {decision}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "queue None 10",
                "attempt http_5xx",
                "retry Some(\"http_5xx\") 100",
                "breaker probe",
                "attempt ok"
            ]
        );
        assert_eq!(a.attempts.len(), 2, "the call span is no attempt");
        assert_eq!(a.queue_ms, Some(10.0));
        assert_eq!((a.ttfb_ms, a.first_token_ms), (Some(130.0), Some(136.0)));
        assert_eq!((a.tokens_in, a.tokens_out), (Some(120), Some(30)));
        assert_eq!(a.cost_usd, Some(0.0021));
    }
}
