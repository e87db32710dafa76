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
mod error;
pub mod local;
pub mod openai;
pub mod price;
pub mod prompt;
pub mod sse;
mod stream;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::config::{
    normalize_base_url, ConfigError, ProviderConfig, ProviderKind, ProviderSettings,
    PublicProviderConfig, Secret, StoredProviderConfig, UrlError, DEFAULT_MAX_TOKENS, MAX_ID_LEN,
    MAX_KEY_LEN, MAX_LABEL_CHARS, MAX_MAX_TOKENS, MAX_MODEL_LEN, MAX_URL_LEN,
};
pub use self::error::*;
use self::sse::{SseDecoder, SseError, SseEvent};
pub use self::stream::*;
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

/// The most models a connection report lists (a server may list any
/// number).
pub const MAX_MODELS: usize = 500;
/// The longest model name a report lists, in characters (longer ones are
/// left out).
pub const MAX_MODEL_NAME_CHARS: usize = 200;
/// The most bytes of a connection test's answer that are read.
pub const MAX_TEST_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The most bytes of an error answer that are read.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Reads the answer to [`models_request`]: the report (at most
/// [`MAX_MODELS`] names of at most [`MAX_MODEL_NAME_CHARS`]), or the error
/// the server gave (key redacted).
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
    let models = models
        .into_iter()
        .filter(|m| m.chars().count() <= MAX_MODEL_NAME_CHARS)
        .take(MAX_MODELS)
        .collect();
    Ok(ConnectionReport {
        latency_ms,
        models,
        model_listed,
    })
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

    /// Found by the `chat_stream` fuzz target: an error type echoing the
    /// key (or any text that is not an identifier) was kept as it came.
    #[test]
    fn error_types_are_identifiers_without_the_key() {
        let key = "sk-fuzz-SECRET-0123456789";
        let c = config(ProviderKind::Anthropic, Some(key));
        let mut stream = ChatStream::new(&c).unwrap();
        let events = stream.push(
            format!("event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_errord {key}\"}}}}\n\n")
                .as_bytes(),
        );
        let [StreamEvent::Error(ProviderError::Api { error_type, .. })] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(error_type, &None);
        for (kind, body) in [
            (
                key,
                format!(r#"{{"error":{{"message":"m","type":"{key}"}}}}"#),
            ),
            (
                "long",
                format!(
                    r#"{{"error":{{"message":"m","type":"{}"}}}}"#,
                    "x".repeat(65)
                ),
            ),
        ] {
            let ProviderError::Http { error_type, .. } = parse_error_body(&c, 400, &body) else {
                panic!()
            };
            assert_eq!(error_type, None, "{kind}");
        }
        // A malformed event of a type named after the key.
        let mut stream = ChatStream::new(&c).unwrap();
        let events = stream.push(format!("event: x{key}\ndata: {{\n\n").as_bytes());
        let text = format!("{events:?}");
        assert!(
            !text.contains(key) && text.contains("provider response"),
            "{text}"
        );
        let body = r#"{"error":{"message":"m","type":"rate_limit_error"}}"#;
        let ProviderError::Http { error_type, .. } = parse_error_body(&c, 429, body) else {
            panic!()
        };
        assert_eq!(error_type.as_deref(), Some("rate_limit_error"));
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

    #[test]
    fn model_lists_are_bounded() {
        let c = config(ProviderKind::OpenAiCompatible, None);
        let mut ids: Vec<String> = (0..5_000).map(|i| format!("model-{i}")).collect();
        ids.push("m".into());
        ids.insert(0, "x".repeat(10_000));
        let body = serde_json::json!({"data": ids.iter().map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>()});
        let report = connection_report(&c, 200, &body.to_string(), 5).unwrap();
        assert_eq!(report.models.len(), MAX_MODELS);
        assert!(report
            .models
            .iter()
            .all(|m| m.chars().count() <= MAX_MODEL_NAME_CHARS));
        assert!(report.model_listed, "found beyond the listed part");
    }
}
