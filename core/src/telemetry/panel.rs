//! The devtools panel's telemetry protocol: a [`PanelQuery`] and the
//! [`PanelAnswer`] that [`Engine::query`](super::Engine::query) gives for
//! it — metric snapshots with their time series, recent events, errors
//! grouped by fingerprint (count, first and last seen), health, spans by
//! time range (or as Chrome trace JSON), funnels and the export queue.
//!
//! Both are serde enums that encode with JSON and postcard alike, for the
//! typed protocol between the panel and the background.
//!
//! ```
//! use paperclip_core::telemetry::panel::{PanelAnswer, PanelQuery};
//! use paperclip_core::telemetry::{Engine, EngineConfig};
//!
//! let engine = Engine::new(EngineConfig::default(), 0.0)?;
//! let query = PanelQuery::Errors { limit: 50 };
//! let bytes = postcard::to_allocvec(&query)?;
//! let PanelAnswer::Errors(groups) = engine.query(&postcard::from_bytes(&bytes)?) else { unreachable!() };
//! assert!(groups.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

use super::errors::ErrorGroup;
use super::events::Event;
use super::funnel::FunnelReport;
use super::health::HealthSnapshot;
use super::metrics::InstrumentSnapshot;
use super::span::{Span, TraceId};

/// What the panel asks.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum PanelQuery {
    /// Every instrument: current values per label set and time series.
    Metrics,
    /// Events in a time range, newest first.
    Events {
        /// From, ms.
        from_ms: f64,
        /// To, ms.
        to_ms: f64,
        /// Only events of this name.
        name: Option<String>,
        /// At most this many.
        limit: u32,
    },
    /// Error groups, most recently seen first.
    Errors {
        /// At most this many.
        limit: u32,
    },
    /// Component health and the overall status.
    Health,
    /// Spans overlapping a time range, by start.
    Spans {
        /// From, ns.
        from_ns: u64,
        /// To, ns.
        to_ns: u64,
        /// At most this many.
        limit: u32,
    },
    /// The spans of one trace.
    Trace {
        /// The trace.
        trace_id: TraceId,
    },
    /// Spans overlapping a time range as Chrome trace-event JSON (to save
    /// and open in Perfetto).
    ChromeTrace {
        /// From, ns.
        from_ns: u64,
        /// To, ns.
        to_ns: u64,
    },
    /// Funnel counts and conversions.
    Funnels,
    /// The export queue's state.
    Export,
}

/// The export pipeline's state.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExportStatus {
    /// Whether remote export is on.
    pub enabled: bool,
    /// Batches waiting (offline queue).
    pub queued_batches: u32,
    /// Their body bytes.
    pub queued_bytes: u64,
    /// Items waiting to be batched (events, errors, spans).
    pub buffered_items: u32,
    /// The next collection of metrics, ms.
    pub next_collect_ms: f64,
}

/// The answer to a [`PanelQuery`] of the same name.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum PanelAnswer {
    /// For [`PanelQuery::Metrics`].
    Metrics(Vec<InstrumentSnapshot>),
    /// For [`PanelQuery::Events`].
    Events(Vec<Event>),
    /// For [`PanelQuery::Errors`].
    Errors(Vec<ErrorGroup>),
    /// For [`PanelQuery::Health`].
    Health(HealthSnapshot),
    /// For [`PanelQuery::Spans`] and [`PanelQuery::Trace`].
    Spans(Vec<Span>),
    /// For [`PanelQuery::ChromeTrace`]: the JSON text.
    ChromeTrace(String),
    /// For [`PanelQuery::Funnels`].
    Funnels(Vec<FunnelReport>),
    /// For [`PanelQuery::Export`].
    Export(ExportStatus),
}
