//! Conversations: the principal stored type, [`Conversation`], and its
//! storage encoding.
//!
//! ```
//! use paperclip_core::conversation::{Conversation, Message, Role};
//!
//! let mut c = Conversation::new("c1".into(), "https://example.org".into(), 1000.0);
//! c.push(Message::complete("m1".into(), Role::User, "What is this?".into(), 1001.0));
//! assert_eq!(c.title, "What is this?");
//! let bytes = paperclip_core::conversation::encode(&c).bytes;
//! assert_eq!(paperclip_core::conversation::decode(&bytes).unwrap(), c);
//! ```

use serde::{Deserialize, Serialize};

use crate::resilience::fallback::{AnswerSource, Degradation};

/// Whether `id` is acceptable as a client-made message id (a UUID-like
/// token of letters, digits and dashes, at most 64 characters).
pub fn valid_message_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

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
    /// Which provider wrote an assistant message ("offline", or the name
    /// the user gave a provider).
    pub provider: Option<String>,
    /// The step of the fallback chain the answer came from.
    #[serde(default)]
    pub level: Degradation,
    /// An answer's tokens in and out and its cost, as its provider
    /// reported them; `None` when unknown (offline and cached answers, a
    /// provider that reported nothing, messages stored before encoding 4).
    #[serde(default)]
    pub usage: Option<Usage>,
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
            level: Degradation::Normal,
            usage: None,
        }
    }

    /// Where an assistant message came from.
    pub fn source(&self) -> Option<AnswerSource> {
        self.provider
            .as_ref()
            .map(|p| AnswerSource::new(p.clone(), self.level))
    }

    /// Sets where the message came from.
    pub fn set_source(&mut self, source: AnswerSource) {
        self.provider = Some(source.provider);
        self.level = source.level;
    }

    /// A message read from a record or a file written before the source
    /// was typed: its one label ("X (fallback)") becomes the provider and
    /// its level.
    pub fn from_legacy_label(mut self) -> Self {
        if self.level == Degradation::Normal {
            if let Some(label) = self.provider.take() {
                self.set_source(AnswerSource::from_legacy(&label));
            }
        }
        self
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
    /// User-given tags, normalised by [`normalize_tags`].
    #[serde(default)]
    pub tags: Vec<String>,
    /// Which character answered ("clippy", ...).
    #[serde(default = "default_agent")]
    pub agent: String,
    /// The personality in use ("helpful", ...).
    #[serde(default = "default_personality")]
    pub personality: String,
    /// Running totals of tokens and cost.
    #[serde(default)]
    pub usage: Usage,
    /// Came from an imported file and not opened by the user since: never
    /// opened by itself, never sent as history, and shown as imported
    /// (see [`crate::export`]).
    #[serde(default)]
    pub imported: bool,
}

fn default_agent() -> String {
    DEFAULT_AGENT.into()
}

fn default_personality() -> String {
    DEFAULT_PERSONALITY.into()
}

/// The character of conversations that do not say.
pub const DEFAULT_AGENT: &str = "clippy";
/// The personality of conversations that do not say.
pub const DEFAULT_PERSONALITY: &str = "helpful";

/// Tokens and cost of a conversation (or of one request).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Prompt tokens sent.
    pub tokens_in: u64,
    /// Completion tokens received.
    pub tokens_out: u64,
    /// Cost in millionths of a US dollar.
    pub cost_micro_usd: u64,
}

impl Usage {
    /// Adds `other` (saturating).
    pub fn add(&mut self, other: Usage) {
        self.tokens_in = self.tokens_in.saturating_add(other.tokens_in);
        self.tokens_out = self.tokens_out.saturating_add(other.tokens_out);
        self.cost_micro_usd = self.cost_micro_usd.saturating_add(other.cost_micro_usd);
    }
}

/// Most tags on one conversation.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 40;

