//! Remote AI providers, the pure part: request building, response and
//! stream parsing, usage and cost. The background does the I/O (it sends
//! the [`HttpRequest`], feeds the body's chunks to a [`ChatStream`] and
//! cancels by aborting the fetch and dropping the stream).
//!
//! Two dialects: OpenAI-compatible chat completions ([`openai`]: OpenAI,
//! Ollama, LM Studio, llama.cpp server, vLLM, OpenRouter) and Anthropic
//! Messages ([`anthropic`]). [`sse`] decodes the event stream both use;
//! [`price`] turns token counts into cost.
//!
//! ```
//! use paperclip_core::conversation::Role;
//! use paperclip_core::provider::*;
//!
//! let settings = ProviderSettings::new("local", ProviderKind::OpenAiCompatible, "http://localhost:11434/v1", "llama3.2");
//! let config = ProviderConfig::new(settings, None).unwrap();
//! let request = chat_request(&config, &ChatRequest::new(vec![ChatMessage::new(Role::User, "Hi")])).unwrap();
//! assert_eq!(request.url, "http://localhost:11434/v1/chat/completions");
//!
//! let mut stream = ChatStream::new(&config).unwrap();
//! let mut events = stream.push(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel");
//! events.extend(stream.push(b"lo\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"));
//! events.extend(stream.finish());
//! assert_eq!(events, [StreamEvent::Delta("Hello".into()), StreamEvent::Finished { reason: FinishReason::Stop }]);
//! ```
//!
//! # The key rule
//!
//! An API key lives in a [`Secret`]: no serde, `Debug`/`Display` print
//! `***`, and only this crate can read the text. It is serialized in exactly
//! one place, [`StoredProviderConfig`], which the background writes to the
//! extension's local storage and nowhere else. Everything that leaves the
//! background (protocol replies, exports, telemetry, logs) uses
//! [`ProviderSettings`] or [`PublicProviderConfig`] (`has_key` instead of
//! the key). The request builders put the key only in the auth header
//! (`Authorization: Bearer` or `x-api-key`); [`HttpRequest`]'s `Debug` hides
//! those headers; errors a server returns have the key replaced by `***`.
//!
//! # Base URLs
//!
//! The user types the server's address; [`normalize_base_url`] cleans it
//! (a pasted `.../chat/completions` or `.../messages` endpoint is accepted).
//! Paths hang from [`ProviderSettings::api_root`]: the base URL itself when
//! a path segment already names a version (`http://localhost:11434/v1`,
//! `https://openrouter.ai/api/v1`), else base URL + `/v1`
//! (`https://api.openai.com`, `https://api.anthropic.com`).
//!
//! # Stream events
//!
//! A [`ChatStream`] yields `Delta`s, then, when the provider reported token
//! counts, one `Usage` (the totals), then exactly one terminal event:
//! `Finished` or `Error`. Nothing follows the terminal event.

pub mod anthropic;
pub mod builtin;
mod config;
pub mod openai;
pub mod price;
pub mod prompt;
pub mod sse;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::config::{
    normalize_base_url, ConfigError, ProviderConfig, ProviderKind, ProviderSettings,
    PublicProviderConfig, Secret, StoredProviderConfig, UrlError, DEFAULT_MAX_TOKENS, MAX_ID_LEN,
    MAX_KEY_LEN, MAX_LABEL_CHARS, MAX_MAX_TOKENS, MAX_MODEL_LEN, MAX_URL_LEN,
};
use self::sse::{SseDecoder, SseError, SseEvent};
use crate::conversation::Role;
use crate::resilience::FailureKind;

/// Longest error message kept from a server, in characters.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 500;

/// One message of the conversation sent to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
}

impl ChatMessage {
    /// A message.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// What to ask a provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// Instructions (character, personality, page context); omitted when
    /// `None` or blank.
    pub system: Option<String>,
    /// The conversation, oldest first; see [`Self::normalized_messages`].
    pub messages: Vec<ChatMessage>,
    /// Answer length limit; `None` uses the provider's `max_tokens`.
    pub max_tokens: Option<u32>,
    /// Sampling temperature (0..=2 for OpenAI-compatible, 0..=1 for
    /// Anthropic); `None` leaves the server's default (some models accept
    /// no other).
    pub temperature: Option<f32>,
}

