//! The one typed protocol between Paperclip's contexts.
//!
//! Every message travels as JSON in an [`Envelope`] carrying the protocol
//! version. There are three channels, each with one enum per direction:
//!
//! * one-shot calls from the extension's pages (popup, options, devtools
//!   panel, agent) to the background: [`Request`] → [`Reply`]`<`[`Response`]`>`,
//!   each request type paired with its response type through [`Rpc`];
//! * the agent's long-lived port (name [`AGENT_PORT`]): [`AgentToBg`] and
//!   [`BgToAgent`];
//! * background → content script of a tab: [`ToContent`], answered with a
//!   [`Reply`] (a [`PageRead`](crate::page::PageRead) for [`ToContent::GetPageContext`]).
//!
//! Decoding never panics: malformed JSON, a wrong version, an unknown type or
//! a wrong field each give a [`ProtocolError`] with a precise message.
//!
//! ```
//! use paperclip_core::protocol::{self, Ping, Pong, Rpc, Reply, Response};
//!
//! // The background answers a Ping with a Pong...
//! let wire = protocol::encode(&Reply::Ok(Response::from(Pong { version: "0.1.0".into(), protocol: 1, started_ms: 0.0, ready_ms: 0.0 })));
//! // ...and the caller gets the paired type back.
//! let pong: Pong = Ping::read_reply(&wire).unwrap();
//! assert_eq!(pong.protocol, 1);
//! ```

use std::fmt;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::conversation::{Conversation, ConversationSummary, Message, MessageStatus};

fn complete() -> MessageStatus {
    MessageStatus::Complete
}

/// Version of the wire protocol; a message with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Name of the runtime port the agent opens to the background.
pub const AGENT_PORT: &str = "agent";

/// Largest message accepted, in bytes of JSON: room for an import file of
/// [`crate::export::MAX_IMPORT_BYTES`] as a JSON string.
pub const MAX_MESSAGE_BYTES: usize = 48 * 1024 * 1024;

/// The wrapper of every message: `{"v": 1, "body": ...}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Envelope<T> {
    /// Protocol version, [`PROTOCOL_VERSION`] for this build.
    pub v: u32,
    /// The message itself.
    pub body: T,
}

/// The answer to a one-shot message: `{"ok": ...}` or `{"err": ...}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Reply<T> {
    /// The call succeeded.
    Ok(T),
    /// The call failed; nothing was changed unless the error says so.
    Err(ProtocolError),
}

impl<T> Reply<T> {
    /// Turns the reply into a `Result`.
    pub fn into_result(self) -> Result<T, ProtocolError> {
        match self {
            Reply::Ok(t) => Ok(t),
            Reply::Err(e) => Err(e),
        }
    }
}

impl<T> From<Result<T, ProtocolError>> for Reply<T> {
    fn from(r: Result<T, ProtocolError>) -> Self {
        match r {
            Ok(t) => Reply::Ok(t),
            Err(e) => Reply::Err(e),
        }
    }
}

/// What went wrong with a message.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The message is not valid JSON or does not have the expected shape.
    Malformed,
    /// The message was written for another protocol version.
    UnsupportedVersion,
    /// The message type is not one this channel knows.
    UnknownType,
    /// The message is larger than [`MAX_MESSAGE_BYTES`].
    TooLarge,
    /// The sender may not send this message.
    Forbidden,
    /// The background could not do what was asked (storage, tab gone, ...).
    Failed,
}

/// A protocol-level error, sent back to the caller as `{"err": ...}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// The class of error.
    pub kind: ErrorKind,
    /// A lowercase, human-readable description.
    pub message: String,
}

impl ProtocolError {
    /// Builds an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A [`ErrorKind::Failed`] error.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ProtocolError {}

/// A message enum whose JSON form is internally tagged by `"type"`, with the
/// list of type names it knows (to tell "unknown type" from "bad fields").
pub trait Tagged: Serialize + DeserializeOwned {
    /// Every `"type"` value of this enum.
    const TYPES: &'static [&'static str];
}

/// Serialises `body` in an [`Envelope`] of the current version.
pub fn encode<T: Serialize>(body: &T) -> String {
    serde_json::to_string(&Envelope {
        v: PROTOCOL_VERSION,
        body,
    })
    .expect("protocol types always serialise")
}