/// Normalises tags: trimmed, inner whitespace collapsed, lower-cased,
/// deduplicated, in the given order. Empty tags are dropped; a tag longer
/// than [`MAX_TAG_CHARS`], one with control characters, or more than
/// [`MAX_TAGS`] tags are an error naming the culprit.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let t = tag
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if t.is_empty() || out.contains(&t) {
            continue;
        }
        if t.chars().any(char::is_control) {
            return Err(format!("tag {tag:?} contains control characters"));
        }
        if t.chars().count() > MAX_TAG_CHARS {
            return Err(format!(
                "tag {tag:?} is longer than {MAX_TAG_CHARS} characters"
            ));
        }
        out.push(t);
    }
    if out.len() > MAX_TAGS {
        return Err(format!("{} tags; the limit is {MAX_TAGS}", out.len()));
    }
    Ok(out)
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
            tags: Vec::new(),
            agent: default_agent(),
            personality: default_personality(),
            usage: Usage::default(),
            imported: false,
        }
    }

    /// Adds one request's tokens and cost to the running totals.
    pub fn record_usage(&mut self, usage: Usage) {
        self.usage.add(usage);
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
            tags: self.tags.clone(),
            agent: self.agent.clone(),
            usage: self.usage,
            imported: self.imported,
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
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Character.
    #[serde(default = "default_agent")]
    pub agent: String,
    /// Running totals.
    #[serde(default)]
    pub usage: Usage,
    /// Imported and not opened since.
    #[serde(default)]
    pub imported: bool,
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

/// Version byte in front of every stored conversation (encoding 5: the
/// imported mark; 4 gave each answer its own usage; 3 added the answer's
/// level).
pub const STORAGE_VERSION: u8 = 5;
/// Set on the version byte when the rest is LZ4-compressed.
const COMPRESSED: u8 = 0x80;
/// Records whose encoding is at least this long are tried compressed.
pub const COMPRESS_FROM_BYTES: usize = 1024;

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

/// A stored encoding and what compression did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The record bytes.
    pub bytes: Vec<u8>,
    /// LZ4-compressed.
    pub compressed: bool,
    /// Length of the uncompressed encoding (version byte included).
    pub plain_len: usize,
}

/// Compresses `plain` with LZ4 when it is at least
/// [`COMPRESS_FROM_BYTES`] long and compression saves at least an eighth.
pub fn compress(plain: &[u8]) -> Option<Vec<u8>> {
    if plain.len() < COMPRESS_FROM_BYTES {
        return None;
    }
    let packed = lz4_flex::compress_prepend_size(plain);
    (packed.len() + packed.len() / 7 < plain.len()).then_some(packed)
}

/// Encodes a conversation for storage: a version byte, then postcard,
/// LZ4-compressed (and the version byte marked) when [`compress`] pays.
pub fn encode(c: &Conversation) -> Encoded {
    let plain = postcard::to_allocvec(c).expect("conversations always serialise");
    let plain_len = plain.len() + 1;
    let (version, body, compressed) = match compress(&plain) {
        Some(packed) => (STORAGE_VERSION | COMPRESSED, packed, true),
        None => (STORAGE_VERSION, plain, false),
    };
    let mut bytes = Vec::with_capacity(body.len() + 1);
    bytes.push(version);
    bytes.extend(body);
    Encoded {
        bytes,
        compressed,
        plain_len,
    }
}

