//! What can go wrong and how an answer ends: [`RequestError`] (a request
//! that cannot be built), [`ProviderError`] (classified for the retry
//! policy), [`FinishReason`] and the [`StreamEvent`]s of a stream; reading a
//! provider's error body.

use super::*;

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
    pub(crate) fn tidy(self, key: Option<&Secret>) -> Self {
        let mut e = match key {
            Some(key) => self.redact(key),
            None => self,
        };
        if let Some(message) = e.message_mut() {
            *message = clip(message);
        }
        let identifier = |t: &str| {
            t.len() <= MAX_ERROR_TYPE_LEN
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-. ".contains(&b))
                && key.is_none_or(|key| !t.contains(key.expose()))
        };
        match &mut e {
            // The error type is a short identifier (`rate_limit_error`):
            // any other text, or one holding the key, is dropped.
            Self::Http { error_type, .. } | Self::Api { error_type, .. } => {
                *error_type = error_type.take().filter(|t| identifier(t));
            }
            // What was read may name the server's event type.
            Self::Malformed { what, .. } if !identifier(what) => {
                *what = "provider response".into();
            }
            _ => {}
        }
        e
    }

    pub(crate) fn message_mut(&mut self) -> Option<&mut String> {
        match self {
            Self::Http { message, .. }
            | Self::Api { message, .. }
            | Self::Malformed { message, .. } => Some(message),
            Self::Truncated | Self::Framing { .. } => None,
        }
    }
}

/// The longest error type kept (`invalid_request_error` is 21).
const MAX_ERROR_TYPE_LEN: usize = 64;

/// The HTTP status a transient error type stands for.
pub(crate) fn transient_status(t: &str) -> Option<u16> {
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
pub(crate) fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A message for a body that is not a JSON error.
pub(crate) fn describe_body(status: u16, body: &str) -> String {
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

pub(crate) fn reason_phrase(status: u16) -> &'static str {
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
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_ERROR_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

pub(crate) fn malformed(what: &str, e: &serde_json::Error) -> ProviderError {
    ProviderError::Malformed {
        what: what.to_owned(),
        message: e.to_string(),
    }
}