/// Parses an enveloped message, checking size, version and type.
///
/// A well-formed message of this version is read straight into `T`; any
/// other goes the slow way, through a JSON tree, to say precisely what is
/// wrong.
pub fn decode<T: Tagged>(json: &str) -> Result<T, ProtocolError> {
    if json.len() <= MAX_MESSAGE_BYTES {
        if let Ok(envelope) = serde_json::from_str::<Envelope<T>>(json) {
            if envelope.v == PROTOCOL_VERSION {
                return Ok(envelope.body);
            }
        }
    }
    let body = open_envelope(json)?;
    match body.get("type").and_then(|t| t.as_str()) {
        None => {
            return Err(ProtocolError::new(
                ErrorKind::Malformed,
                "body: missing string field `type`",
            ))
        }
        Some(t) if !T::TYPES.contains(&t) => {
            return Err(ProtocolError::new(
                ErrorKind::UnknownType,
                format!("unknown message type `{t}`"),
            ))
        }
        Some(_) => {}
    }
    serde_json::from_value(body)
        .map_err(|e| ProtocolError::new(ErrorKind::Malformed, format!("body: {e}")))
}

/// Parses an enveloped [`Reply`] carrying a `T`.
pub fn decode_reply<T: DeserializeOwned>(json: &str) -> Result<T, ProtocolError> {
    let body = open_envelope(json)?;
    let reply: Reply<T> = serde_json::from_value(body)
        .map_err(|e| ProtocolError::new(ErrorKind::Malformed, format!("reply: {e}")))?;
    reply.into_result()
}