/// Decodes what [`encode`] wrote, or a record of an older encoding
/// (converted); never panics on bad bytes.
pub fn decode(bytes: &[u8]) -> Result<Conversation, DecodeError> {
    let corrupt = |e: &dyn std::fmt::Display| DecodeError::Corrupt(e.to_string());
    match bytes.split_first() {
        None => Err(DecodeError::Empty),
        Some((&STORAGE_VERSION, rest)) => postcard::from_bytes(rest).map_err(|e| corrupt(&e)),
        Some((&v, rest)) if v == STORAGE_VERSION | COMPRESSED => {
            let plain = decompress(rest)?;
            postcard::from_bytes(&plain).map_err(|e| corrupt(&e))
        }
        Some((&v1::STORAGE_VERSION, rest)) => postcard::from_bytes::<v1::Conversation>(rest)
            .map(Conversation::from)
            .map_err(|e| corrupt(&e)),
        Some((&v2::STORAGE_VERSION, rest)) => postcard::from_bytes::<v2::Conversation>(rest)
            .map(Conversation::from)
            .map_err(|e| corrupt(&e)),
        Some((&v, rest)) if v == v2::STORAGE_VERSION | COMPRESSED => {
            let plain = decompress(rest)?;
            postcard::from_bytes::<v2::Conversation>(&plain)
                .map(Conversation::from)
                .map_err(|e| corrupt(&e))
        }
        Some((&v4::STORAGE_VERSION, rest)) => postcard::from_bytes::<v4::Conversation>(rest)
            .map(Conversation::from)
            .map_err(|e| corrupt(&e)),
        Some((&v, rest)) if v == v4::STORAGE_VERSION | COMPRESSED => {
            let plain = decompress(rest)?;
            postcard::from_bytes::<v4::Conversation>(&plain)
                .map(Conversation::from)
                .map_err(|e| corrupt(&e))
        }
        Some((&v3::STORAGE_VERSION, rest)) => postcard::from_bytes::<v3::Conversation>(rest)
            .map(Conversation::from)
            .map_err(|e| corrupt(&e)),
        Some((&v, rest)) if v == v3::STORAGE_VERSION | COMPRESSED => {
            let plain = decompress(rest)?;
            postcard::from_bytes::<v3::Conversation>(&plain)
                .map(Conversation::from)
                .map_err(|e| corrupt(&e))
        }
        Some((&v, _)) => Err(DecodeError::Version(v)),
    }
}

/// Largest decompressed record accepted (a corrupt size prefix must not
/// allocate gigabytes).
const MAX_PLAIN_BYTES: usize = 256 * 1024 * 1024;

/// Reverses [`compress`]; a corrupt input is an error, never a panic or a
/// huge allocation.
pub fn decompress(rest: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let size = rest
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| DecodeError::Corrupt("truncated compressed record".into()))?;
    if size > MAX_PLAIN_BYTES || size > rest.len().saturating_mul(255) {
        return Err(DecodeError::Corrupt(format!(
            "implausible decompressed size {size}"
        )));
    }
    lz4_flex::decompress_size_prepended(rest).map_err(|e| DecodeError::Corrupt(e.to_string()))
}

/// Schema 1 (the first release): conversations without tags, agent or
/// usage. Kept to read old records and to write fixtures for migration
/// tests.
pub mod v1 {
    use serde::{Deserialize, Serialize};

    use super::{MessageStatus, Role};

    /// The schema-1 version byte.
    pub const STORAGE_VERSION: u8 = 1;

    /// A schema-1 message.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Message {
        /// Id.
        pub id: String,
        /// Author.
        pub role: Role,
        /// Text.
        pub text: String,
        /// Time, ms.
        pub time_ms: f64,
        /// Completeness.
        pub status: MessageStatus,
        /// Provider.
        pub provider: Option<String>,
    }

    /// A schema-1 conversation.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Conversation {
        /// Id.
        pub id: String,
        /// Site origin.
        pub site: String,
        /// Title.
        pub title: String,
        /// Created, ms.
        pub created_ms: f64,
        /// Updated, ms.
        pub updated_ms: f64,
        /// Messages.
        pub messages: Vec<Message>,
    }

    /// Encodes as schema 1 did.
    pub fn encode(c: &Conversation) -> Vec<u8> {
        let mut out = vec![STORAGE_VERSION];
        out.extend(postcard::to_allocvec(c).expect("conversations always serialise"));
        out
    }
}

/// Encoding 2: messages with one provider label ("X (fallback)") and no
/// level. Kept to read old records.
pub mod v2 {
    use serde::{Deserialize, Serialize};

