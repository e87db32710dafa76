//! The telemetry channel: the live port's [`TelemetryUpdate`], a page's
//! batches ([`RecordTelemetry`]), the panel's queries and the export
//! settings.

use serde::{Deserialize, Serialize};

use super::Tagged;

// Page batches belong to the telemetry engine that takes them in; they are
// re-exported here so `paperclip_core::protocol::RecordTelemetry` (and the
// others) keep their paths.
pub use crate::telemetry::pages::{
    PageRecord, RecordTelemetry, TelemetryRecorded, MAX_TELEMETRY_BATCH,
};

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

/// Asks for a [`SessionBundleMade`]: the session bundle of the last
/// `range_ms` (the panel's "Export session bundle").
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct GetSessionBundle {
    /// How far back, ms (at most seven days: what the store keeps).
    pub range_ms: f64,
}

/// The session bundle, as the JSON text of a
/// [`crate::telemetry::bundle::SessionBundle`], to save.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SessionBundleMade {
    /// The file name to save it under.
    pub filename: String,
    /// The bundle.
    pub json: String,
}

/// Asks for [`ErrorTriage`]: the groups resolved or muted in the panel.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetErrorTriage {}

/// The decisions about error groups.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ErrorTriage {
    /// Each decided group's decision.
    pub book: crate::telemetry::triage::TriageBook,
}

/// Resolves, mutes or (with `triage: None`) reopens one error group.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SetErrorTriage {
    /// The group.
    pub fingerprint: crate::telemetry::errors::Fingerprint,
    /// The decision.
    pub triage: Option<crate::telemetry::triage::Triage>,
}

/// The decisions after [`SetErrorTriage`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ErrorTriageSet {
    /// Each decided group's decision.
    pub book: crate::telemetry::triage::TriageBook,
}
