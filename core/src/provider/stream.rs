//! [`ChatStream`]: the event-stream decoder and the provider's parser
//! together, turning body chunks into [`StreamEvent`]s.

use super::*;

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

    pub(crate) fn redacted(&self, events: Vec<StreamEvent>) -> Vec<StreamEvent> {
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
pub(crate) struct Ending {
    pub(crate) tokens_in: Option<u64>,
    pub(crate) tokens_out: Option<u64>,
    pub(crate) done: bool,
}

impl Ending {
    /// `Usage` (when any count is known) then `last`; marks the end.
    pub(crate) fn end(&mut self, last: StreamEvent) -> Vec<StreamEvent> {
        self.done = true;
        let usage =
            (self.tokens_in.is_some() || self.tokens_out.is_some()).then(|| StreamEvent::Usage {
                tokens_in: self.tokens_in.unwrap_or(0),
                tokens_out: self.tokens_out.unwrap_or(0),
            });
        usage.into_iter().chain([last]).collect()
    }
}
