//! Chrome's built-in AI (the Prompt API, `LanguageModel`, Gemini Nano on
//! the device): the pure parts. [`prompts`] turns a [`ChatRequest`] into the
//! session's `initialPrompts` and the text to prompt with, and
//! [`Availability`] reads `LanguageModel.availability()` into what the user
//! is told. The background feature-detects the API, creates the session and
//! streams (`promptStreaming`).
//!
//! ```
//! use paperclip_core::conversation::Role;
//! use paperclip_core::provider::builtin::{prompts, Availability};
//! use paperclip_core::provider::{ChatMessage, ChatRequest};
//!
//! let mut request = ChatRequest::new(vec![
//!     ChatMessage::new(Role::User, "Hi"),
//!     ChatMessage::new(Role::Assistant, "Hello!"),
//!     ChatMessage::new(Role::User, "What is this page about?"),
//! ]);
//! request.system = Some("Be brief.".into());
//! let p = prompts(&request).unwrap();
//! assert_eq!(p.initial.len(), 3); // system, user, assistant
//! assert_eq!(p.initial[0].role, "system");
//! assert_eq!(p.prompt, "What is this page about?");
//! assert!(Availability::parse("downloadable").usable());
//! assert!(!Availability::parse("unavailable").usable());
//! ```

use serde::Serialize;

use super::ChatRequest;
use crate::conversation::Role;

/// The model's name as shown in a connection test.
pub const MODEL: &str = "gemini-nano (built into Chrome)";

/// One of the session's `initialPrompts`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct InitialPrompt {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    /// The text.
    pub content: String,
}

/// What the background sends to the Prompt API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompts {
    /// The system text, then the conversation before the question.
    pub initial: Vec<InitialPrompt>,
    /// The question (the last user message).
    pub prompt: String,
}

/// The session's prompts for `request`: its system text and messages
/// (normalised as for the HTTP dialects) with the last user message as the
/// prompt; `None` when the request does not end with a user message.
pub fn prompts(request: &ChatRequest) -> Option<Prompts> {
    let mut messages = request.normalized_messages();
    let last = messages.pop().filter(|m| m.role == Role::User)?;
    let mut initial = Vec::with_capacity(messages.len() + 1);
    if let Some(system) = request.system.as_deref().filter(|s| !s.trim().is_empty()) {
        initial.push(InitialPrompt {
            role: "system",
            content: system.to_string(),
        });
    }
    initial.extend(messages.into_iter().map(|m| InitialPrompt {
        role: match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        },
        content: m.content,
    }));
    Some(Prompts {
        initial,
        prompt: last.content,
    })
}

/// `LanguageModel.availability()`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// The browser has no `LanguageModel` at all.
    NoApi,
    /// The device or browser cannot run the model.
    Unavailable,
    /// The model must be downloaded first (Chrome starts on first use).
    Downloadable,
    /// The model is being downloaded.
    Downloading,
    /// Ready.
    Available,
}

impl Availability {
    /// Reads the API's string (an unknown value counts as unavailable).
    pub fn parse(s: &str) -> Self {
        match s {
            "available" | "readily" => Self::Available,
            "downloadable" | "after-download" => Self::Downloadable,
            "downloading" => Self::Downloading,
            _ => Self::Unavailable,
        }
    }

    /// Whether asking may work (possibly after a download).
    pub fn usable(self) -> bool {
        matches!(
            self,
            Self::Available | Self::Downloadable | Self::Downloading
        )
    }

    /// What the user is told.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NoApi => "Chrome's built-in AI is not available in this browser (it needs Chrome 138 or later on a supported desktop)",
            Self::Unavailable => "Chrome's built-in AI cannot run on this device",
            Self::Downloadable => "Chrome's built-in model is not downloaded yet; the first answer starts the download",
            Self::Downloading => "Chrome is downloading its built-in model; answers come once it is ready",
            Self::Available => "Chrome's built-in model is ready",
        }
    }
}

/// How a `DOMException` from the Prompt API is classified: the user asked
/// to stop (`AbortError`), a request the model refuses and would refuse again
/// (too long, unsupported, not allowed), or anything else (worth a retry).
pub fn failure_kind(exception_name: &str) -> crate::resilience::FailureKind {
    use crate::resilience::FailureKind;
    match exception_name {
        "AbortError" => FailureKind::Cancelled,
        "QuotaExceededError" | "NotSupportedError" | "NotAllowedError" | "InvalidStateError"
        | "SyntaxError" | "TypeError" => FailureKind::Malformed,
        _ => FailureKind::Network,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ChatMessage;
    use crate::resilience::FailureKind;

    #[test]
    fn a_request_without_a_final_question_has_no_prompt() {
        let request = ChatRequest::new(vec![
            ChatMessage::new(Role::User, "Hi"),
            ChatMessage::new(Role::Assistant, "Hello"),
        ]);
        assert_eq!(prompts(&request), None);
        assert_eq!(prompts(&ChatRequest::new(vec![])), None);
    }

    #[test]
    fn consecutive_user_messages_merge_and_blank_system_is_dropped() {
        let mut request = ChatRequest::new(vec![
            ChatMessage::new(Role::User, "One"),
            ChatMessage::new(Role::User, "Two"),
        ]);
        request.system = Some("  ".into());
        let p = prompts(&request).unwrap();
        assert!(p.initial.is_empty());
        assert_eq!(p.prompt, "One\n\nTwo");
    }

    #[test]
    fn availability_and_errors() {
        assert_eq!(Availability::parse("available"), Availability::Available);
        assert_eq!(
            Availability::parse("downloading"),
            Availability::Downloading
        );
        assert_eq!(Availability::parse("no"), Availability::Unavailable);
        assert!(!Availability::NoApi.usable());
        assert_eq!(failure_kind("AbortError"), FailureKind::Cancelled);
        assert_eq!(failure_kind("QuotaExceededError"), FailureKind::Malformed);
        assert_eq!(failure_kind("UnknownError"), FailureKind::Network);
    }
}
