//! Anthropic Messages: [`build`] makes the streaming request,
//! [`StreamParser`] reads its named events.
//!
//! Request: `POST {api_root}/messages` with headers `x-api-key`,
//! `anthropic-version: 2023-06-01`, `anthropic-dangerous-direct-browser-access:
//! true` (needed for calls from a browser) and `content-type:
//! application/json`; body `{"model", "max_tokens", "system"?, "messages",
//! "stream": true, "temperature"?}`.
//!
//! Stream: `message_start` (`message.usage.input_tokens`, plus the cache
//! counts, which are input too), `content_block_start`, `ping`,
//! `content_block_delta` (text from `text_delta`; other deltas, such as
//! thinking or tool input, are skipped), `content_block_stop`,
//! `message_delta` (`delta.stop_reason`, cumulative `usage.output_tokens`),
//! `message_stop` (the end); an `error` event may arrive at any point and
//! ends the stream with [`ProviderError::Api`] carrying its type
//! (`overloaded_error`, ...). Unknown event types are skipped, as
//! Anthropic's versioning policy asks. The dispatch uses the JSON `type`,
//! which always equals the `event:` name.
//!
//! ```
//! use paperclip_core::provider::anthropic::StreamParser;
//! use paperclip_core::provider::sse::SseEvent;
//! use paperclip_core::provider::StreamEvent;
//!
//! let data = |d: &str| SseEvent { event: None, data: d.into(), id: None };
//! let mut p = StreamParser::new();
//! let out = p.push(&data(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#));
//! assert_eq!(out, [StreamEvent::Delta("Hi".into())]);
//! ```

use serde::{Deserialize, Serialize};

use super::openai::to_json;
use super::sse::SseEvent;
use super::{
    malformed, role_name, ChatRequest, Ending, FinishReason, HttpRequest, ProviderConfig,
    ProviderError, RequestError, StreamEvent,
};

/// The API version this code speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Anthropic temperatures go up to 1.
const MAX_TEMPERATURE: u8 = 1;

/// How many models "test connection" asks for (the API's maximum page).
const MODELS_PAGE: u32 = 1000;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    messages: Vec<WireMessage<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'a str,
    content: &'a str,
}

/// The streaming Messages request (see the module docs for its shape).
pub fn build(config: &ProviderConfig, req: &ChatRequest) -> Result<HttpRequest, RequestError> {
    let settings = config.settings();
    let prepared = req.prepare(settings, MAX_TEMPERATURE)?;
    let body = Body {
        model: &settings.model,
        max_tokens: prepared.max_tokens,
        system: req.system_text(),
        messages: prepared
            .messages
            .iter()
            .map(|m| WireMessage {
                role: role_name(m.role),
                content: &m.content,
            })
            .collect(),
        stream: true,
        temperature: req.temperature,
    };
    let url = format!("{}/messages", settings.api_root());
    Ok(HttpRequest::streaming_post(
        url,
        auth_headers(config),
        to_json(&body),
    ))
}

/// `GET {api_root}/models?limit=1000` with Anthropic's headers.
pub fn models_request(config: &ProviderConfig) -> HttpRequest {
    let url = format!(
        "{}/models?limit={MODELS_PAGE}",
        config.settings().api_root()
    );
    HttpRequest::json_get(url, auth_headers(config))
}

fn auth_headers(config: &ProviderConfig) -> Vec<(&'static str, String)> {
    let mut headers = Vec::with_capacity(3);
    if let Some(key) = config.api_key() {
        headers.push(("x-api-key", key.expose().to_owned()));
    }
    headers.push(("anthropic-version", ANTHROPIC_VERSION.to_owned()));
    headers.push((
        "anthropic-dangerous-direct-browser-access",
        "true".to_owned(),
    ));
    headers
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        content_block: Block,
    },
    ContentBlockDelta {
        delta: BlockDelta,
    },
    MessageDelta {
        #[serde(default)]
        delta: Option<MessageDelta>,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Error {
        error: ErrorBody,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

impl WireUsage {
    /// All input tokens, when the input count is given.
    fn input(&self) -> Option<u64> {
        let cache = self
            .cache_creation_input_tokens
            .unwrap_or(0)
            .saturating_add(self.cache_read_input_tokens.unwrap_or(0));
        self.input_tokens.map(|n| n.saturating_add(cache))
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Reads an Anthropic stream's events (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct StreamParser {
    reason: Option<FinishReason>,
    ending: Ending,
}

impl StreamParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one event; nothing after the terminal event.
    pub fn push(&mut self, event: &SseEvent) -> Vec<StreamEvent> {
        if self.ending.done {
            return Vec::new();
        }
        match serde_json::from_str::<Event>(&event.data) {
            Ok(e) => self.event(e),
            Err(e) => {
                let what = format!(
                    "anthropic {} event",
                    event.event.as_deref().unwrap_or("stream")
                );
                self.abort(malformed(&what, &e))
            }
        }
    }

    /// The stream ended without `message_stop`: `Truncated`.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        self.abort(ProviderError::Truncated)
    }

    /// Ends the stream with `error`, after the usage known so far.
    pub fn abort(&mut self, error: ProviderError) -> Vec<StreamEvent> {
        if self.ending.done {
            return Vec::new();
        }
        self.ending.end(StreamEvent::Error(error))
    }

    /// Whether the terminal event has been produced.
    pub fn is_done(&self) -> bool {
        self.ending.done
    }

    fn event(&mut self, event: Event) -> Vec<StreamEvent> {
        match event {
            Event::MessageStart { message } => {
                self.usage(&message.usage.unwrap_or_default());
                Vec::new()
            }
            Event::ContentBlockStart {
                content_block: Block::Text { text },
            } => delta(text),
            Event::ContentBlockDelta {
                delta: BlockDelta::TextDelta { text },
            } => delta(text),
            Event::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.and_then(|d| d.stop_reason) {
                    self.reason = Some(FinishReason::from_wire(&reason));
                }
                self.usage(&usage.unwrap_or_default());
                Vec::new()
            }
            Event::MessageStop => {
                let reason = self.reason.take().unwrap_or(FinishReason::Unspecified);
                self.ending.end(StreamEvent::Finished { reason })
            }
            Event::Error { error } => {
                let message = error
                    .message
                    .unwrap_or_else(|| "the provider reported an error".into());
                self.abort(ProviderError::Api {
                    message,
                    error_type: error.kind,
                })
            }
            Event::ContentBlockStart { .. } | Event::ContentBlockDelta { .. } | Event::Other => {
                Vec::new()
            }
        }
    }

    /// Counts are cumulative: the latest given wins.
    fn usage(&mut self, usage: &WireUsage) {
        self.ending.tokens_in = usage.input().or(self.ending.tokens_in);
        self.ending.tokens_out = usage.output_tokens.or(self.ending.tokens_out);
    }
}