    use super::{MessageStatus, Role, Usage};

    /// The encoding-2 version byte.
    pub const STORAGE_VERSION: u8 = 2;

    /// An encoding-2 message.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Message {
        /// Id.
        pub id: String,
        /// Author.
        pub role: Role,
        /// Text.
        pub text: String,
        /// Time, ms.
        pub time_ms: f64,
        /// Completeness.
        pub status: MessageStatus,
        /// The provider's label.
        pub provider: Option<String>,
        /// Tokens.
        pub tokens: u32,
    }

    /// An encoding-2 conversation.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Conversation {
        /// Id.
        pub id: String,
        /// Site origin.
        pub site: String,
        /// Title.
        pub title: String,
        /// Created, ms.
        pub created_ms: f64,
        /// Updated, ms.
        pub updated_ms: f64,
        /// Messages.
        pub messages: Vec<Message>,
        /// Tags.
        pub tags: Vec<String>,
        /// Character.
        pub agent: String,
        /// Personality.
        pub personality: String,
        /// Totals.
        pub usage: Usage,
    }

    /// Encodes as encoding 2 did (uncompressed).
    pub fn encode(c: &Conversation) -> Vec<u8> {
        let mut out = vec![STORAGE_VERSION];
        out.extend(postcard::to_allocvec(c).expect("conversations always serialise"));
        out
    }
}

/// Encoding 3: messages with their source (provider and level) and one
/// out-token count, no usage of their own. Kept to read old records.
pub mod v3 {
    use serde::{Deserialize, Serialize};

    use super::{Degradation, MessageStatus, Role, Usage};

    /// The encoding-3 version byte.
    pub const STORAGE_VERSION: u8 = 3;

    /// An encoding-3 message.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Message {
        /// Id.
        pub id: String,
        /// Author.
        pub role: Role,
        /// Text.
        pub text: String,
        /// Time, ms.
        pub time_ms: f64,
        /// Completeness.
        pub status: MessageStatus,
        /// The provider's name.
        pub provider: Option<String>,
        /// Out tokens (never written other than 0).
        pub tokens: u32,
        /// The answer's level.
        pub level: Degradation,
    }

    /// An encoding-3 conversation.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Conversation {
        /// Id.
        pub id: String,
        /// Site origin.
        pub site: String,
        /// Title.
        pub title: String,
        /// Created, ms.
        pub created_ms: f64,
        /// Updated, ms.
        pub updated_ms: f64,
        /// Messages.
        pub messages: Vec<Message>,
        /// Tags.
        pub tags: Vec<String>,
        /// Character.
        pub agent: String,
        /// Personality.
        pub personality: String,
        /// Totals.
        pub usage: Usage,
    }

    /// Encodes as encoding 3 did (compressed when that paid).
    pub fn encode(c: &Conversation) -> Vec<u8> {
        let plain = postcard::to_allocvec(c).expect("conversations always serialise");
        match super::compress(&plain) {
            Some(packed) => {
                let mut out = vec![STORAGE_VERSION | super::COMPRESSED];
                out.extend(packed);
                out
            }
            None => {
                let mut out = vec![STORAGE_VERSION];
                out.extend(plain);
                out
            }
        }
    }
}

/// Encoding 4: today's messages, conversations without the imported mark.
/// Kept to read old records.
pub mod v4 {
    use serde::{Deserialize, Serialize};

    use super::{Message, Usage};

    /// The encoding-4 version byte.
    pub const STORAGE_VERSION: u8 = 4;

    /// An encoding-4 conversation.
    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Conversation {
        /// Id.
        pub id: String,
        /// Site origin.
        pub site: String,
        /// Title.
        pub title: String,
        /// Created, ms.
        pub created_ms: f64,
        /// Updated, ms.
        pub updated_ms: f64,
        /// Messages.
        pub messages: Vec<Message>,
        /// Tags.
        pub tags: Vec<String>,
        /// Character.
        pub agent: String,
        /// Personality.
        pub personality: String,
        /// Totals.
        pub usage: Usage,
    }

