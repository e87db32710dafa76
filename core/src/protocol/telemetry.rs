//! The telemetry channel: the live port's [`TelemetryUpdate`], a page's
//! batches ([`RecordTelemetry`]), the panel's queries and the export
//! settings.

use serde::{Deserialize, Serialize};

use super::Tagged;

/// The devtools panel's live telemetry port: the background pushes a
/// [`TelemetryUpdate`] at most once a second while it is open.
pub const TELEMETRY_PORT: &str = "paperclip-telemetry";

tagged! {
    /// What the live telemetry port pushes.
    pub enum TelemetryUpdate {
        /// The engine's state now.
        Update {
            /// When, ms.
            time_ms: f64,
            /// Answers to `PanelQuery::Metrics`, `Health`, `Errors` (the 50
            /// latest groups), `Spans` (the last ten minutes, 300 at most)
            /// and `Export`, in that order.
            answers: Vec<crate::telemetry::panel::PanelAnswer>,
        },
    }
}

/// Most records in one [`RecordTelemetry`] (the rest are counted as dropped).
pub const MAX_TELEMETRY_BATCH: usize = 500;

/// One telemetry record made in a page. Names and labels are bounded and
/// scrubbed by the background (no page text, URLs or keys get through).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum PageRecord {
    /// Add `value` to counter `name`.
    Count {
        /// Instrument name.
        name: String,
        /// Labels.
        #[serde(default)]
        labels: Vec<(String, String)>,
        /// How much.
        value: u64,
    },
    /// Record a duration in histogram `name`.
    Timing {
        /// Instrument name.
        name: String,
        /// Labels.
        #[serde(default)]
        labels: Vec<(String, String)>,
        /// Milliseconds.
        ms: f64,
    },
    /// An event.
    Event {
        /// Event name.
        name: String,
        /// Properties.
        #[serde(default)]
        properties: Vec<(String, String)>,
    },
    /// An error (a panic, a failed call).
    Error {
        /// The message.
        message: String,
        /// Its kind (`panic`, `TypeError`, ...).
        kind: String,
        /// The stack, if any.
        #[serde(default)]
        stack: Option<String>,
    },
}

/// A batch of telemetry records from one page.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RecordTelemetry {
    /// The reporting page: `agent`, `popup`, `options` or `devtools`.
    pub source: String,
    /// The records, oldest first.
    pub records: Vec<PageRecord>,
    /// Records the page dropped before sending (its buffer was full).
    #[serde(default)]
    pub dropped: u32,
}

/// What became of a [`RecordTelemetry`] batch.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TelemetryRecorded {
    /// Records taken in.
    pub accepted: u32,
    /// Records refused (bad names, over the batch limit), counted in
    /// `telemetry.dropped`.
    pub dropped: u32,
}

/// The devtools panel asks the telemetry engine.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct QueryTelemetry {
    /// The question.
    pub query: crate::telemetry::panel::PanelQuery,
}

/// The telemetry engine's answer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TelemetryAnswer {
    /// The answer.
    pub answer: crate::telemetry::panel::PanelAnswer,
}

/// Asks for [`TelemetryExport`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetTelemetryExport {}

/// Asks to collect and export now.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct FlushTelemetry {}

/// The export state after [`FlushTelemetry`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TelemetryFlushed {
    /// The export settings and what still waits.
    pub export: TelemetryExport,
}

/// Where telemetry goes. Export happens only while the
/// `privacy.telemetry_remote` preference is on.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct SetTelemetryExport {
    /// An OpenTelemetry collector's base URL (`/v1/metrics`, `/v1/logs`
    /// and `/v1/traces` are posted to it); `None` turns export off.
    #[serde(default)]
    pub otlp_url: Option<String>,
    /// A custom endpoint that takes Paperclip's own JSON document
    /// (`paperclip_core::telemetry::persist::JsonDocument`), posted to the URL
    /// as given; `None` turns it off.
    #[serde(default)]
    pub json_url: Option<String>,
    /// Whether the worker's console logs each row (for development; local
    /// only, so it does not wait for the opt-in).
    #[serde(default)]
    pub console: bool,
}

/// The export settings after [`SetTelemetryExport`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TelemetryExportSaved {
    /// What is in force now.
    pub export: TelemetryExport,
}

/// The export settings and the state of the offline queue.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct TelemetryExport {
    /// The collector's base URL.
    pub otlp_url: Option<String>,
    /// The custom JSON endpoint.
    #[serde(default)]
    pub json_url: Option<String>,
    /// Whether the console exporter is on.
    #[serde(default)]
    pub console: bool,
    /// Whether the user opted in (`privacy.telemetry_remote`).
    pub enabled: bool,
    /// Batches waiting in the offline queue.
    pub queued: u32,
}