fn open_envelope(json: &str) -> Result<serde_json::Value, ProtocolError> {
    if json.len() > MAX_MESSAGE_BYTES {
        return Err(ProtocolError::new(
            ErrorKind::TooLarge,
            format!(
                "message of {} bytes exceeds the limit of {MAX_MESSAGE_BYTES}",
                json.len()
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| ProtocolError::new(ErrorKind::Malformed, format!("not an envelope: {e}")))?;
    let serde_json::Value::Object(mut raw) = value else {
        return Err(ProtocolError::new(
            ErrorKind::Malformed,
            "not an envelope: expected a JSON object",
        ));
    };
    match raw.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(ProtocolError::new(
                ErrorKind::UnsupportedVersion,
                format!("protocol version {v} is not supported (expected {PROTOCOL_VERSION})"),
            ))
        }
        None => {
            return Err(ProtocolError::new(
                ErrorKind::Malformed,
                "envelope: missing numeric field `v`",
            ))
        }
    }
    raw.remove("body")
        .ok_or_else(|| ProtocolError::new(ErrorKind::Malformed, "envelope: missing field `body`"))
}

/// A one-shot request paired with its response type.
pub trait Rpc: Sized {
    /// What the background answers on success.
    type Response: DeserializeOwned;

    /// The response's `"type"` on the wire.
    const RESPONSE: &'static str;

    /// Wraps the request in the [`Request`] enum.
    fn into_request(self) -> Request;

    /// The request as wire JSON.
    fn to_wire(self) -> String {
        encode(&self.into_request())
    }

    /// Reads the background's wire reply to a request of this type.
    ///
    /// Decodes only `Self::Response` (checking the `"type"` tag), not the
    /// whole [`Response`] enum: each page then carries the decoders of the
    /// replies it asks for, not of every reply.
    fn read_reply(json: &str) -> Result<Self::Response, ProtocolError> {
        let value: serde_json::Value = decode_reply(json)?;
        let got = value.get("type").and_then(|t| t.as_str()).unwrap_or("none");
        if got != Self::RESPONSE {
            return Err(ProtocolError::new(
                ErrorKind::Malformed,
                format!("expected {} in reply, got {got}", Self::RESPONSE),
            ));
        }
        serde_json::from_value(value)
            .map_err(|e| ProtocolError::new(ErrorKind::Malformed, format!("reply: {e}")))
    }
}

macro_rules! tagged {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident $({ $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? })? ),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
        #[serde(tag = "type")]
        pub enum $name { $($(#[$vmeta])* $variant $({ $($(#[$fmeta])* $field: $ty),* })?),* }

        impl Tagged for $name {
            const TYPES: &'static [&'static str] = &[$(stringify!($variant)),*];
        }
    };
}

macro_rules! rpc {
    ($($(#[$meta:meta])* $req:ident => $resp:ident),* $(,)?) => {
        /// A one-shot call from an extension page to the background.
        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
        #[serde(tag = "type")]
        pub enum Request { $($(#[$meta])* $req($req)),* }

        impl Tagged for Request {
            const TYPES: &'static [&'static str] = &[$(stringify!($req)),*];
        }

        impl Request {
            /// The request's `"type"` on the wire.
            pub fn name(&self) -> &'static str {
                match self { $(Request::$req(_) => stringify!($req)),* }
            }
        }

        /// The background's successful answer to a [`Request`].
        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
        #[serde(tag = "type")]
        pub enum Response { $($resp($resp)),* }

        $(
            impl Rpc for $req {
                type Response = $resp;
                const RESPONSE: &'static str = stringify!($resp);
                fn into_request(self) -> Request { Request::$req(self) }
            }
            impl From<$resp> for Response {
                fn from(r: $resp) -> Self { Response::$resp(r) }
            }
        )*
    };
}

rpc! {
    /// Liveness and version check.
    Ping => Pong,
    /// Recent conversations, newest first (popup, devtools panel).
    ListConversations => ConversationList,
    /// One whole conversation by id.
    GetConversation => ConversationDetail,
    /// Deletes one conversation by id.
    DeleteConversation => Deleted,
    /// Shows the agent in a tab (the popup's "Ask Clippy on this page").
    ActivateTab => Activated,
    /// All or selected conversations as an export file.
    ExportConversations => Exported,
    /// One conversation as Markdown.
    ExportMarkdown => ExportedMarkdown,
    /// Validates a whole export file, then writes it in one transaction.
    ImportConversations => Imported,
    /// Replaces a conversation's tags.
    SetTags => TagsSet,
    /// Preferences with their values and defaults.
    GetPreferences => PreferenceList,
    /// Validates and stores one preference.
    SetPreference => PreferenceSet,
    /// Storage health: quota, counts, cache statistics, quarantine.
    GetStorageStatus => StorageStatus,
    /// Runs the cleanup job now (it also runs on an alarm).
    RunMaintenance => MaintenanceReport,
    /// Drops context-cache entries whose key starts with `prefix`.
    InvalidateCache => CacheInvalidated,
    /// The configured AI providers (never their keys).
    ListProviders => ProviderList,
    /// Adds or replaces a provider; the key travels only in this request.
    SaveProvider => ProviderSaved,
    /// Removes a provider and its key.
    DeleteProvider => ProviderDeleted,
    /// Asks a provider for its model list: latency and models, or its error.
    TestConnection => ConnectionTested,
    /// Puts the providers in this order (the first is primary, the second
    /// the fallback).
    SetProviderOrder => ProvidersOrdered,
    /// The resilience settings, each provider's breaker and the current
    /// degradation level.
    GetResilience => ResilienceStatus,
    /// Validates and stores the resilience settings.
    SetResilience => ResilienceSaved,
    /// The price table used for the cost of each answer.
    GetPrices => PriceList,
    /// Validates and stores the price table (`None` restores the defaults).
    SetPrices => PricesSaved,
    /// Telemetry recorded in a page (agent, popup, options, devtools
    /// panel), sent in batches.
    RecordTelemetry => TelemetryRecorded,
    /// The devtools panel's telemetry query.
    QueryTelemetry => TelemetryAnswer,
    /// Where telemetry is exported (off unless the user opted in).
    GetTelemetryExport => TelemetryExport,
    /// Validates and stores where telemetry is exported.
    SetTelemetryExport => TelemetryExportSaved,
    /// Collects and exports what telemetry holds now (the options page's
    /// "Send now"), instead of at the next collection.
    FlushTelemetry => TelemetryFlushed,
}

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

/// Asks for [`Pong`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Ping {}

/// The background's version and protocol version.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Pong {
    /// Extension version.
    pub version: String,
    /// [`PROTOCOL_VERSION`] of the background.
    pub protocol: u32,
    /// When this background instance started (ms since the epoch): it
    /// changes after the worker or event page was stopped and woke again.
    pub started_ms: f64,
    /// Milliseconds from this instance's start (its `performance`
    /// time origin) until it was ready to answer: wasm loaded and storage
    /// open. The cost of a cold start.
    pub ready_ms: f64,
}

/// Lists at most `limit` conversations matching `filter`, most recently
/// updated first, starting after `cursor`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ListConversations {
    /// Maximum number of items (the background clamps it to 1..=500).
    pub limit: u32,
    /// Search text, site, tag, character, date range.
    #[serde(default)]
    pub filter: crate::query::Filter,
    /// The previous page's `next`.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A page of conversation summaries.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConversationList {
    /// Most recently updated first.
    pub items: Vec<ConversationSummary>,
    /// False when storage fell back to memory and history will not persist.
    pub persistent: bool,
    /// Cursor of the next page; `None` on the last page.
    #[serde(default)]
    pub next: Option<String>,
    /// Percent of the browser's storage quota used, when it is near the
    /// quota (see [`crate::maintenance::WARN_PERCENT`]).
    #[serde(default)]
    pub quota_percent: Option<u64>,
}

/// Fetches one conversation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct GetConversation {
    /// The conversation's id.
    pub id: String,
}

/// One conversation, or `None` when no conversation has that id.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConversationDetail {
    /// The conversation.
    pub conversation: Option<Conversation>,
}

