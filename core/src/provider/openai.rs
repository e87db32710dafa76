//! OpenAI-compatible chat completions: [`build`] makes the streaming
//! request, [`StreamParser`] reads its `data:` chunks.
//!
//! Request: `POST {api_root}/chat/completions` with `{"model", "messages",
//! "stream": true, "stream_options": {"include_usage": true}, "max_tokens",
//! "temperature"?}`; `Authorization: Bearer KEY` only when a key is set
//! (local servers need none). OpenAI itself (`api.openai.com`) gets
//! `max_completion_tokens` instead of `max_tokens` (its reasoning models
//! refuse the old name; Ollama, LM Studio, llama.cpp and OpenRouter document
//! `max_tokens`).
//!
//! Stream: each `data:` is a `chat.completion.chunk`; the text is
//! `choices[0].delta.content`; `finish_reason` arrives in a late chunk; with
//! `include_usage` a last chunk has `usage` and empty `choices`; `data:
//! [DONE]` ends it. A chunk with an `error` object (OpenRouter, OpenAI) or an
//! `event: error` ends it with [`ProviderError::Api`]. Servers that close
//! without `[DONE]` after a `finish_reason` are accepted.
//!
//! ```
//! use paperclip_core::provider::openai::StreamParser;
//! use paperclip_core::provider::sse::SseEvent;
//! use paperclip_core::provider::{FinishReason, StreamEvent};
//!
//! let data = |d: &str| SseEvent { event: None, data: d.into(), id: None };
//! let mut p = StreamParser::new();
//! assert_eq!(p.push(&data(r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#)), [StreamEvent::Delta("Hi".into())]);
//! assert_eq!(p.push(&data("[DONE]")), [StreamEvent::Finished { reason: FinishReason::Stop }]);
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sse::SseEvent;
use super::{
    error_fields, malformed, role_name, ChatRequest, Ending, FinishReason, HttpRequest,
    ProviderConfig, ProviderError, RequestError, StreamEvent,
};

/// OpenAI-compatible temperatures go up to 2.
const MAX_TEMPERATURE: u8 = 2;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    stream: bool,
    stream_options: StreamOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// The streaming chat request (see the module docs for its shape).
pub fn build(config: &ProviderConfig, req: &ChatRequest) -> Result<HttpRequest, RequestError> {
    let settings = config.settings();
    let prepared = req.prepare(settings, MAX_TEMPERATURE)?;
    let system = req.system_text().map(|s| WireMessage {
        role: "system",
        content: s,
    });
    let messages = system
        .into_iter()
        .chain(prepared.messages.iter().map(|m| WireMessage {
            role: role_name(m.role),
            content: &m.content,
        }))
        .collect();
    let official = settings.host() == "api.openai.com";
    let body = Body {
        model: &settings.model,
        messages,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
        max_tokens: (!official).then_some(prepared.max_tokens),
        max_completion_tokens: official.then_some(prepared.max_tokens),
        temperature: req.temperature,
    };
    let url = format!("{}/chat/completions", settings.api_root());
    Ok(HttpRequest::streaming_post(
        url,
        auth(config),
        to_json(&body),
    ))
}

/// `GET {api_root}/models`, with the key when set.
pub fn models_request(config: &ProviderConfig) -> HttpRequest {
    HttpRequest::json_get(
        format!("{}/models", config.settings().api_root()),
        auth(config),
    )
}

fn auth(config: &ProviderConfig) -> Option<(&'static str, String)> {
    config
        .api_key()
        .map(|k| ("authorization", format!("Bearer {}", k.expose())))
}