impl ChatRequest {
    /// A request with these messages and defaults for the rest.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }

    /// The messages as sent: blank ones dropped (an interrupted answer may
    /// be empty, and Anthropic refuses empty content), leading assistant
    /// messages dropped (a greeting; Anthropic and many local chat templates
    /// want the user first), consecutive messages of one role merged with a
    /// blank line (many local chat templates require alternation).
    pub fn normalized_messages(&self) -> Vec<ChatMessage> {
        let mut out: Vec<ChatMessage> = Vec::with_capacity(self.messages.len());
        for m in &self.messages {
            if m.content.trim().is_empty() || (out.is_empty() && m.role == Role::Assistant) {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.role == m.role => {
                    last.content.push_str("\n\n");
                    last.content.push_str(&m.content);
                }
                _ => out.push(m.clone()),
            }
        }
        out
    }

    /// A rough upper estimate of the tokens this request uses, for rate
    /// limits: a token per 4 bytes of prompt (a common rule of thumb for
    /// English; generous elsewhere) plus the answer's limit.
    pub fn estimated_tokens(&self, settings: &ProviderSettings) -> u32 {
        let bytes: usize = self.system.as_deref().map_or(0, str::len)
            + self
                .messages
                .iter()
                .map(|m| m.content.len() + 4)
                .sum::<usize>();
        let prompt = u32::try_from(bytes.div_ceil(4)).unwrap_or(u32::MAX);
        prompt.saturating_add(self.max_tokens.unwrap_or(settings.max_tokens))
    }

    /// The system text if it is not blank.
    fn system_text(&self) -> Option<&str> {
        self.system.as_deref().filter(|s| !s.trim().is_empty())
    }

    /// The checked parts common to both dialects.
    fn prepare(
        &self,
        settings: &ProviderSettings,
        max_temperature: u8,
    ) -> Result<Prepared, RequestError> {
        let messages = self.normalized_messages();
        if messages.is_empty() {
            return Err(RequestError::NoMessages);
        }
        let max_tokens = self.max_tokens.unwrap_or(settings.max_tokens);
        if !(1..=MAX_MAX_TOKENS).contains(&max_tokens) {
            return Err(RequestError::MaxTokens {
                max: MAX_MAX_TOKENS,
            });
        }
        if let Some(t) = self.temperature {
            if !(0.0..=f32::from(max_temperature)).contains(&t) {
                return Err(RequestError::Temperature {
                    max: max_temperature,
                });
            }
        }
        Ok(Prepared {
            messages,
            max_tokens,
        })
    }
}

/// The checked parts of a [`ChatRequest`].
struct Prepared {
    messages: Vec<ChatMessage>,
    max_tokens: u32,
}

/// The wire name of a role (both dialects).
fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// `"GET"` or `"POST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// A request for the background to send with `fetch`. Header names are
/// lowercase. Its `Debug` prints the auth headers' values as `***`; it is
/// deliberately not serializable (it may carry the key).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers in order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<String>,
}

/// Headers whose values are the key.
const SECRET_HEADERS: [&str; 2] = ["authorization", "x-api-key"];

impl HttpRequest {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A streaming `POST` of the JSON `body`, with the dialect's `auth`
    /// headers.
    fn streaming_post(
        url: String,
        auth: impl IntoIterator<Item = (&'static str, String)>,
        body: String,
    ) -> Self {
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("accept", "text/event-stream".to_owned()),
        ];
        headers.extend(auth);
        Self::new(Method::Post, url, headers, Some(body))
    }

    /// A `GET` of JSON, with the dialect's `auth` headers.
    fn json_get(url: String, auth: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        let mut headers = vec![("accept", "application/json".to_owned())];
        headers.extend(auth);
        Self::new(Method::Get, url, headers, None)
    }