/// Deletes a conversation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DeleteConversation {
    /// The conversation's id.
    pub id: String,
}

/// Whether something was deleted.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// False when nothing had that id.
    pub existed: bool,
}

/// Shows the agent in tab `tab_id`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ActivateTab {
    /// The browser's tab id.
    pub tab_id: i32,
}

/// The agent was injected (or was already there).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Activated {}

/// Exports conversations.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExportConversations {
    /// Which conversations; `None` for all.
    pub ids: Option<Vec<String>>,
}

/// An export file ([`crate::export`]), as JSON text.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The file's content.
    pub json: String,
    /// Number of conversations in it.
    pub count: u32,
}

/// Exports one conversation as Markdown.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExportMarkdown {
    /// The conversation's id.
    pub id: String,
}

/// A conversation as Markdown.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExportedMarkdown {
    /// The Markdown text.
    pub markdown: String,
    /// A file name derived from the title.
    pub filename: String,
}

/// Imports an export file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImportConversations {
    /// The file's content.
    pub json: String,
    /// What to do with ids that already exist.
    pub policy: crate::export::MergePolicy,
}

/// What an import did.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// New conversations.
    pub added: u32,
    /// Existing conversations replaced.
    pub overwritten: u32,
    /// Existing conversations kept.
    pub skipped: u32,
}

/// Replaces the tags of conversation `id`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SetTags {
    /// The conversation's id.
    pub id: String,
    /// The new tags (normalised; see [`crate::conversation::normalize_tags`]).
    pub tags: Vec<String>,
}

/// The stored tags.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TagsSet {
    /// Tags after normalisation.
    pub tags: Vec<String>,
}

/// Lists preferences, optionally of one category.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetPreferences {
    /// Only this category.
    #[serde(default)]
    pub category: Option<crate::prefs::Category>,
}

/// Preferences with values and defaults.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PreferenceList {
    /// In a stable order.
    pub entries: Vec<crate::prefs::PrefEntry>,
}

/// Sets preference `key` to `value`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SetPreference {
    /// E.g. `ui.theme`.
    pub key: String,
    /// The new value (validated; a bad value is an error and nothing changes).
    pub value: serde_json::Value,
}

/// The stored (sanitised) value.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PreferenceSet {
    /// The key.
    pub key: String,
    /// The value as stored.
    pub value: serde_json::Value,
}

/// Asks for [`StorageStatus`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetStorageStatus {}

/// A record that failed to decode, kept aside.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct QuarantineItem {
    /// Store it came from.
    pub store: String,
    /// Its key there.
    pub key: String,
    /// Why it could not be read.
    pub error: String,
    /// When it was quarantined, ms.
    pub time_ms: f64,
    /// Size of the raw record, bytes.
    pub bytes: u64,
}

/// Storage health.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StorageStatus {
    /// False when storage fell back to memory.
    pub persistent: bool,
    /// Why storage is not persistent, or what went wrong opening it.
    pub notice: Option<String>,
    /// Schema version of the open database (0 in memory).
    pub schema_version: u32,
    /// `navigator.storage.estimate()` usage, bytes.
    pub usage_bytes: u64,
    /// `navigator.storage.estimate()` quota, bytes.
    pub quota_bytes: u64,
    /// Warning level.
    pub quota: crate::maintenance::QuotaLevel,
    /// Stored conversations.
    pub conversations: u64,
    /// Of which compressed.
    pub compressed: u64,
    /// Bytes compression saved on them.
    pub bytes_saved: u64,
    /// Context-cache entries on disk.
    pub cache_entries: u64,
    /// Cache statistics (persisted across restarts).
    pub cache: crate::cache::CacheStats,
    /// Stored telemetry records.
    pub telemetry_records: u64,
    /// Quarantined records, newest first.
    pub quarantine: Vec<QuarantineItem>,
    /// When the cleanup job last ran, ms (0: never).
    pub last_maintenance_ms: f64,
}

