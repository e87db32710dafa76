//! Conversations, activation, export and import.

use serde::{Deserialize, Serialize};

use crate::conversation::{Conversation, ConversationSummary};

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
    /// What the agent does when it appears (ask a question, show a
    /// conversation), besides showing the site's latest conversation.
    #[serde(default)]
    pub then: Option<super::Arrival>,
}

/// The agent was injected (or was already there).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Activated {}

/// Starts "Export all" in parts: the page asks for the conversations a
/// part at a time ([`ExportPart`]) and puts the file together itself
/// (see [`crate::export::frame`]), so the worker never holds it whole.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExportBegin {}

/// What an export starts from.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExportBegun {
    /// The file's text before its conversations (format, version, time).
    pub head: String,
    /// The file's text after them (the preferences).
    pub tail: String,
    /// Every stored conversation's id, newest first: what to ask for.
    pub ids: Vec<String>,
}

/// Asks for conversations of an export, in the order given (at most
/// [`crate::import::MAX_PART_CONVERSATIONS`] ids).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExportPart {
    /// Their ids.
    pub ids: Vec<String>,
}

impl ExportPart {
    /// Refuses more ids than a part holds, and ids no conversation can
    /// have (empty or longer than [`crate::export::MAX_FIELD_CHARS`]).
    pub fn validate(&self) -> Result<(), super::ProtocolError> {
        let refuse = |m: String| super::ProtocolError::new(super::ErrorKind::Malformed, m);
        let most = crate::import::MAX_PART_CONVERSATIONS;
        if self.ids.len() > most {
            return Err(refuse(format!(
                "an export part asks for at most {most} conversations, not {}",
                self.ids.len()
            )));
        }
        match self
            .ids
            .iter()
            .position(|id| id.is_empty() || id.chars().count() > crate::export::MAX_FIELD_CHARS)
        {
            Some(i) => Err(refuse(format!(
                "ids[{i}]: not a conversation id (empty, or longer than {} characters)",
                crate::export::MAX_FIELD_CHARS
            ))),
            None => Ok(()),
        }
    }
}

/// Conversations of an export, each as it stands in the file
/// ([`crate::export::piece`]).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ExportedPart {
    /// The conversations read, in the order asked (ids deleted since the
    /// export began are left out).
    pub conversations: Vec<String>,
    /// How many of the ids asked were read (about
    /// [`crate::import::MAX_PART_BYTES`] of text at most): ask for the
    /// rest again.
    pub read: u32,
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

/// Starts an import in parts (see [`crate::import`]): the file's header
/// (everything but its conversations, as JSON) and how many conversations
/// follow. Replaces an import under way.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImportBegin {
    /// The header.
    pub header: String,
    /// Conversations in the file.
    pub total: u32,
    /// What to do with ids that already exist.
    pub policy: crate::export::MergePolicy,
}

/// An import has started.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImportBegun {
    /// The import, for its parts.
    pub import: u32,
}

/// A part of an import's conversations, in order from index `first`: all
/// parts are sent twice; the first pass validates the file (nothing is
/// written), the second writes it. A file without conversations is one
/// empty part (its first pass completes the import).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImportPart {
    /// The import ([`ImportBegun::import`]).
    pub import: u32,
    /// Index of the part's first conversation.
    pub first: u32,
    /// Each conversation's JSON.
    pub conversations: Vec<String>,
}

/// Where an import stands after a part.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ImportStep {
    /// What the import did, once the last part is written (`None`: the
    /// next part is awaited).
    pub done: Option<Imported>,
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
    /// The file's preferences that differ from the current ones: not
    /// applied; the options page lists them and applies them only when the
    /// user confirms.
    #[serde(default)]
    pub preferences: Vec<crate::export::OfferedPreference>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_part_asks_for_at_most_a_part_of_real_ids() {
        let part = |ids: Vec<String>| ExportPart { ids }.validate();
        assert!(part(vec![]).is_ok());
        assert!(part(vec!["a".repeat(crate::export::MAX_FIELD_CHARS)]).is_ok());
        let many = part(vec!["a".into(); 501]).unwrap_err();
        assert_eq!(
            many.message,
            "an export part asks for at most 500 conversations, not 501"
        );
        let long = part(vec!["a".into(), "é".repeat(2_049)]).unwrap_err();
        assert!(
            long.message.starts_with("ids[1]: not a conversation id"),
            "{}",
            long.message
        );
        let empty = part(vec![String::new()]).unwrap_err();
        assert!(empty.message.starts_with("ids[0]"), "{}", empty.message);
    }
}