    fn new(
        method: Method,
        url: String,
        headers: Vec<(&str, String)>,
        body: Option<String>,
    ) -> Self {
        let headers = headers
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect();
        Self {
            method,
            url,
            headers,
            body,
        }
    }
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let hidden = SECRET_HEADERS.iter().any(|s| n.eq_ignore_ascii_case(s));
                (n.as_str(), if hidden { "***" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

/// Why a request cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The provider does not speak HTTP (offline, the browser's model).
    #[error("{} is not an http provider", kind.as_str())]
    NotHttp {
        /// The provider kind.
        kind: ProviderKind,
    },
    /// No message has text.
    #[error("there is nothing to send: no message has text")]
    NoMessages,
    /// `max_tokens` is 0 or too large.
    #[error("max tokens must be between 1 and {max}")]
    MaxTokens {
        /// The largest allowed value.
        max: u32,
    },
    /// The temperature is out of the dialect's range (or NaN).
    #[error("temperature must be between 0 and {max}")]
    Temperature {
        /// The dialect's largest temperature.
        max: u8,
    },
}

/// Why an answer stopped.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished (`stop`, `end_turn`, `stop_sequence`).
    Stop,
    /// The length limit was reached (`length`, `max_tokens`): the answer is
    /// cut off.
    Length,
    /// Filtered or refused (`content_filter`, `refusal`).
    Filtered,
    /// The model asked for a tool (`tool_calls`, `tool_use`); Paperclip
    /// offers none, so this is unexpected.
    ToolUse,
    /// A reason this code does not know, as sent.
    Other(String),
    /// The stream ended properly without saying why.
    Unspecified,
}

impl FinishReason {
    /// Maps a wire reason of either dialect.
    pub fn from_wire(reason: &str) -> Self {
        match reason {
            "stop" | "end_turn" | "stop_sequence" => Self::Stop,
            "length" | "max_tokens" | "model_context_window_exceeded" => Self::Length,
            "content_filter" | "refusal" => Self::Filtered,
            "tool_calls" | "function_call" | "tool_use" => Self::ToolUse,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// What a stream says, in order: `Delta`*, `Usage`?, then one of
/// `Finished` / `Error`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StreamEvent {
    /// The next piece of the answer's text.
    Delta(String),
    /// Token totals of the request, as the provider counted them (input
    /// includes Anthropic's cache reads and writes).
    Usage {
        /// Prompt tokens.
        tokens_in: u64,
        /// Completion tokens.
        tokens_out: u64,
    },
    /// The answer is complete.
    Finished {
        /// Why it stopped.
        reason: FinishReason,
    },
    /// The answer failed; text already received is partial.
    Error(ProviderError),
}

/// What went wrong talking to a provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderError {
    /// A non-2xx answer ([`parse_error_body`]).
    #[error("http {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The server's message, or a description of its body.
        message: String,
        /// The server's error type or code (`rate_limit_error`,
        /// `invalid_api_key`, ...), if it gave one.
        error_type: Option<String>,
    },
    /// An error the provider reported inside a stream that had started.
    #[error("the provider stopped with an error: {message}")]
    Api {
        /// The provider's message.
        message: String,
        /// Its type (`overloaded_error`, ...), if given.
        error_type: Option<String>,
    },
    /// A response that does not have the documented shape.
    #[error("malformed {what}: {message}")]
    Malformed {
        /// What was being read (`openai stream chunk`, `model list`, ...).
        what: String,
        /// What is wrong (serde's message, with line and column).
        message: String,
    },
    /// The stream ended before the provider said the answer was complete.
    #[error("the answer stopped before the provider finished it (connection lost?)")]
    Truncated,
    /// The event stream itself could not be read.
    #[error("unreadable event stream: {error}")]
    Framing {
        /// The decoder's error.
        error: SseError,
    },
}

impl ProviderError {
    /// The failure as the resilience machines classify it: the retry
    /// policy's and the breaker's input. An error type that says "overloaded"
    /// or "rate limited" counts as the HTTP status it stands for, even in a
    /// stream that started with 200; a cut-off stream is a network failure.
    pub fn failure_kind(&self) -> FailureKind {
        let http = |status| FailureKind::Http {
            status,
            retry_after_ms: None,
        };
        match self {
            Self::Http {
                status, error_type, ..
            } if !http(*status).retryable() => http(
                error_type
                    .as_deref()
                    .and_then(transient_status)
                    .unwrap_or(*status),
            ),
            Self::Http { status, .. } => http(*status),
            Self::Api { error_type, .. } => error_type
                .as_deref()
                .and_then(transient_status)
                .map_or(FailureKind::Malformed, http),
            Self::Truncated => FailureKind::Network,
            Self::Malformed { .. } | Self::Framing { .. } => FailureKind::Malformed,
        }
    }

