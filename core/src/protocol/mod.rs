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
//!
//! The types live in one module per subsystem (`conversations`, `storage`,
//! `providers`, `telemetry`, `agent`), re-exported here; the codec
//! (envelope, errors, [`encode`] / [`decode`], [`Rpc`]) is in one place,
//! `codec`.

use serde::{Deserialize, Serialize};

#[macro_use]
mod codec;
mod agent;
mod changes;
mod conversations;
mod popup;
mod providers;
mod storage;
mod telemetry;

pub use agent::*;
pub use changes::*;
pub use codec::*;
pub use conversations::*;
pub use popup::*;
pub use providers::*;
pub use storage::*;
pub use telemetry::*;

/// Version of the wire protocol; a message with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Name of the runtime port the agent opens to the background.
pub const AGENT_PORT: &str = "agent";

/// The name the agent's frame gives its port: [`AGENT_PORT`], `#`, and the
/// token its loader handed it (see [`ToContent::Hello`]).
pub fn agent_port_name(token: &str) -> String {
    format!("{AGENT_PORT}#{token}")
}

/// A port's name as the channel it asks for and the token it carries
/// (empty when none): `agent#abc` → (`agent`, `abc`).
pub fn split_port_name(name: &str) -> (&str, &str) {
    name.split_once('#').unwrap_or((name, ""))
}

/// Largest message accepted, in bytes of JSON: room for an import file of
/// [`crate::export::MAX_IMPORT_BYTES`] as a JSON string.
pub const MAX_MESSAGE_BYTES: usize = 48 * 1024 * 1024;

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
    /// Starts "Export all" in parts: the file's frame and every id.
    ExportBegin => ExportBegun,
    /// Conversations of an export in parts.
    ExportPart => ExportedPart,
    /// One conversation as Markdown.
    ExportMarkdown => ExportedMarkdown,
    /// Starts an import in parts.
    ImportBegin => ImportBegun,
    /// One part of an import: validated in the first pass, written in the
    /// second.
    ImportPart => ImportStep,
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
    /// The context cache's entries, without their values (the panel).
    ListCacheEntries => CacheEntryList,
    /// Deletes one context-cache entry (the panel).
    DeleteCacheEntry => CacheEntryDeleted,
    /// The configured AI providers (never their keys).
    ListProviders => ProviderList,
    /// Adds or replaces a provider; the key travels only in this request.
    SaveProvider => ProviderSaved,
    /// Removes a provider and its key.
    DeleteProvider => ProviderDeleted,
    /// Asks a provider for its model list: latency and models, or its error.
    TestConnection => ConnectionTested,
    /// Looks for local model servers and their models.
    FindLocalModels => LocalModelsFound,
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
    /// The look every page applies (`ui.*` preferences).
    GetAppearance => Appearance,
    /// The popup's status: who answers now, this site's setting, a storage
    /// warning.
    GetPopupStatus => PopupStatus,
    /// "Clippy on this site": on or never.
    SetSiteAccess => SiteAccessSet,
    /// Deletes all data (refused unless confirmed): the extension as
    /// freshly installed.
    DeleteAllData => AllDataDeleted,
    /// Deletes one site's conversations, cache entries and settings.
    DeleteSiteData => SiteDataDeleted,
    /// Deletes telemetry records, its in-memory state and export queue.
    ClearTelemetry => TelemetryCleared,
    /// Tokens and cost today and this month, per provider (the popup's
    /// and options page's usage).
    GetUsage => UsageReport,
    /// The error groups resolved or muted in the devtools panel.
    GetErrorTriage => ErrorTriage,
    /// Resolves, mutes or reopens an error group (the panel's buttons).
    SetErrorTriage => ErrorTriageSet,
    /// The session bundle for a bug report (the panel's button).
    GetSessionBundle => SessionBundleMade,
    /// How settings sync last went (the options page).
    GetSyncStatus => SyncStatus,
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

pub use crate::conversation::valid_message_id;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::PageRead;

    fn check_err<T: Tagged + std::fmt::Debug>(json: &str, kind: ErrorKind, needle: &str) {
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
            Request::ActivateTab(ActivateTab {
                tab_id: 7,
                then: None,
            }),
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
            let msg = AgentToBg::Ask { id: "q1".into(), text, action: None, context: None, custom: None };
            proptest::prop_assert_eq!(decode::<AgentToBg>(&encode(&msg)).unwrap(), msg);
        }
    }
}