/// Asks the background to run the cleanup job now.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct RunMaintenance {}

/// What the cleanup job did.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct MaintenanceReport {
    /// Expired cache entries removed.
    pub expired_cache: u32,
    /// Conversations removed by retention.
    pub retention_deleted: u32,
    /// Cache entries removed for the budget.
    pub budget_cache_evicted: u32,
    /// Conversations removed for the budget (only when allowed).
    pub budget_conversations_deleted: u32,
    /// True when still over the budget.
    pub still_over_budget: bool,
    /// Bytes in use after the job (the engine's own count).
    pub used_bytes: u64,
}

/// Drops cache entries by key prefix.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct InvalidateCache {
    /// Key prefix ("" drops everything).
    pub prefix: String,
}

/// How many entries were dropped.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CacheInvalidated {
    /// Entries removed from disk.
    pub removed: u32,
}

/// Asks for [`ProviderList`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct ListProviders {}

/// The configured providers, in the user's order (the first is primary,
/// the second the fallback).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderList {
    /// Settings and whether a key is stored; never the key.
    pub providers: Vec<crate::provider::PublicProviderConfig>,
}

/// Puts the providers in the order of `ids`, which must name each configured
/// provider exactly once.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SetProviderOrder {
    /// Every provider id, in the new order.
    pub ids: Vec<String>,
}

/// The providers in their new order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProvidersOrdered {
    /// Settings and whether a key is stored; never the key.
    pub providers: Vec<crate::provider::PublicProviderConfig>,
}

/// The resilience settings as stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ResilienceSaved {
    /// The settings now in force.
    pub settings: crate::resilience::settings::ResilienceSettings,
}

/// The price table as stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PricesSaved {
    /// The table now in force.
    pub table: crate::provider::price::PriceTable,
}

/// Asks for [`ResilienceStatus`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetResilience {}

/// Replaces the resilience settings (validated as a whole).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SetResilience {
    /// The new settings.
    pub settings: crate::resilience::settings::ResilienceSettings,
}

/// One provider's circuit breaker as it stands.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BreakerStatus {
    /// The provider's id.
    pub provider_id: String,
    /// Closed, open or half-open.
    pub state: crate::resilience::breaker::BreakerState,
    /// Trips since it last closed.
    pub trips: u32,
    /// When an open breaker admits a probe (ms since the epoch).
    pub wake_at_ms: Option<u64>,
}

/// Resilience settings and state.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ResilienceStatus {
    /// The settings in force.
    pub settings: crate::resilience::settings::ResilienceSettings,
    /// The breakers of the providers used since the background started or
    /// restored from storage.
    pub breakers: Vec<BreakerStatus>,
    /// Where the last answer came from.
    pub degradation: crate::resilience::fallback::Degradation,
}

/// Asks for [`PriceList`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct GetPrices {}

/// Replaces the price table.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SetPrices {
    /// The new table; `None` restores the defaults.
    pub table: Option<crate::provider::price::PriceTable>,
}

/// The price table in force.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PriceList {
    /// Its entries.
    pub table: crate::provider::price::PriceTable,
    /// Whether it is the built-in table.
    pub defaults: bool,
}

/// What to do with a provider's stored key.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum KeyUpdate {
    /// Keep the stored key (or none).
    Keep,
    /// Forget the stored key.
    Clear,
    /// Store this key.
    Set {
        /// The key (this request is never logged).
        key: String,
    },
}

impl std::fmt::Debug for KeyUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keep => f.write_str("Keep"),
            Self::Clear => f.write_str("Clear"),
            Self::Set { .. } => f.write_str("Set(***)"),
        }
    }
}

/// Adds or replaces (by id) a provider.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SaveProvider {
    /// The settings (validated by the background).
    pub settings: crate::provider::ProviderSettings,
    /// The key.
    pub key: KeyUpdate,
}