    /// Whether the same request may well succeed later (rate limits,
    /// overload, server errors, a lost connection).
    pub fn is_transient(&self) -> bool {
        self.failure_kind().retryable()
    }

    /// Replaces every occurrence of the key in the message by `***` (a
    /// server may echo it).
    pub fn redact(mut self, key: &Secret) -> Self {
        let text = key.expose();
        if let Some(message) = self.message_mut() {
            if message.contains(text) {
                *message = message.replace(text, "***");
            }
        }
        self
    }

    /// The key redacted (when there is one), then the message cut to
    /// [`MAX_ERROR_MESSAGE_CHARS`]: in this order, so that a cut cannot
    /// leave part of the key behind.
    fn tidy(self, key: Option<&Secret>) -> Self {
        let mut e = match key {
            Some(key) => self.redact(key),
            None => self,
        };
        if let Some(message) = e.message_mut() {
            *message = clip(message);
        }
        e
    }

    fn message_mut(&mut self) -> Option<&mut String> {
        match self {
            Self::Http { message, .. }
            | Self::Api { message, .. }
            | Self::Malformed { message, .. } => Some(message),
            Self::Truncated | Self::Framing { .. } => None,
        }
    }
}

/// The HTTP status a transient error type stands for.
fn transient_status(t: &str) -> Option<u16> {
    Some(match t {
        "rate_limit_error" | "429" => 429,
        "overloaded_error" | "529" => 529,
        "timeout_error" | "504" => 504,
        "api_error" | "server_error" | "500" => 500,
        "502" => 502,
        "503" => 503,
        _ => return None,
    })
}

/// The streaming request for `req` in the config's dialect.
pub fn chat_request(
    config: &ProviderConfig,
    req: &ChatRequest,
) -> Result<HttpRequest, RequestError> {
    match config.settings().kind {
        ProviderKind::OpenAiCompatible => openai::build(config, req),
        ProviderKind::Anthropic => anthropic::build(config, req),
        kind => Err(RequestError::NotHttp { kind }),
    }
}

/// The "test connection" request: `GET {api_root}/models` (both dialects
/// list models there).
pub fn models_request(config: &ProviderConfig) -> Result<HttpRequest, RequestError> {
    match config.settings().kind {
        ProviderKind::OpenAiCompatible => Ok(openai::models_request(config)),
        ProviderKind::Anthropic => Ok(anthropic::models_request(config)),
        kind => Err(RequestError::NotHttp { kind }),
    }
}

/// The model ids in a 2xx answer to [`models_request`] (both dialects
/// answer `{"data": [{"id": ...}, ...]}`), in the server's order.
pub fn parse_models(body: &str) -> Result<Vec<String>, ProviderError> {
    #[derive(Deserialize)]
    struct List {
        data: Vec<Model>,
    }
    #[derive(Deserialize)]
    struct Model {
        id: String,
    }
    let list: List = serde_json::from_str(body).map_err(|e| malformed("model list", &e))?;
    Ok(list.data.into_iter().map(|m| m.id).collect())
}

/// What "test connection" reports.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    /// Time from sending the request to receiving the whole answer, as
    /// measured by the background.
    pub latency_ms: u64,
    /// The models the server lists.
    pub models: Vec<String>,
    /// Whether the configured model is among them.
    pub model_listed: bool,
}

/// Reads the answer to [`models_request`]: the report, or the error the
/// server gave (key redacted).
pub fn connection_report(
    config: &ProviderConfig,
    status: u16,
    body: &str,
    latency_ms: u64,
) -> Result<ConnectionReport, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(parse_error_body(config, status, body));
    }
    let models = parse_models(body).map_err(|e| e.tidy(config.api_key()))?;
    let model_listed = models.iter().any(|m| *m == config.settings().model);
    Ok(ConnectionReport {
        latency_ms,
        models,
        model_listed,
    })
}

