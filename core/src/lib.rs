//! Paperclip's browser-free core: domain types, the typed protocol between
//! the extension's contexts, and every piece of logic that can be a pure
//! function.
//!
//! The principal types are [`protocol::Request`] (one-shot calls from the
//! extension's pages to the background), [`protocol::AgentToBg`] /
//! [`protocol::BgToAgent`] (the agent's streaming port) and
//! [`conversation::Conversation`] (what is stored).
//!
//! ```
//! use paperclip_core::protocol::{self, ListConversations, Request};
//!
//! let wire = protocol::encode(&Request::ListConversations(ListConversations { limit: 20, ..Default::default() }));
//! let back: Request = protocol::decode(&wire).unwrap();
//! assert_eq!(back, Request::ListConversations(ListConversations { limit: 20, ..Default::default() }));
//! ```
//!
//! Nothing here touches a browser API or reads a clock: time and identifiers
//! are arguments, so everything is tested natively with `cargo test`.
#![forbid(unsafe_code)]

pub mod activation;
pub mod answer;
pub mod budget;
pub mod cache;
pub mod character;
pub mod chat;
pub mod consent;
pub mod conversation;
pub mod data;
pub mod export;
pub mod extract;
pub mod hints;
pub mod import;
pub mod link;
pub mod maintenance;
pub mod markdown;
pub mod net;
pub mod offline;
pub mod on_device;
pub mod page;
pub mod pdf;
pub mod place;
pub mod prefs;
pub mod prefs_file;
pub mod protocol;
pub mod provider;
pub mod query;
pub mod queued;
pub mod quick;
pub mod resilience;
pub mod schema;
pub mod sender;
pub mod sized;
pub mod sync;
pub mod telemetry;
mod text;
pub mod throttle;
pub mod usage;