/// The provider as stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderSaved {
    /// Settings and whether a key is stored.
    pub provider: crate::provider::PublicProviderConfig,
}

/// Removes provider `id`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DeleteProvider {
    /// The provider's id.
    pub id: String,
}

/// Whether a provider was removed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderDeleted {
    /// False when no provider had that id.
    pub existed: bool,
}

/// Tests provider `id`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TestConnection {
    /// The provider's id.
    pub id: String,
}

/// The result of a connection test.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTested {
    /// Latency, the model list and whether the configured model is listed.
    pub report: crate::provider::ConnectionReport,
}

/// A canned question the agent offers as a button.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickAction {
    /// Summarise the whole page.
    SummarizePage,
    /// Explain the selected text.
    ExplainSelection,
    /// A question the user typed about the selected text.
    AskAboutSelection,
    /// Translate the selected text into the user's language.
    TranslateSelection,
}

impl QuickAction {
    /// The button label for this action.
    pub fn label(self) -> &'static str {
        match self {
            QuickAction::SummarizePage => "Summarize this page",
            QuickAction::ExplainSelection => "Explain selection",
            QuickAction::AskAboutSelection => "Ask about selection",
            QuickAction::TranslateSelection => "Translate selection",
        }
    }

    /// The text shown in the chat for this action (for
    /// [`QuickAction::AskAboutSelection`], what precedes the typed question).
    pub fn prompt(self) -> &'static str {
        match self {
            QuickAction::SummarizePage => "Summarize this page",
            QuickAction::ExplainSelection => "Explain the selection",
            QuickAction::AskAboutSelection => "About the selection:",
            QuickAction::TranslateSelection => "Translate the selection",
        }
    }

    /// The question sent for this action: the prompt, with `typed` (what
    /// the user asked about the selection) or `language` (the target of a
    /// translation, e.g. `fr-FR`) where the action takes one.
    pub fn question(self, typed: &str, language: &str) -> String {
        match self {
            QuickAction::AskAboutSelection => format!("{} {}", self.prompt(), typed.trim()),
            QuickAction::TranslateSelection => {
                format!("{} into my language ({language})", self.prompt())
            }
            _ => self.prompt().to_string(),
        }
    }
}

tagged! {
    /// Agent → background, over the [`AGENT_PORT`] port.
    pub enum AgentToBg {
        /// The user sent `text` (typed, or a quick action's prompt).
        Ask {
            /// Id of the user's message, made by the agent, so that a
            /// question re-sent after a lost connection is stored once.
            id: String,
            /// What the user asked.
            text: String,
            /// Set when the text came from a quick-action button.
            action: Option<QuickAction>,
            /// The page context to send instead of the one read from the
            /// page: what the user reviewed (and perhaps edited) in the
            /// preview.
            #[serde(default)]
            context: Option<String>,
        },
        /// The user opened the list of this site's conversations.
        ListConversations {},
        /// Switch to conversation `id` of this site, or start a new one
        /// (`None`); answered with `History`.
        OpenConversation {
            /// The conversation, or `None` for a new one.
            id: Option<String>,
        },
        /// Delete conversation `id` of this site; answered with
        /// `Conversations` (and `History` when it was the open one).
        DeleteConversation {
            /// The conversation.
            id: String,
        },
        /// The user wants to see what asking `text` would send.
        Preview {
            /// The question as typed so far.
            text: String,
        },
        /// The user closed the agent.
        Close {},
        /// The user pressed Stop: abort the answer in progress (what
        /// streamed so far is kept, marked interrupted).
        Stop {},
        /// The user asked to continue interrupted answer `message_id`: the
        /// continuation is appended to it.
        Continue {
            /// The interrupted assistant message.
            message_id: String,
        },
        /// The user moved the agent: remember where, for this site.
        Place {
            /// Where it is now.
            place: crate::place::Place,
        },
        /// The user took the hint offered (`BgToAgent::Hint`).
        HintTaken {},
    }
}