/// The error for a non-2xx answer: the message and type from a JSON error
/// body of either dialect (`{"error": {"message", "type"|"code"}}`,
/// Anthropic's `{"type": "error", "error": {...}}`, `{"error": "text"}`,
/// `{"message": ...}`, `{"detail": ...}`), else a description of the body
/// (an HTML page, empty, or its first words). The key is redacted and the
/// message bounded by [`MAX_ERROR_MESSAGE_CHARS`].
pub fn parse_error_body(config: &ProviderConfig, status: u16, body: &str) -> ProviderError {
    let (message, error_type) = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| error_fields(&v))
        .unwrap_or_else(|| (describe_body(status, body), None));
    ProviderError::Http {
        status,
        message,
        error_type,
    }
    .tidy(config.api_key())
}

/// Message and type of a JSON error object of any of the known shapes.
pub(crate) fn error_fields(v: &Value) -> Option<(String, Option<String>)> {
    let inner = match v.get("error") {
        Some(Value::String(s)) => {
            return Some((s.clone(), scalar(v.get("type")).filter(|t| t != "error")))
        }
        Some(e @ Value::Object(_)) => e,
        _ => v,
    };
    let message = match inner.get("message").or_else(|| inner.get("detail")) {
        Some(Value::String(s)) => s.clone(),
        Some(other @ (Value::Array(_) | Value::Object(_))) => other.to_string(),
        _ => return None,
    };
    let error_type = scalar(inner.get("type")).or_else(|| scalar(inner.get("code")));
    Some((message, error_type))
}

/// A string or number as text.
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A message for a body that is not a JSON error.
fn describe_body(status: u16, body: &str) -> String {
    let text = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let phrase = reason_phrase(status);
    if text.is_empty() {
        format!("{phrase} (empty body)")
    } else if text.starts_with('<') {
        format!("{phrase} (the server sent an html page; check the base url)")
    } else {
        format!("{phrase}: {text}")
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "unauthorized (check the api key)",
        402 => "payment required",
        403 => "forbidden",
        404 => "not found (check the base url and model)",
        408 => "request timeout",
        413 => "request too large",
        429 => "rate limited",
        500 => "internal server error",
        502 => "bad gateway",
        503 => "service unavailable",
        504 => "gateway timeout",
        529 => "overloaded",
        _ => "unexpected answer",
    }
}

/// `s`, cut to [`MAX_ERROR_MESSAGE_CHARS`] characters (and `…`).
fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_ERROR_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn malformed(what: &str, e: &serde_json::Error) -> ProviderError {
    ProviderError::Malformed {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

/// A dialect's stream parser: [`SseEvent`]s in, [`StreamEvent`]s out.
/// Used alone, its error messages are as the server sent them; a
/// [`ChatStream`] also redacts the key and bounds them.
#[derive(Debug, Clone)]
pub enum StreamParser {
    /// OpenAI-compatible chat completions.
    OpenAi(openai::StreamParser),
    /// Anthropic Messages.
    Anthropic(anthropic::StreamParser),
}

impl StreamParser {
    /// The parser for `kind`, `None` for providers that are not HTTP.
    pub fn for_kind(kind: ProviderKind) -> Option<Self> {
        match kind {
            ProviderKind::OpenAiCompatible => Some(Self::OpenAi(openai::StreamParser::new())),
            ProviderKind::Anthropic => Some(Self::Anthropic(anthropic::StreamParser::new())),
            ProviderKind::ChromeBuiltIn | ProviderKind::Offline => None,
        }
    }

    /// Reads one event.
    pub fn push(&mut self, event: &SseEvent) -> Vec<StreamEvent> {
        match self {
            Self::OpenAi(p) => p.push(event),
            Self::Anthropic(p) => p.push(event),
        }
    }

    /// The stream ended: the terminal events if the dialect's end marker
    /// has not been seen.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        match self {
            Self::OpenAi(p) => p.finish(),
            Self::Anthropic(p) => p.finish(),
        }
    }

    /// Ends the stream with `error` (after the usage known so far).
    pub fn abort(&mut self, error: ProviderError) -> Vec<StreamEvent> {
        match self {
            Self::OpenAi(p) => p.abort(error),
            Self::Anthropic(p) => p.abort(error),
        }
    }

    /// Whether a terminal event has been produced.
    pub fn is_done(&self) -> bool {
        match self {
            Self::OpenAi(p) => p.is_done(),
            Self::Anthropic(p) => p.is_done(),
        }
    }
}

