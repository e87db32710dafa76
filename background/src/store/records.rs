//! The stored shapes of each store's records, and their conversion to and
//! from JavaScript values (serde-wasm-bindgen: plain objects, bytes as
//! `Uint8Array`).

use paperclip_core::cache::CacheEntry;
use paperclip_core::conversation::{self, Conversation, ConversationSummary, Usage};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

/// A conversation record: the indexed and listed fields in the clear, the
/// whole conversation in `data` (postcard, maybe LZ4; see
/// [`conversation::encode`]).
#[derive(Serialize, Deserialize)]
pub struct ConversationRecord {
    /// Id (key).
    pub id: String,
    /// Site origin.
    pub site: String,
    /// Last change, ms.
    pub updated: f64,
    /// `-updated`: the indexes list newest first in ascending key order.
    pub rank: f64,
    /// Creation, ms.
    #[serde(default)]
    pub created: f64,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Messages.
    #[serde(default)]
    pub count: u32,
    /// Tags (multi-entry index).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Character (indexed).
    #[serde(default)]
    pub agent: String,
    /// Running totals.
    #[serde(default)]
    pub usage: Usage,
    /// Imported and not opened since (skipped when a site's latest
    /// conversation is looked for).
    #[serde(default)]
    pub imported: bool,
    /// `data` is compressed.
    #[serde(default)]
    pub compressed: bool,
    /// Size of the uncompressed encoding, bytes.
    #[serde(default)]
    pub plain: u32,
    /// The conversation.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// The listed fields of a conversation record (read without copying
/// `data`).
#[derive(Deserialize)]
pub struct ConversationHead {
    id: String,
    site: String,
    updated: f64,
    title: String,
    count: u32,
    #[serde(default)]
    tags: Vec<String>,
    agent: String,
    #[serde(default)]
    usage: Usage,
    #[serde(default)]
    imported: bool,
    #[serde(default)]
    compressed: bool,
    #[serde(default)]
    plain: u32,
}

impl ConversationHead {
    /// Imported and not opened since.
    pub fn imported(&self) -> bool {
        self.imported
    }

    /// The summary these fields describe.
    pub fn summary(self) -> ConversationSummary {
        ConversationSummary {
            id: self.id,
            site: self.site,
            title: self.title,
            updated_ms: self.updated,
            message_count: self.count,
            tags: self.tags,
            agent: self.agent,
            usage: self.usage,
            imported: self.imported,
        }
    }

    /// Stored bytes of `data` (given), and bytes compression saved.
    pub fn sizes(&self, stored: u64) -> (u64, u64) {
        let saved = if self.compressed {
            u64::from(self.plain).saturating_sub(stored)
        } else {
            0
        };
        (stored, saved)
    }
}

/// Why a record could not be read.
pub type RecordError = String;

fn to_js<T: Serialize>(value: &T) -> JsValue {
    serde_wasm_bindgen::to_value(value).expect("records are plain data")
}

/// The record of `c`.
pub fn encode_conversation(c: &Conversation) -> JsValue {
    let encoded = conversation::encode(c);
    to_js(&ConversationRecord {
        id: c.id.clone(),
        site: c.site.clone(),
        updated: c.updated_ms,
        rank: -c.updated_ms,
        created: c.created_ms,
        title: c.title.clone(),
        count: c.messages.len() as u32,
        tags: c.tags.clone(),
        agent: c.agent.clone(),
        usage: c.usage,
        imported: c.imported,
        compressed: encoded.compressed,
        plain: encoded.plain_len as u32,
        data: encoded.bytes,
    })
}

/// The `data` bytes of a record, if it has them.
pub fn data_of(v: &JsValue) -> Option<js_sys::Uint8Array> {
    js_sys::Reflect::get(v, &"data".into())
        .ok()?
        .dyn_into::<js_sys::Uint8Array>()
        .ok()
}

/// The conversation in a record of any schema version.
pub fn decode_conversation(v: &JsValue) -> Result<Conversation, RecordError> {
    let data = data_of(v).ok_or("bad record: no data bytes")?;
    conversation::decode(&data.to_vec()).map_err(|e| e.to_string())
}

/// The listed fields of a schema-2 record.
pub fn decode_head(v: &JsValue) -> Result<ConversationHead, RecordError> {
    serde_wasm_bindgen::from_value(v.clone()).map_err(|e| format!("bad record: {e}"))
}

/// A context-cache record: the entry, its value compressed when large.
#[derive(Serialize, Deserialize)]
struct CacheRecord {
    key: String,
    stored: u64,
    ttl: u64,
    relevance: f32,
    providers: Vec<String>,
    last_used: u64,
    compressed: bool,
    #[serde(with = "serde_bytes")]
    value: Vec<u8>,
}

/// The record of a cache entry.
pub fn encode_cache(e: &CacheEntry) -> JsValue {
    let (value, compressed) = match conversation::compress(e.value.as_bytes()) {
        Some(packed) => (packed, true),
        None => (e.value.as_bytes().to_vec(), false),
    };
    to_js(&CacheRecord {
        key: e.key.clone(),
        stored: e.stored_ms,
        ttl: e.ttl_ms,
        relevance: e.relevance,
        providers: e.providers.clone(),
        last_used: e.last_used_ms,
        compressed,
        value,
    })
}

/// The cache entry in a record.
pub fn decode_cache(v: &JsValue) -> Result<CacheEntry, RecordError> {
    let r: CacheRecord =
        serde_wasm_bindgen::from_value(v.clone()).map_err(|e| format!("bad record: {e}"))?;
    let bytes = if r.compressed {
        conversation::decompress(&r.value).map_err(|e| e.to_string())?
    } else {
        r.value
    };
    let value = String::from_utf8(bytes).map_err(|e| format!("bad cache value: {e}"))?;
    Ok(CacheEntry {
        key: r.key,
        value,
        stored_ms: r.stored,
        ttl_ms: r.ttl,
        relevance: r.relevance,
        providers: r.providers,
        last_used_ms: r.last_used,
    })
}

/// A preference record.
#[derive(Serialize, Deserialize)]
pub struct PreferenceRecord {
    /// Key.
    pub key: String,
    /// The sanitised value as JSON text.
    pub value: String,
    /// Category (indexed).
    pub category: String,
    /// Last change, ms.
    pub updated: f64,
}

/// A record kept aside because it could not be read.
#[derive(Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// Store it came from.
    pub store: String,
    /// Its key there, as text.
    pub key: String,
    /// Why it could not be read.
    pub error: String,
    /// When, ms (indexed).
    pub time: f64,
    /// Approximate size of the raw record, bytes.
    pub bytes: u64,
}

/// Serialises any record.
pub fn record<T: Serialize>(value: &T) -> JsValue {
    to_js(value)
}

/// Deserialises any record.
pub fn read<T: for<'de> Deserialize<'de>>(v: &JsValue) -> Result<T, RecordError> {
    serde_wasm_bindgen::from_value(v.clone()).map_err(|e| format!("bad record: {e}"))
}