    /// Encodes as encoding 4 did (compressed when that paid).
    pub fn encode(c: &Conversation) -> Vec<u8> {
        let plain = postcard::to_allocvec(c).expect("conversations always serialise");
        match super::compress(&plain) {
            Some(packed) => {
                let mut out = vec![STORAGE_VERSION | super::COMPRESSED];
                out.extend(packed);
                out
            }
            None => {
                let mut out = vec![STORAGE_VERSION];
                out.extend(plain);
                out
            }
        }
    }
}

impl From<v4::Conversation> for Conversation {
    fn from(old: v4::Conversation) -> Self {
        Conversation {
            id: old.id,
            site: old.site,
            title: old.title,
            created_ms: old.created_ms,
            updated_ms: old.updated_ms,
            messages: old.messages,
            tags: old.tags,
            agent: old.agent,
            personality: old.personality,
            usage: old.usage,
            // Records written before the mark were the user's own.
            imported: false,
        }
    }
}

impl From<v3::Conversation> for Conversation {
    fn from(old: v3::Conversation) -> Self {
        Conversation {
            id: old.id,
            site: old.site,
            title: old.title,
            created_ms: old.created_ms,
            updated_ms: old.updated_ms,
            messages: old
                .messages
                .into_iter()
                .map(|m| Message {
                    id: m.id,
                    role: m.role,
                    text: m.text,
                    time_ms: m.time_ms,
                    status: m.status,
                    provider: m.provider,
                    level: m.level,
                    // Per-answer usage was not kept before encoding 4.
                    usage: None,
                })
                .collect(),
            tags: old.tags,
            agent: old.agent,
            personality: old.personality,
            usage: old.usage,
            imported: false,
        }
    }
}

impl From<v2::Conversation> for Conversation {
    fn from(old: v2::Conversation) -> Self {
        Conversation {
            id: old.id,
            site: old.site,
            title: old.title,
            created_ms: old.created_ms,
            updated_ms: old.updated_ms,
            messages: old
                .messages
                .into_iter()
                .map(|m| {
                    Message {
                        id: m.id,
                        role: m.role,
                        text: m.text,
                        time_ms: m.time_ms,
                        status: m.status,
                        provider: m.provider,
                        level: Degradation::Normal,
                        // Encoding 2 kept only an out count: unknown.
                        usage: None,
                    }
                    .from_legacy_label()
                })
                .collect(),
            tags: old.tags,
            agent: old.agent,
            personality: old.personality,
            usage: old.usage,
            imported: false,
        }
    }
}