/// Bytes of a 2xx streaming response in, [`StreamEvent`]s out: an
/// [`SseDecoder`] and the dialect's [`StreamParser`]; error messages have
/// the key redacted and are bounded by [`MAX_ERROR_MESSAGE_CHARS`]. Bytes
/// after the terminal event are ignored.
#[derive(Debug, Clone)]
pub struct ChatStream {
    decoder: SseDecoder,
    parser: StreamParser,
    key: Option<Secret>,
}

impl ChatStream {
    /// A stream for the answer to [`chat_request`]`(config, ..)`.
    pub fn new(config: &ProviderConfig) -> Result<Self, RequestError> {
        let kind = config.settings().kind;
        let parser = StreamParser::for_kind(kind).ok_or(RequestError::NotHttp { kind })?;
        Ok(Self {
            decoder: SseDecoder::default(),
            parser,
            key: config.api_key().cloned(),
        })
    }

    /// Reads the next chunk of the body.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<StreamEvent> {
        if self.parser.is_done() {
            return Vec::new();
        }
        let mut events = Vec::new();
        let decoded = self.decoder.push_into(bytes, &mut events);
        let mut out = Vec::new();
        for event in &events {
            out.extend(self.parser.push(event));
            if self.parser.is_done() {
                return self.redacted(out);
            }
        }
        if let Err(error) = decoded {
            out.extend(self.parser.abort(ProviderError::Framing { error }));
        }
        self.redacted(out)
    }

    /// The body ended: the terminal events if not yet produced (`Truncated`
    /// when the provider never said the answer was complete).
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        if self.parser.is_done() {
            return Vec::new();
        }
        // A partial event at the end is discarded (the spec's rule); whether
        // the answer is complete is the dialect's call.
        let _ = self.decoder.finish();
        let out = self.parser.finish();
        self.redacted(out)
    }

    /// Whether the terminal event has been produced.
    pub fn is_done(&self) -> bool {
        self.parser.is_done()
    }

    fn redacted(&self, events: Vec<StreamEvent>) -> Vec<StreamEvent> {
        events
            .into_iter()
            .map(|e| match e {
                StreamEvent::Error(err) => StreamEvent::Error(err.tidy(self.key.as_ref())),
                other => other,
            })
            .collect()
    }
}

/// Terminal-event bookkeeping shared by both dialects' parsers.
#[derive(Debug, Clone, Default)]
struct Ending {
    tokens_in: Option<u64>,
    tokens_out: Option<u64>,
    done: bool,
}

