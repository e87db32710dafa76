//! The codec: the [`Envelope`] every message travels in, [`Reply`],
//! [`ProtocolError`], [`encode`] / [`decode`] (size, version and type
//! checked, never panicking), the [`Rpc`] pairing of a request with its
//! response, and the `tagged!` macro that gives a message enum its wire
//! types.

use std::fmt;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{Request, MAX_MESSAGE_BYTES, PROTOCOL_VERSION};

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
    let envelope = Envelope {
        v: PROTOCOL_VERSION,
        body,
    };
    // A large message (an export of thousands of conversations) is never
    // held twice while its buffer doubles.
    crate::sized::to_string(&envelope, false).expect("protocol types always serialise")
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