impl From<v1::Conversation> for Conversation {
    fn from(old: v1::Conversation) -> Self {
        let mut c = Conversation::new(old.id, old.site, old.created_ms);
        c.title = old.title;
        c.updated_ms = old.updated_ms;
        c.messages = old
            .messages
            .into_iter()
            .map(|m| {
                Message {
                    id: m.id,
                    role: m.role,
                    text: m.text,
                    time_ms: m.time_ms,
                    status: m.status,
                    provider: m.provider,
                    level: Degradation::Normal,
                    usage: None,
                }
                .from_legacy_label()
            })
            .collect();
        c
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
            decode(&[2, 0xff, 0xff]),
            Err(DecodeError::Corrupt(_))
        ));
        assert!(matches!(
            decode(&[0x82, 0xff, 0xff, 0xff, 0x7f, 1]),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn large_records_are_compressed_and_round_trip() {
        let mut c = Conversation::new("c".into(), "https://a.test".into(), 1.0);
        for i in 0..40 {
            c.push(msg(
                &i.to_string(),
                Role::User,
                "the same words again and again ",
                2.0,
            ));
        }
        let encoded = encode(&c);
        let bytes = encoded.bytes;
        assert!(encoded.compressed);
        let plain = postcard::to_allocvec(&c).unwrap().len();
        assert!(bytes.len() * 2 < plain, "{} vs {plain}", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), c);
        let small = Conversation::new("s".into(), "x".into(), 0.0);
        assert!(!encode(&small).compressed);
    }

    #[test]
    fn encoding_4_records_decode_as_the_users_own() {
        let mut c = Conversation::new("c".into(), "https://a.test".into(), 1.0);
        c.push(msg("1", Role::User, "q", 2.0));
        let old = v4::Conversation {
            id: c.id.clone(),
            site: c.site.clone(),
            title: c.title.clone(),
            created_ms: c.created_ms,
            updated_ms: c.updated_ms,
            messages: c.messages.clone(),
            tags: vec!["t".into()],
            agent: c.agent.clone(),
            personality: c.personality.clone(),
            usage: Usage::default(),
        };
        let back = decode(&v4::encode(&old)).unwrap();
        assert!(!back.imported);
        assert_eq!(
            (back.messages, back.tags),
            (c.messages.clone(), vec!["t".to_string()])
        );
        let big = v4::Conversation {
            messages: vec![msg("1", Role::User, &"again ".repeat(400), 2.0)],
            ..old
        };
        let bytes = v4::encode(&big);
        assert_eq!(bytes[0], v4::STORAGE_VERSION | COMPRESSED);
        assert_eq!(decode(&bytes).unwrap().messages, big.messages);
        c.imported = true;
        assert!(decode(&encode(&c).bytes).unwrap().imported);
    }

    #[test]
    fn schema_1_records_decode_into_schema_2() {
        let old = v1::Conversation {
            id: "old".into(),
            site: "https://a.test".into(),
            title: "Q".into(),
            created_ms: 5.0,
            updated_ms: 9.0,
            messages: vec![v1::Message {
                id: "m".into(),
                role: Role::User,
                text: "Q".into(),
                time_ms: 9.0,
                status: MessageStatus::Complete,
                provider: None,
            }],
        };
        let c = decode(&v1::encode(&old)).unwrap();
        assert_eq!(
            (c.id.as_str(), c.updated_ms, c.created_ms),
            ("old", 9.0, 5.0)
        );
        assert_eq!(c.agent, DEFAULT_AGENT);
        assert!(c.tags.is_empty());
        assert_eq!(c.messages[0].text, "Q");
    }

    #[test]
    fn tags_are_normalised_and_bounded() {
        let t = |v: &[&str]| normalize_tags(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            t(&[" Work ", "work", "", "to  read"]).unwrap(),
            ["work", "to read"]
        );
        assert!(t(&[&"x".repeat(41)]).unwrap_err().contains("longer"));
        assert!(t(&["a\u{7}"]).unwrap_err().contains("control"));
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert!(normalize_tags(&many).unwrap_err().contains("limit"));
    }

    proptest::proptest! {
        #[test]
        fn storage_round_trips(texts in proptest::collection::vec(".{0,100}", 0..10), t in 0.0f64..1e13) {
            let mut c = Conversation::new("id".into(), "https://x.test".into(), t);
            for (i, text) in texts.into_iter().enumerate() {
                let role = if i % 2 == 0 { Role::User } else { Role::Assistant };
                c.push(msg(&i.to_string(), role, &text, t + i as f64));
            }
            proptest::prop_assert_eq!(decode(&encode(&c).bytes).unwrap(), c);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn encoding_2_records_still_read_with_their_labels_as_sources() {
        use crate::resilience::fallback::{AnswerSource, Degradation};
        let message = |id: &str, role, provider: Option<&str>| v2::Message {
            id: id.into(),
            role,
            text: "t".into(),
            time_ms: 1.0,
            status: MessageStatus::Complete,
            provider: provider.map(Into::into),
            tokens: 3,
        };
        let old = v2::Conversation {
            id: "c".into(),
            site: "https://s.test".into(),
            title: "t".into(),
            created_ms: 1.0,
            updated_ms: 2.0,
            messages: vec![
                message("q", Role::User, None),
                message("a", Role::Assistant, Some("offline (fallback)")),
                message("b", Role::Assistant, Some("Work (cached)")),
            ],
            tags: vec!["x".into()],
            agent: "clippette".into(),
            personality: "helpful".into(),
            usage: Usage::default(),
        };
        let read = decode(&v2::encode(&old)).unwrap();
        assert_eq!(read.agent, "clippette");
        assert_eq!(read.messages[1].usage, None);
        assert_eq!(
            read.messages[1].source(),
            Some(AnswerSource::new("offline", Degradation::Offline))
        );
        assert_eq!(
            read.messages[2].source(),
            Some(AnswerSource::new("Work", Degradation::Cached))
        );
        // Written again, it is the current encoding and reads back the same.
        let again = encode(&read);
        assert_eq!(again.bytes[0] & 0x7f, STORAGE_VERSION);
        assert_eq!(decode(&again.bytes).unwrap(), read);
    }

    #[test]
    fn encoding_3_records_still_read_with_usage_unknown() {
        use crate::resilience::fallback::{AnswerSource, Degradation};
        let message = |id: &str, role, provider: Option<&str>, text: &str| v3::Message {
            id: id.into(),
            role,
            text: text.into(),
            time_ms: 1.0,
            status: MessageStatus::Complete,
            provider: provider.map(Into::into),
            tokens: 0,
            level: Degradation::Fallback,
        };
        let totals = Usage {
            tokens_in: 40,
            tokens_out: 12,
            cost_micro_usd: 9,
        };
        for text in ["short", &"long and repetitive ".repeat(200)] {
            let old = v3::Conversation {
                id: "c".into(),
                site: "https://s.test".into(),
                title: "t".into(),
                created_ms: 1.0,
                updated_ms: 2.0,
                messages: vec![
                    message("q", Role::User, None, text),
                    message("a", Role::Assistant, Some("Work"), text),
                ],
                tags: vec![],
                agent: "clippy".into(),
                personality: "helpful".into(),
                usage: totals,
            };
            let bytes = v3::encode(&old);
            let read = decode(&bytes).unwrap();
            assert_eq!(read.usage, totals);
            assert_eq!(read.messages[1].text, text);
            assert_eq!(read.messages[1].usage, None);
            assert_eq!(
                read.messages[1].source(),
                Some(AnswerSource::new("Work", Degradation::Fallback))
            );
            let again = encode(&read);
            assert_eq!(again.bytes[0] & 0x7f, STORAGE_VERSION);
            assert_eq!(decode(&again.bytes).unwrap(), read);
        }
    }

    #[test]
    fn each_answer_keeps_its_usage() {
        let mut c = Conversation::new("c".into(), "https://a.test".into(), 1.0);
        c.push(msg("q", Role::User, "q", 2.0));
        let mut a = msg("a", Role::Assistant, "a", 3.0);
        a.usage = Some(Usage {
            tokens_in: 312,
            tokens_out: 148,
            cost_micro_usd: 2_100,
        });
        c.push(a.clone());
        c.push(msg("b", Role::Assistant, "offline", 4.0));
        let read = decode(&encode(&c).bytes).unwrap();
        assert_eq!(read.messages[1].usage, a.usage);
        assert_eq!(read.messages[2].usage, None);
        // The agent's protocol and export files written before the field
        // existed still parse (the field defaults to unknown); an old
        // `tokens` count is ignored.
        let old: Message = serde_json::from_str(
            r#"{"id":"a","role":"assistant","text":"x","time_ms":1,"status":"complete","provider":"Work","tokens":7}"#,
        )
        .unwrap();
        assert_eq!(old.usage, None);
        let json = serde_json::to_string(&read.messages[1]).unwrap();
        assert!(
            json.contains(r#""usage":{"tokens_in":312,"tokens_out":148,"cost_micro_usd":2100}"#),
            "{json}"
        );
    }
}