/// Serializes a body made of strings and numbers (cannot fail; NaN
/// temperatures are refused before).
pub(super) fn to_json(body: &impl Serialize) -> String {
    serde_json::to_string(body).unwrap_or_default()
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// Reads an OpenAI-compatible stream's events (see the module docs).
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
        if event.data.trim() == "[DONE]" {
            let reason = self.reason.take().unwrap_or(FinishReason::Unspecified);
            return self.ending.end(StreamEvent::Finished { reason });
        }
        if event.event.as_deref() == Some("error") {
            return self.abort(error_event(&event.data));
        }
        match serde_json::from_str::<Chunk>(&event.data) {
            Ok(chunk) => self.chunk(chunk),
            Err(e) => self.abort(malformed("openai stream chunk", &e)),
        }
    }

    /// The stream ended: `Finished` if a `finish_reason` came (some servers
    /// omit `[DONE]`), else `Truncated`.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        if self.ending.done {
            return Vec::new();
        }
        match self.reason.take() {
            Some(reason) => self.ending.end(StreamEvent::Finished { reason }),
            None => self.abort(ProviderError::Truncated),
        }
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

    fn chunk(&mut self, chunk: Chunk) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        for choice in chunk
            .choices
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.index == 0)
        {
            if let Some(text) = choice
                .delta
                .and_then(|d| d.content)
                .filter(|t| !t.is_empty())
            {
                out.push(StreamEvent::Delta(text));
            }
            if let Some(reason) = choice.finish_reason {
                self.reason = Some(FinishReason::from_wire(&reason));
            }
        }
        if let Some(usage) = chunk.usage {
            self.ending.tokens_in = usage.prompt_tokens.or(self.ending.tokens_in);
            self.ending.tokens_out = usage.completion_tokens.or(self.ending.tokens_out);
        }
        if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
            out.extend(self.abort(api_error(&error)));
        }
        out
    }
}

/// The error of an in-stream `{"error": {...}}` (or the error object itself).
fn api_error(error: &Value) -> ProviderError {
    let wrapped = serde_json::json!({ "error": error });
    let (message, error_type) = error_fields(&wrapped).unwrap_or_else(|| {
        (
            "the provider reported an error without a message".into(),
            None,
        )
    });
    ProviderError::Api {
        message,
        error_type,
    }
}

