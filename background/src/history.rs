//! The devtools panel's questions over any time range: the telemetry
//! engine's answer (what this worker instance saw) merged with the rows an
//! earlier instance stored, so that spans, asks, traces and events survive
//! the worker stopping (`core::telemetry::persist::{merge_spans,
//! merge_events}`). Other questions go to the engine as they are. It also
//! makes the session bundle ([`bundle`]).

use paperclip_core::protocol::ProtocolError;
use paperclip_core::telemetry::asks::asks;
use paperclip_core::telemetry::bundle::{settings_of, Environment, SessionBundle, MAX_ITEMS};
use paperclip_core::telemetry::panel::{PanelAnswer, PanelQuery};
use paperclip_core::telemetry::persist::RETENTION_MS;
use paperclip_core::telemetry::persist::{merge_events, merge_spans, spans_of};
use paperclip_core::telemetry::span::chrome_trace;

use crate::store::Store;
use crate::telemetry;

/// The most spans or events one answer holds.
pub const MAX_ANSWER: u32 = 10_000;
/// How long a stored span may have lasted before the range it overlaps
/// (rows are timed at their end), ms.
const LONGEST_SPAN_MS: f64 = 600_000.0;

/// The engine answered another question than the one asked.
fn another_answer() -> ProtocolError {
    ProtocolError::failed("the engine answered another question")
}

/// The spans overlapping `[from_ns, to_ns]`, live and stored.
async fn spans(
    store: &Store,
    from_ns: u64,
    to_ns: u64,
    limit: u32,
) -> Result<Vec<paperclip_core::telemetry::span::Span>, ProtocolError> {
    let limit = limit.min(MAX_ANSWER);
    let range = PanelQuery::Spans {
        from_ns,
        to_ns,
        limit,
    };
    let PanelAnswer::Spans(live) = telemetry::query(&range)? else {
        return Err(another_answer());
    };
    let (from_ms, to_ms) = (from_ns as f64 / 1e6, to_ns as f64 / 1e6);
    let rows = store
        .telemetry_between("span", from_ms, to_ms + LONGEST_SPAN_MS, MAX_ANSWER)
        .await
        .unwrap_or_default();
    Ok(merge_spans(
        live,
        spans_of(&rows),
        from_ns,
        to_ns,
        limit as usize,
    ))
}

/// Answers the panel: spans, Chrome traces and events from the engine and
/// the store together; the rest from the engine.
pub async fn query(store: &Store, query: &PanelQuery) -> Result<PanelAnswer, ProtocolError> {
    match query {
        PanelQuery::Spans {
            from_ns,
            to_ns,
            limit,
        } => Ok(PanelAnswer::Spans(
            spans(store, *from_ns, *to_ns, *limit).await?,
        )),
        PanelQuery::ChromeTrace { from_ns, to_ns } => {
            let all = spans(store, *from_ns, *to_ns, MAX_ANSWER).await?;
            Ok(PanelAnswer::ChromeTrace(chrome_trace(&all).to_string()))
        }
        PanelQuery::Events {
            from_ms,
            to_ms,
            name,
            limit,
        } => {
            let limit = (*limit).min(MAX_ANSWER);
            let PanelAnswer::Events(live) = telemetry::query(&PanelQuery::Events {
                from_ms: *from_ms,
                to_ms: *to_ms,
                name: name.clone(),
                limit,
            })?
            else {
                return Err(another_answer());
            };
            let mut rows = store
                .telemetry_between("event", *from_ms, *to_ms, limit)
                .await
                .unwrap_or_default();
            rows.retain(|r| name.as_ref().is_none_or(|n| *n == r.name));
            Ok(PanelAnswer::Events(merge_events(
                live,
                &rows,
                limit as usize,
            )))
        }
        other => telemetry::query(other),
    }
}

/// The session bundle of the last `range_ms` (at most seven days): the
/// asks and spans of the range, live and stored; the engine's error
/// groups, metrics and health; and the environment, settings without any
/// site list (`core::telemetry::bundle`).
pub async fn bundle(store: &Store, range_ms: f64) -> Result<SessionBundle, ProtocolError> {
    if !(range_ms.is_finite() && range_ms > 0.0) {
        return Err(ProtocolError::new(
            paperclip_core::protocol::ErrorKind::Malformed,
            "range_ms must be a positive number",
        ));
    }
    let now = paperclip_platform::clock::now_ms();
    let from_ms = now - range_ms.min(RETENTION_MS);
    let spans = spans(
        store,
        (from_ms * 1e6) as u64,
        ((now + 1_000.0) * 1e6) as u64,
        MAX_ANSWER,
    )
    .await?;
    let engine = |q: PanelQuery| telemetry::query(&q);
    let PanelAnswer::Errors(errors) = engine(PanelQuery::Errors { limit: 5_000 })? else {
        return Err(another_answer());
    };
    let PanelAnswer::Metrics(metrics) = engine(PanelQuery::Metrics)? else {
        return Err(another_answer());
    };
    let health = match engine(PanelQuery::Health)? {
        PanelAnswer::Health(h) => Some(h),
        _ => None,
    };
    Ok(SessionBundle {
        from_ms,
        environment: Environment {
            extension_version: paperclip_platform::version(),
            browser: paperclip_platform::browser(),
            settings: settings_of(&store.preferences()),
        },
        asks: asks(&spans, MAX_ITEMS),
        errors,
        metrics,
        spans,
        health,
        ..SessionBundle::empty(now)
    })
}
