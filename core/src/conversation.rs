//! Conversations: the principal stored type, [`Conversation`], and its
//! storage encoding.
//!
//! ```
//! use paperclip_core::conversation::{Conversation, Message, Role};
//!
//! let mut c = Conversation::new("c1".into(), "https://example.org".into(), 1000.0);
//! c.push(Message::complete("m1".into(), Role::User, "What is this?".into(), 1001.0));
//! assert_eq!(c.title, "What is this?");
//! let bytes = paperclip_core::conversation::encode(&c);
//! assert_eq!(paperclip_core::conversation::decode(&bytes).unwrap(), c);
//! ```

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person using the extension.
    User,
    /// Clippy.
    Assistant,
}

/// Whether a message is whole.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Fully written.
    Complete,
    /// An answer still streaming.
    Streaming,
    /// An answer cut off before it completed.
    Interrupted,
}

/// One message of a conversation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Message {
    /// Unique id.
    pub id: String,
    /// Author.
    pub role: Role,
    /// Markdown text.
    pub text: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub time_ms: f64,
    /// Completeness.
    pub status: MessageStatus,
    /// Which provider wrote an assistant message ("offline", ...).
    pub provider: Option<String>,
}

impl Message {
    /// A complete message without provider.
    pub fn complete(id: String, role: Role, text: String, time_ms: f64) -> Self {
        Self {
            id,
            role,
            text,
            time_ms,
            status: MessageStatus::Complete,
            provider: None,
        }
    }
}

/// Longest title derived from the first question, in characters.
pub const TITLE_CHARS: usize = 80;

/// A conversation with Clippy on one site.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Unique id (a UUID made by the background).
    pub id: String,
    /// The site's origin, e.g. `https://example.org`.
    pub site: String,
    /// Derived from the first user message.
    pub title: String,
    /// Creation time, ms since the epoch.
    pub created_ms: f64,
    /// Time of the last change, ms since the epoch.
    pub updated_ms: f64,
    /// Messages in order.
    pub messages: Vec<Message>,
}

impl Conversation {
    /// An empty conversation created at `now_ms`.
    pub fn new(id: String, site: String, now_ms: f64) -> Self {
        Self {
            id,
            site,
            title: String::new(),
            created_ms: now_ms,
            updated_ms: now_ms,
            messages: Vec::new(),
        }
    }

    /// Appends `message`, bumping `updated_ms` and deriving the title from
    /// the first user message.
    pub fn push(&mut self, message: Message) {
        if self.title.is_empty() && message.role == Role::User {
            self.title = derive_title(&message.text);
        }
        self.updated_ms = self.updated_ms.max(message.time_ms);
        self.messages.push(message);
    }

    /// Replaces the message with `message.id`, or appends it.
    pub fn upsert(&mut self, message: Message) {
        match self.messages.iter_mut().find(|m| m.id == message.id) {
            Some(m) => {
                self.updated_ms = self.updated_ms.max(message.time_ms);
                *m = message;
            }
            None => self.push(message),
        }
    }

    /// The list entry for this conversation.
    pub fn summary(&self) -> ConversationSummary {
        ConversationSummary {
            id: self.id.clone(),
            site: self.site.clone(),
            title: self.title.clone(),
            updated_ms: self.updated_ms,
            message_count: self.messages.len() as u32,
        }
    }
}

/// One line of a conversation list.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    /// Conversation id.
    pub id: String,
    /// Site origin.
    pub site: String,
    /// Title.
    pub title: String,
    /// Last change, ms since the epoch.
    pub updated_ms: f64,
    /// Number of messages.
    pub message_count: u32,
}

fn derive_title(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= TITLE_CHARS {
        line
    } else {
        let cut: String = line.chars().take(TITLE_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// Version byte in front of every stored conversation.
const STORAGE_VERSION: u8 = 1;

/// Why a stored record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The record is empty.
    #[error("empty record")]
    Empty,
    /// The record was written by an unknown schema version.
    #[error("unknown record version {0}")]
    Version(u8),
    /// The bytes do not decode.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// Encodes a conversation for storage (a version byte, then postcard).
pub fn encode(c: &Conversation) -> Vec<u8> {
    let mut out = vec![STORAGE_VERSION];
    out.extend(postcard::to_allocvec(c).expect("conversations always serialise"));
    out
}

/// Decodes what [`encode`] wrote; never panics on bad bytes.
pub fn decode(bytes: &[u8]) -> Result<Conversation, DecodeError> {
    match bytes.split_first() {
        None => Err(DecodeError::Empty),
        Some((&STORAGE_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|e| DecodeError::Corrupt(e.to_string()))
        }
        Some((&v, _)) => Err(DecodeError::Version(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, role: Role, text: &str, t: f64) -> Message {
        Message::complete(id.into(), role, text.into(), t)
    }

    #[test]
    fn title_comes_from_first_user_message_and_is_clipped() {
        let mut c = Conversation::new("c".into(), "https://a.test".into(), 1.0);
        c.push(msg("0", Role::Assistant, "Hello!", 2.0));
        c.push(msg("1", Role::User, &"word ".repeat(40), 3.0));
        c.push(msg("2", Role::User, "second", 4.0));
        assert!(c.title.starts_with("word word"));
        assert!(c.title.ends_with('…'));
        assert_eq!(c.title.chars().count(), TITLE_CHARS);
        assert_eq!(c.updated_ms, 4.0);
        assert_eq!(c.summary().message_count, 3);
    }

    #[test]
    fn upsert_replaces_by_id() {
        let mut c = Conversation::new("c".into(), "s".into(), 1.0);
        c.push(msg("a", Role::User, "q", 2.0));
        let mut answer = msg("b", Role::Assistant, "par", 3.0);
        answer.status = MessageStatus::Streaming;
        c.upsert(answer.clone());
        answer.text = "partial and more".into();
        answer.status = MessageStatus::Complete;
        c.upsert(answer.clone());
        assert_eq!(c.messages.len(), 2);
        assert_eq!(c.messages[1], answer);
    }

    #[test]
    fn decode_rejects_bad_bytes() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert_eq!(decode(&[9, 1, 2]), Err(DecodeError::Version(9)));
        assert!(matches!(
            decode(&[1, 0xff, 0xff]),
            Err(DecodeError::Corrupt(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn storage_round_trips(texts in proptest::collection::vec(".{0,100}", 0..10), t in 0.0f64..1e13) {
            let mut c = Conversation::new("id".into(), "https://x.test".into(), t);
            for (i, text) in texts.into_iter().enumerate() {
                let role = if i % 2 == 0 { Role::User } else { Role::Assistant };
                c.push(msg(&i.to_string(), role, &text, t + i as f64));
            }
            proptest::prop_assert_eq!(decode(&encode(&c)).unwrap(), c);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