/// The error of an `event: error` whose data is JSON or plain text.
fn error_event(data: &str) -> ProviderError {
    match serde_json::from_str::<Value>(data) {
        Ok(v) => match v.get("error") {
            Some(inner) => api_error(inner),
            None => api_error(&v),
        },
        Err(_) => ProviderError::Api {
            message: data.trim().to_owned(),
            error_type: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::conversation::Role;
    use crate::provider::Method;
    use crate::provider::{ChatMessage, ProviderKind, ProviderSettings};

    fn config(base: &str, key: Option<&str>) -> ProviderConfig {
        ProviderConfig::new(
            ProviderSettings::new("p", ProviderKind::OpenAiCompatible, base, "gpt-4o-mini"),
            key,
        )
        .unwrap()
    }

    fn body(req: &HttpRequest) -> Value {
        serde_json::from_str(req.body.as_deref().unwrap()).unwrap()
    }

    fn data(d: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: d.into(),
            id: None,
        }
    }

    #[test]
    fn openai_request_is_exactly_as_documented() {
        let c = config("https://api.openai.com", Some("sk-test-KEY"));
        let req = ChatRequest {
            system: Some("You are Clippy.".into()),
            messages: vec![
                ChatMessage::new(Role::User, "Hi"),
                ChatMessage::new(Role::Assistant, "Hello!"),
                ChatMessage::new(Role::User, "Sum up"),
            ],
            max_tokens: Some(300),
            temperature: Some(0.5),
        };
        let http = build(&c, &req).unwrap();
        assert_eq!(http.method, Method::Post);
        assert_eq!(http.url, "https://api.openai.com/v1/chat/completions");
        assert_eq!(
            http.headers,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("accept".to_owned(), "text/event-stream".to_owned()),
                ("authorization".to_owned(), "Bearer sk-test-KEY".to_owned()),
            ]
        );
        assert_eq!(
            body(&http),
            json!({
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "You are Clippy."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "Sum up"}
                ],
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_completion_tokens": 300,
                "temperature": 0.5
            })
        );
    }

    #[test]
    fn local_request_has_no_auth_and_uses_max_tokens() {
        let c = config("http://localhost:11434/v1/", None);
        let http = build(
            &c,
            &ChatRequest::new(vec![ChatMessage::new(Role::User, "Hi")]),
        )
        .unwrap();
        assert_eq!(http.url, "http://localhost:11434/v1/chat/completions");
        assert_eq!(http.header("authorization"), None);
        assert_eq!(
            body(&http),
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_tokens": 1024
            })
        );
    }

    #[test]
    fn models_request_shape() {
        let http = models_request(&config("https://openrouter.ai/api/v1", Some("sk-or-1")));
        assert_eq!(http.method, Method::Get);
        assert_eq!(http.url, "https://openrouter.ai/api/v1/models");
        assert_eq!(http.header("authorization"), Some("Bearer sk-or-1"));
        assert_eq!(http.body, None);
        assert_eq!(
            models_request(&config("http://127.0.0.1:8080", None)).url,
            "http://127.0.0.1:8080/v1/models"
        );
    }

    #[test]
    fn malformed_chunk_is_a_precise_error() {
        let mut p = StreamParser::new();
        p.push(&data(
            r#"{"choices":[{"index":0,"delta":{"content":"a"}}],"usage":null}"#,
        ));
        let out = p.push(&data(r#"{"choices":[{"index":0,"delta":{"content":"b"}"#));
        let [StreamEvent::Error(ProviderError::Malformed { what, message })] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(what, "openai stream chunk");
        assert!(message.contains("line 1 column"), "{message}");
        assert!(p.is_done());
        assert!(p.push(&data("[DONE]")).is_empty());
        let out = StreamParser::new().push(&data(r#"{"choices":[{"delta":{"content":7}}]}"#));
        assert!(
            matches!(&out[..], [StreamEvent::Error(ProviderError::Malformed { message, .. })] if message.contains("invalid type")),
            "{out:?}"
        );
    }

    #[test]
    fn error_event_and_error_chunk() {
        let out = StreamParser::new().push(&SseEvent {
            event: Some("error".into()),
            data: r#"{"error":{"message":"slot unavailable","type":"server_error","code":503}}"#
                .into(),
            id: None,
        });
        assert_eq!(
            out,
            [StreamEvent::Error(ProviderError::Api {
                message: "slot unavailable".into(),
                error_type: Some("server_error".into())
            })]
        );
        let out = StreamParser::new().push(&SseEvent {
            event: Some("error".into()),
            data: "boom".into(),
            id: None,
        });
        assert_eq!(
            out,
            [StreamEvent::Error(ProviderError::Api {
                message: "boom".into(),
                error_type: None
            })]
        );
        let mut p = StreamParser::new();
        let out = p.push(&data(
            r#"{"choices":[{"index":0,"delta":{"content":"x"}}],"error":{}}"#,
        ));
        assert_eq!(out[0], StreamEvent::Delta("x".into()));
        assert!(matches!(
            &out[1],
            StreamEvent::Error(ProviderError::Api {
                error_type: None,
                ..
            })
        ));
    }

    #[test]
    fn other_choices_and_empty_content_are_ignored() {
        let mut p = StreamParser::new();
        let out = p.push(&data(
            r#"{"choices":[{"index":1,"delta":{"content":"B"}},{"index":0,"delta":{"role":"assistant","content":""}},{"index":0,"delta":{"content":null}}]}"#,
        ));
        assert!(out.is_empty());
        assert_eq!(p.push(&data(r#"{"choices":null}"#)), []);
    }

    #[test]
    fn end_without_done() {
        let mut p = StreamParser::new();
        p.push(&data(
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
        ));
        assert_eq!(
            p.finish(),
            [StreamEvent::Finished {
                reason: FinishReason::Length
            }]
        );
        let mut p = StreamParser::new();
        p.push(&data(
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        ));
        assert_eq!(
            p.finish(),
            [
                StreamEvent::Usage {
                    tokens_in: 3,
                    tokens_out: 4
                },
                StreamEvent::Error(ProviderError::Truncated)
            ]
        );
        assert_eq!(p.finish(), []);
    }
}