impl Ending {
    /// `Usage` (when any count is known) then `last`; marks the end.
    fn end(&mut self, last: StreamEvent) -> Vec<StreamEvent> {
        self.done = true;
        let usage =
            (self.tokens_in.is_some() || self.tokens_out.is_some()).then(|| StreamEvent::Usage {
                tokens_in: self.tokens_in.unwrap_or(0),
                tokens_out: self.tokens_out.unwrap_or(0),
            });
        usage.into_iter().chain([last]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> ChatMessage {
        ChatMessage::new(Role::User, text)
    }

    fn assistant(text: &str) -> ChatMessage {
        ChatMessage::new(Role::Assistant, text)
    }

    fn config(kind: ProviderKind, key: Option<&str>) -> ProviderConfig {
        let base = match kind {
            ProviderKind::Anthropic => "https://api.anthropic.com",
            _ => "https://api.openai.com",
        };
        ProviderConfig::new(ProviderSettings::new("p", kind, base, "m"), key).unwrap()
    }

    #[test]
    fn messages_are_normalised() {
        let req = ChatRequest::new(vec![
            assistant("Hi! I'm Clippy."),
            user("one"),
            user("  "),
            user("two"),
            assistant(""),
            assistant("answer"),
            user("three"),
        ]);
        assert_eq!(
            req.normalized_messages(),
            vec![user("one\n\ntwo"), assistant("answer"), user("three")]
        );
    }

    #[test]
    fn requests_are_checked() {
        let c = config(ProviderKind::OpenAiCompatible, None);
        let empty = ChatRequest::new(vec![assistant("hello"), user(" ")]);
        assert_eq!(chat_request(&c, &empty), Err(RequestError::NoMessages));
        let hot = ChatRequest {
            temperature: Some(2.5),
            ..ChatRequest::new(vec![user("x")])
        };
        assert_eq!(
            chat_request(&c, &hot),
            Err(RequestError::Temperature { max: 2 })
        );
        let nan = ChatRequest {
            temperature: Some(f32::NAN),
            ..hot.clone()
        };
        assert_eq!(
            chat_request(&c, &nan),
            Err(RequestError::Temperature { max: 2 })
        );
        let zero = ChatRequest {
            max_tokens: Some(0),
            ..ChatRequest::new(vec![user("x")])
        };
        assert_eq!(
            chat_request(&c, &zero),
            Err(RequestError::MaxTokens {
                max: MAX_MAX_TOKENS
            })
        );
        let a = config(ProviderKind::Anthropic, Some("k"));
        let warm = ChatRequest {
            temperature: Some(1.5),
            ..ChatRequest::new(vec![user("x")])
        };
        assert_eq!(
            chat_request(&a, &warm),
            Err(RequestError::Temperature { max: 1 })
        );
        let offline = ProviderConfig::new(
            ProviderSettings::new("o", ProviderKind::Offline, "", ""),
            None,
        )
        .unwrap();
        let kind = ProviderKind::Offline;
        assert_eq!(
            chat_request(&offline, &warm),
            Err(RequestError::NotHttp { kind })
        );
        assert_eq!(
            models_request(&offline),
            Err(RequestError::NotHttp { kind })
        );
        assert!(ChatStream::new(&offline).is_err());
    }

    #[test]
    fn http_request_debug_hides_auth_headers() {
        for kind in [ProviderKind::OpenAiCompatible, ProviderKind::Anthropic] {
            let c = config(kind, Some("sk-TOPSECRET"));
            let req = chat_request(&c, &ChatRequest::new(vec![user("hi")])).unwrap();
            let shown = format!("{req:?}");
            assert!(!shown.contains("TOPSECRET"), "{shown}");
            assert!(shown.contains("***"));
        }
    }

    #[test]
    fn error_bodies_of_every_known_shape() {
        let c = config(ProviderKind::OpenAiCompatible, None);
        let http = |status, message: &str, t: Option<&str>| ProviderError::Http {
            status,
            message: message.into(),
            error_type: t.map(Into::into),
        };
        let cases = [
            (
                401,
                r#"{"error":{"message":"Incorrect API key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
                http(401, "Incorrect API key", Some("invalid_request_error")),
            ),
            (
                529,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#,
                http(529, "Overloaded", Some("overloaded_error")),
            ),
            (
                402,
                r#"{"error":{"code":402,"message":"Insufficient credits"}}"#,
                http(402, "Insufficient credits", Some("402")),
            ),
            (
                404,
                r#"{"error":"model 'llama9' not found"}"#,
                http(404, "model 'llama9' not found", None),
            ),
            (
                400,
                r#"{"object":"error","message":"bad temperature","type":"BadRequestError","code":400}"#,
                http(400, "bad temperature", Some("BadRequestError")),
            ),
            (
                422,
                r#"{"detail":"Not Found"}"#,
                http(422, "Not Found", None),
            ),
            (
                502,
                "<html><body>Bad gateway</body></html>",
                http(
                    502,
                    "bad gateway (the server sent an html page; check the base url)",
                    None,
                ),
            ),
            (503, "", http(503, "service unavailable (empty body)", None)),
            (
                500,
                "upstream   connect\nerror",
                http(500, "internal server error: upstream connect error", None),
            ),
            (
                418,
                r#"{"unexpected":true}"#,
                http(418, r#"unexpected answer: {"unexpected":true}"#, None),
            ),
        ];
        for (status, body, want) in cases {
            assert_eq!(parse_error_body(&c, status, body), want, "{body}");
        }
    }

    #[test]
    fn error_messages_are_bounded_and_redacted() {
        let c = config(ProviderKind::OpenAiCompatible, Some("sk-ECHOED"));
        let body = format!(
            r#"{{"error":{{"message":"bad key sk-ECHOED {}"}}}}"#,
            "é".repeat(2000)
        );
        let ProviderError::Http { message, .. } = parse_error_body(&c, 401, &body) else {
            panic!()
        };
        assert!(!message.contains("ECHOED"));
        assert!(message.starts_with("bad key *** é"));
        assert_eq!(message.chars().count(), MAX_ERROR_MESSAGE_CHARS + 1);
        // a key straddling the cut is redacted before the cut
        let body = format!(
            r#"{{"error":"{}sk-ECHOED"}}"#,
            "a".repeat(MAX_ERROR_MESSAGE_CHARS - 4)
        );
        let ProviderError::Http { message, .. } = parse_error_body(&c, 401, &body) else {
            panic!()
        };
        assert!(message.ends_with("a***"), "{message}");
    }

    #[test]
    fn transient_errors() {
        let http = |status, t: Option<&str>| ProviderError::Http {
            status,
            message: String::new(),
            error_type: t.map(Into::into),
        };
        assert!(http(429, None).is_transient());
        assert!(http(529, None).is_transient());
        assert!(http(503, None).is_transient());
        assert!(!http(401, Some("authentication_error")).is_transient());
        assert!(!http(400, None).is_transient());
        let api = |t: &str| ProviderError::Api {
            message: String::new(),
            error_type: Some(t.into()),
        };
        assert!(api("overloaded_error").is_transient());
        assert!(!api("invalid_request_error").is_transient());
        assert!(ProviderError::Truncated.is_transient());
    }

    #[test]
    fn failures_are_classified_for_the_resilience_machines() {
        let http = |status| FailureKind::Http {
            status,
            retry_after_ms: None,
        };
        let api = |t: &str| ProviderError::Api {
            message: "m".into(),
            error_type: Some(t.into()),
        };
        assert_eq!(api("overloaded_error").failure_kind(), http(529));
        assert_eq!(api("rate_limit_error").failure_kind(), http(429));
        assert_eq!(
            api("invalid_request_error").failure_kind(),
            FailureKind::Malformed
        );
        assert_eq!(
            ProviderError::Truncated.failure_kind(),
            FailureKind::Network
        );
        let status = |status, error_type: Option<&str>| ProviderError::Http {
            status,
            message: "m".into(),
            error_type: error_type.map(String::from),
        };
        assert_eq!(status(503, None).failure_kind(), http(503));
        assert_eq!(
            status(401, Some("authentication_error")).failure_kind(),
            http(401)
        );
        assert_eq!(
            status(400, Some("overloaded_error")).failure_kind(),
            http(529)
        );
    }

    #[test]
    fn connection_report_lists_models() {
        let c = config(ProviderKind::OpenAiCompatible, None);
        let body =
            r#"{"object":"list","data":[{"id":"x","object":"model"},{"id":"m","object":"model"}]}"#;
        let report = connection_report(&c, 200, body, 42).unwrap();
        assert_eq!(
            report,
            ConnectionReport {
                latency_ms: 42,
                models: vec!["x".into(), "m".into()],
                model_listed: true
            }
        );
        assert!(matches!(
            connection_report(&c, 401, "{}", 1),
            Err(ProviderError::Http { status: 401, .. })
        ));
        let bad = connection_report(&c, 200, r#"{"data":{}}"#, 1).unwrap_err();
        assert!(
            matches!(bad, ProviderError::Malformed { ref what, .. } if what == "model list"),
            "{bad:?}"
        );
    }

    #[test]
    fn provider_error_serde_shape() {
        let e = ProviderError::Framing {
            error: SseError::LineTooLong { limit: 8 },
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "framing");
        assert_eq!(serde_json::from_value::<ProviderError>(json).unwrap(), e);
    }
}