tagged! {
    /// Background → agent, over the [`AGENT_PORT`] port.
    pub enum BgToAgent {
        /// The site's conversation so far, sent when the port opens.
        History {
            /// The conversation's id, `None` before the first message.
            conversation_id: Option<String>,
            /// The site (origin) the conversation belongs to.
            site: String,
            /// Messages in order.
            messages: Vec<Message>,
            /// False when storage is in memory only.
            persistent: bool,
            /// The character the user chose.
            #[serde(default)]
            character: crate::prefs::Character,
        },
        /// The user's message was stored (it carries its final id).
        Stored {
            /// The stored message.
            message: Message,
        },
        /// An answer starts streaming.
        AnswerStart {
            /// Id of the assistant message being streamed.
            message_id: String,
            /// Which provider answers: its name ("offline" for the built-in
            /// one), with `level` the answer's `AnswerSource`.
            provider: String,
            /// Where the answer comes from in the fallback chain.
            #[serde(default)]
            level: crate::resilience::fallback::Degradation,
        },
        /// The next piece of the answer's text.
        AnswerChunk {
            /// Id of the assistant message being streamed.
            message_id: String,
            /// Text to append.
            text: String,
        },
        /// The answer ended and is stored: complete, or interrupted (the
        /// user stopped it or the stream broke; "Continue" may finish it).
        AnswerDone {
            /// Id of the assistant message.
            message_id: String,
            /// How it ended.
            #[serde(default = "complete")]
            status: MessageStatus,
        },
        /// The user stopped the ask before any answer text arrived; nothing
        /// was answered (the question is kept).
        Stopped {},
        /// This site's conversations, newest first.
        Conversations {
            /// Their summaries.
            items: Vec<ConversationSummary>,
            /// The open one.
            current: Option<String>,
        },
        /// Get ready for a quick action that needs the user's words (the
        /// context menu's "Ask Clippy about selection"): focus the input.
        Compose {
            /// The action the next question is for.
            action: QuickAction,
        },
        /// Where the user last put the agent on this site (sent after
        /// `History` when it was moved before).
        Place {
            /// The remembered place.
            place: crate::place::Place,
        },
        /// A proactive hint (the user allowed hints on this site). Nothing
        /// is sent anywhere unless the user takes it.
        Hint {
            /// The hint.
            hint: crate::hints::Hint,
        },
        /// What asking the previewed question would send.
        Preview {
            /// Who would receive it: a provider's label, or `None` when
            /// the offline provider answers (nothing leaves the browser).
            destination: Option<String>,
            /// The page context that would be sent (editable).
            context: String,
        },
        /// The ask failed; the user's message is kept.
        Failed {
            /// What went wrong.
            error: ProtocolError,
        },
    }
}

tagged! {
    /// Background → the content script of a tab (top frame).
    pub enum ToContent {
        /// Is the agent's content script running here? Answered with
        /// `Reply<Activated>`; asked before the agent port is served, so an
        /// `agent.html` that a page embedded by itself gets nothing.
        Hello {},
        /// Read the page; answered with `Reply<PageRead>`. The serialised
        /// DOM is left out when the page has not changed since the last
        /// read, unless `fresh`.
        GetPageContext {
            /// Serialise the DOM even if the page looks unchanged.
            #[serde(default)]
            fresh: bool,
        },
        /// Remove the agent from the page; answered with `Reply<Activated>`.
        Close {},
    }
}