fn delta(text: String) -> Vec<StreamEvent> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![StreamEvent::Delta(text)]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::conversation::Role;
    use crate::provider::Method;
    use crate::provider::{ChatMessage, ProviderKind, ProviderSettings};

    fn config(base: &str) -> ProviderConfig {
        let settings =
            ProviderSettings::new("a", ProviderKind::Anthropic, base, "claude-sonnet-4-5");
        ProviderConfig::new(settings, Some("sk-ant-KEY")).unwrap()
    }

    fn data(d: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: d.into(),
            id: None,
        }
    }

    #[test]
    fn request_is_exactly_as_documented() {
        let req = ChatRequest {
            system: Some("You are Clippy.".into()),
            messages: vec![ChatMessage::new(Role::User, "Hi")],
            max_tokens: None,
            temperature: Some(0.25),
        };
        let http = build(&config("https://api.anthropic.com/"), &req).unwrap();
        assert_eq!(http.method, Method::Post);
        assert_eq!(http.url, "https://api.anthropic.com/v1/messages");
        let headers: Vec<(&str, &str)> = http
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            headers,
            [
                ("content-type", "application/json"),
                ("accept", "text/event-stream"),
                ("x-api-key", "sk-ant-KEY"),
                ("anthropic-version", "2023-06-01"),
                ("anthropic-dangerous-direct-browser-access", "true"),
            ]
        );
        let body: Value = serde_json::from_str(http.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 1024,
                "system": "You are Clippy.",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": true,
                "temperature": 0.25
            })
        );
        let bare = build(
            &config("https://api.anthropic.com/v1"),
            &ChatRequest::new(req.messages.clone()),
        )
        .unwrap();
        assert_eq!(bare.url, "https://api.anthropic.com/v1/messages");
        let body: Value = serde_json::from_str(bare.body.as_deref().unwrap()).unwrap();
        assert_eq!(body.get("system"), None);
        assert_eq!(body.get("temperature"), None);
    }

    #[test]
    fn models_request_shape() {
        let http = models_request(&config("https://api.anthropic.com"));
        assert_eq!(http.url, "https://api.anthropic.com/v1/models?limit=1000");
        assert_eq!(http.header("x-api-key"), Some("sk-ant-KEY"));
        assert_eq!(http.header("anthropic-version"), Some(ANTHROPIC_VERSION));
        assert_eq!(http.body, None);
    }

    #[test]
    fn cache_tokens_count_as_input_and_later_counts_win() {
        let mut p = StreamParser::new();
        p.push(&data(r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":1}}}"#));
        p.push(&data(r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":7}}"#));
        let out = p.push(&data(r#"{"type":"message_stop"}"#));
        assert_eq!(
            out,
            [
                StreamEvent::Usage {
                    tokens_in: 115,
                    tokens_out: 7
                },
                StreamEvent::Finished {
                    reason: FinishReason::Length
                }
            ]
        );
    }

    #[test]
    fn non_text_blocks_and_unknown_events_are_skipped() {
        let mut p = StreamParser::new();
        for d in [
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"x"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"brand_new_event","x":1}"#,
            r#"{"type":"ping"}"#,
        ] {
            assert_eq!(p.push(&data(d)), [], "{d}");
        }
        assert!(!p.is_done());
    }

    #[test]
    fn malformed_events_say_what_and_where() {
        let out = StreamParser::new().push(&SseEvent {
            event: Some("content_block_delta".into()),
            data: r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}"#
                .into(),
            id: None,
        });
        let [StreamEvent::Error(ProviderError::Malformed { what, message })] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(what, "anthropic content_block_delta event");
        assert!(message.contains("missing field `text`"), "{message}");
        let out = StreamParser::new().push(&data("{}"));
        assert!(
            matches!(&out[..], [StreamEvent::Error(ProviderError::Malformed { message, .. })] if message.contains("missing field `type`"))
        );
    }

    #[test]
    fn truncated_stream_reports_known_usage() {
        let mut p = StreamParser::new();
        p.push(&data(
            r#"{"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}"#,
        ));
        p.push(&data(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#));
        assert_eq!(
            p.finish(),
            [
                StreamEvent::Usage {
                    tokens_in: 25,
                    tokens_out: 1
                },
                StreamEvent::Error(ProviderError::Truncated)
            ]
        );
        assert_eq!(p.finish(), []);
    }
}