/// Whether `id` is acceptable as a client-made message id (a UUID-like
/// token of letters, digits and dashes, at most 64 characters).
pub fn valid_message_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::PageRead;

    fn check_err<T: Tagged + fmt::Debug>(json: &str, kind: ErrorKind, needle: &str) {
        let err = decode::<T>(json).unwrap_err();
        assert_eq!(err.kind, kind, "{json}: {err}");
        assert!(
            err.message.contains(needle),
            "{json}: `{}` lacks `{needle}`",
            err.message
        );
    }

    #[test]
    fn a_reply_of_the_wrong_type_is_refused() {
        let pong = Response::from(Pong {
            version: "0".into(),
            protocol: 1,
            started_ms: 0.0,
            ready_ms: 0.0,
        });
        let wire = encode(&Reply::Ok(pong));
        let err = ListProviders {}.into_request();
        assert_eq!(err.name(), "ListProviders");
        let err = ListProviders::read_reply(&wire).unwrap_err();
        assert_eq!(err.message, "expected ProviderList in reply, got Pong");
        assert!(Ping::read_reply(&wire).is_ok());
        let failed = encode(&Reply::<Response>::Err(ProtocolError::failed("no")));
        assert_eq!(Ping::read_reply(&failed).unwrap_err().message, "no");
    }

    #[test]
    fn requests_round_trip() {
        for req in [
            Request::Ping(Ping {}),
            Request::ListConversations(ListConversations {
                limit: 5,
                ..Default::default()
            }),
            Request::GetConversation(GetConversation { id: "x".into() }),
            Request::DeleteConversation(DeleteConversation { id: "x".into() }),
            Request::ActivateTab(ActivateTab { tab_id: 7 }),
        ] {
            assert_eq!(decode::<Request>(&encode(&req)).unwrap(), req);
        }
    }

    #[test]
    fn wire_shape_is_stable() {
        // The content script (plain JS) and the end-to-end tests rely on these shapes.
        assert_eq!(
            encode(&ToContent::GetPageContext { fresh: true }),
            r#"{"v":1,"body":{"type":"GetPageContext","fresh":true}}"#
        );
        assert_eq!(
            decode::<Request>(r#"{"v":1,"body":{"type":"ListConversations","limit":3}}"#),
            Ok(Request::ListConversations(ListConversations {
                limit: 3,
                ..Default::default()
            }))
        );
        assert_eq!(
            encode(&Reply::<Activated>::Err(ProtocolError::new(
                ErrorKind::Forbidden,
                "no"
            ))),
            r#"{"v":1,"body":{"err":{"kind":"forbidden","message":"no"}}}"#
        );
    }

    #[test]
    fn bad_messages_get_precise_errors() {
        check_err::<Request>("not json", ErrorKind::Malformed, "not an envelope");
        check_err::<Request>("[1,2]", ErrorKind::Malformed, "not an envelope");
        check_err::<Request>(r#"{"body":{}}"#, ErrorKind::Malformed, "`v`");
        check_err::<Request>(r#"{"v":"1","body":{}}"#, ErrorKind::Malformed, "`v`");
        check_err::<Request>(
            r#"{"v":2,"body":{"type":"Ping"}}"#,
            ErrorKind::UnsupportedVersion,
            "version 2",
        );
        check_err::<Request>(r#"{"v":1}"#, ErrorKind::Malformed, "`body`");
        check_err::<Request>(r#"{"v":1,"body":{}}"#, ErrorKind::Malformed, "`type`");
        check_err::<Request>(
            r#"{"v":1,"body":{"type":"DropDatabase"}}"#,
            ErrorKind::UnknownType,
            "DropDatabase",
        );
        check_err::<Request>(
            r#"{"v":1,"body":{"type":"ListConversations","limit":"all"}}"#,
            ErrorKind::Malformed,
            "invalid type",
        );
        check_err::<Request>(
            r#"{"v":1,"body":{"type":"ActivateTab"}}"#,
            ErrorKind::Malformed,
            "tab_id",
        );
        let huge = format!(
            r#"{{"v":1,"body":{{"type":"Ping","pad":"{}"}}}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        check_err::<Request>(&huge, ErrorKind::TooLarge, "exceeds");
    }

    #[test]
    fn message_ids() {
        assert!(valid_message_id("0b9e6c1e-52a4-4f7e-9d0c-5d2b0c7d8a11"));
        for bad in ["", "a b", "<script>", &"x".repeat(65)] {
            assert!(!valid_message_id(bad), "{bad}");
        }
    }

    #[test]
    fn reply_pairs_request_with_response() {
        let ok = encode(&Reply::Ok(Response::from(Deleted { existed: true })));
        assert_eq!(
            DeleteConversation::read_reply(&ok),
            Ok(Deleted { existed: true })
        );
        // A reply of the wrong type is an error, not a panic.
        let err = Ping::read_reply(&ok).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        // An error reply comes back as the error.
        let failed = encode(&Reply::<Response>::Err(ProtocolError::failed("tab closed")));
        assert_eq!(
            Ping::read_reply(&failed),
            Err(ProtocolError::failed("tab closed"))
        );
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(s in ".{0,200}") {
            let _ = decode::<Request>(&s);
            let _ = decode::<AgentToBg>(&s);
            let _ = decode_reply::<PageRead>(&s);
        }

        #[test]
        fn ask_round_trips(text in ".{0,500}") {
            let msg = AgentToBg::Ask { id: "q1".into(), text, action: None, context: None };
            proptest::prop_assert_eq!(decode::<AgentToBg>(&encode(&msg)).unwrap(), msg);
        }
    }
}
