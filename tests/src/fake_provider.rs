//! A fake AI provider on 127.0.0.1 for tests: the OpenAI-compatible and the
//! Anthropic APIs, streaming wire-exact, with faults scripted per request.
//!
//! [`FakeProvider::start`] binds a free loopback port and serves, on a
//! thread and tokio runtime of its own, until the [`FakeProvider`] is
//! dropped:
//!
//! - `POST /v1/chat/completions`: OpenAI dialect, `chat.completion.chunk`
//!   events (role first, content pieces, `finish_reason`, a usage chunk with
//!   empty `choices` when `stream_options.include_usage` is true, then
//!   `data: [DONE]`), or one `chat.completion` object without `stream`;
//! - `POST /v1/messages`: Anthropic dialect, `message_start`,
//!   `content_block_start`, `ping`, `content_block_delta`…,
//!   `content_block_stop`, `message_delta`, `message_stop`, or one `message`
//!   object without `stream`;
//! - `GET /v1/models`: Anthropic's list when the request carries
//!   `anthropic-version`, OpenAI's otherwise;
//! - `OPTIONS` anything: a CORS preflight answer (every answer carries
//!   `Access-Control-Allow-Origin: *`);
//! - `GET /api/tags` in [`Mode::Ollama`]: Ollama's model list; in
//!   [`Mode::Refusing`] every request but the control ones gets `403`
//!   (a local server that refuses the extension's origin);
//! - `/__fake/…`: the control endpoints (below).
//!
//! Every connection serves one request and closes (`Connection: close`), so
//! each request meets exactly one fault. Streams are `text/event-stream`
//! with `Transfer-Encoding: chunked`, one SSE event per HTTP chunk (except
//! under [`Fault::SlowTrickle`] with `piece_bytes`).
//!
//! The answer is deterministic: `Echo: ` and the text of the last user
//! message ([`answer_for`]), sent in pieces of [`Config::chunk_chars`]
//! characters ([`chunks`]). Tokens are whitespace-separated words
//! ([`words`]): input = every message plus the system prompt, output = the
//! answer. A `max_tokens` (or `max_completion_tokens`) below the answer's
//! word count cuts it to that many words and ends with `length` /
//! `max_tokens`. Ids are `chatcmpl-fakeN` / `msg_fakeN` and `created` is
//! [`CREATED`], so the bytes are reproducible.
//!
//! Requests are checked like the real services do: a JSON object body with
//! `model` and `messages` (and `max_tokens` for Anthropic), and
//! `anthropic-version` on every Anthropic request, else 400 in the
//! dialect's error format. With [`Config::key`] set, `Authorization: Bearer
//! KEY` (OpenAI) or `x-api-key: KEY` (Anthropic) must match, else 401.
//!
//! # Faults
//!
//! A provider request (the three endpoints above, and any unknown path while
//! the server is down) takes one [`Fault`]: the fault given to
//! [`FakeProvider::set_down`] while down; otherwise the next one scripted for
//! its [`Route`], or else the next one scripted for [`Route::Any`], or else
//! [`Fault::Ok`]. Preflights and control requests never take a fault.
//!
//! # Control endpoints
//!
//! For a browser-side test or another process (all JSON, CORS-enabled):
//!
//! - `POST /__fake/script` `{"route": "any" | "chat_completions" |
//!   "messages" | "models", "faults": [FAULT, …]}` (route defaults to
//!   `any`) appends to that route's queue; answers `{"route", "queued"}`;
//! - `POST /__fake/down` `{"down": true, "fault"?: FAULT}` (default
//!   [`Config::down_fault`]) or `{"down": false}`;
//! - `GET /__fake/requests`: every provider request and preflight received
//!   (control requests are not logged), as [`RecordedRequest`]s;
//! - `POST /__fake/reset`: empties the queues and the log, and comes up.
//!
//! A FAULT is serde's form of [`Fault`]: `"ok"`, `{"status": 503}`,
//! `{"too_many_requests": {"retry_after_s": 2}}`, `"reset"`,
//! `"hang_before_headers"`, `{"stall_mid_stream": {"after_chunks": 2,
//! "for_ms": 500}}`, `{"drop_mid_stream": {"after_chunks": 2}}`,
//! `{"malformed_chunk": {"at": 1}}`, `{"slow_trickle": {"delay_ms": 50}}`
//! (optionally `"piece_bytes": 3`), `{"error_mid_stream": {"after_chunks":
//! 1}}`.
//!
//! ```no_run
//! use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
//!
//! # fn main() -> anyhow::Result<()> {
//! let fake = FakeProvider::start()?;
//! fake.script(Route::Messages, [Fault::Status(529), Fault::Ok]);
//! let base = fake.base_url(); // http://127.0.0.1:PORT; the client adds /v1/…
//! // … a client retries the overloaded answer and gets "Echo: …" …
//! assert_eq!(fake.requests().len(), 2);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The `created` timestamp of every completion and model (Unix seconds).
pub const CREATED: u64 = 1_700_000_000;

/// Request headers whose values are replaced by `<redacted>` in the log.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
];
/// Request headers allowed by a preflight when it names none.
const ALLOWED_HEADERS: &str = "authorization, content-type, x-api-key, anthropic-version, \
     anthropic-beta, anthropic-dangerous-direct-browser-access";
/// Response headers readable by cross-origin scripts.
const EXPOSED_HEADERS: &str = "retry-after, request-id, x-request-id";
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 32 * 1024 * 1024;

/// What happens to one request.
///
/// "Chunks" count the text pieces of an answer: `after_chunks: 2` acts
/// once the opening events (role chunk; `message_start`,
/// `content_block_start`, `ping`) and two text pieces have been sent, so
/// the client has seen exactly the first two [`chunks`] of the answer. A
/// count past the last piece acts just after it, before the closing events.
/// On a non-streaming request the mid-stream faults act on the JSON body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// A normal answer.
    #[default]
    Ok,
    /// This HTTP status with the dialect's error JSON (`500`, `503`, `529`,
    /// …; 503 and 529 are `overloaded_error` for Anthropic).
    Status(u16),
    /// 429 with `Retry-After: retry_after_s` and the dialect's rate-limit
    /// error JSON.
    TooManyRequests {
        /// The `Retry-After` value, in seconds.
        retry_after_s: u64,
    },
    /// Reads the request, then closes the socket with `SO_LINGER` 0, so the
    /// client gets a TCP RST (`ECONNRESET`) and no response.
    Reset,
    /// Reads the request and never answers: the connection stays open
    /// until the client closes it, [`Config::max_hang`] passes (then a
    /// plain close, still without a response) or the server stops.
    HangBeforeHeaders,
    /// Sends the headers and `after_chunks` pieces, goes silent for
    /// `for_ms`, then sends the rest normally. Non-streaming: the headers,
    /// the pause, then the body.
    StallMidStream {
        /// Text pieces sent before the pause.
        after_chunks: usize,
        /// The pause, in milliseconds.
        for_ms: u64,
    },
    /// Sends the headers and `after_chunks` pieces, waits 200 ms, then
    /// closes the connection (FIN) without the terminating HTTP chunk,
    /// `[DONE]` or `message_stop`. Non-streaming: half the `Content-Length` body.
    DropMidStream {
        /// Text pieces sent before the close.
        after_chunks: usize,
    },
    /// The text piece number `at` (from 0) is sent with its JSON cut in
    /// half (`data: {"choices":[{"del…`) instead of whole; the rest of the stream
    /// is normal, so the answer lacks that piece. Non-streaming: a body
    /// of half the JSON.
    MalformedChunk {
        /// Which text piece is broken (past the last: the last).
        at: usize,
    },
    /// The whole answer, slowly: each write is preceded by `delay_ms`.
    /// Writes are SSE events, or with `piece_bytes` pieces of that many
    /// bytes cut anywhere (inside lines, events and UTF-8 characters), each
    /// its own HTTP chunk. Non-streaming: the body in pieces of
    /// `piece_bytes` (default 16).
    SlowTrickle {
        /// The pause before each write, in milliseconds.
        delay_ms: u64,
        /// Bytes per write (default: one SSE event per write).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        piece_bytes: Option<usize>,
    },
    /// Beyond the issue's list: after `after_chunks` pieces, an error in
    /// the stream (Anthropic `event: error` with `overloaded_error`; OpenAI
    /// `data: {"error": {…, "type": "server_error"}}`), then the stream
    /// ends (properly framed, without `[DONE]` or `message_stop`).
    /// Non-streaming: as `Status(500)`.
    ErrorMidStream {
        /// Text pieces sent before the error.
        after_chunks: usize,
    },
    /// A stream without end: the opening events, then the first text piece
    /// again and again (every `delay_ms`, or as fast as the client reads)
    /// until the client hangs up (or two minutes pass).
    /// Non-streaming: a normal answer.
    Endless {
        /// The pause between pieces, in milliseconds.
        delay_ms: u64,
    },
    /// A redirect (`status`, e.g. 307, which would re-send the body and
    /// headers) to `location`, e.g. another server that records what
    /// reaches it.
    Redirect {
        /// 301, 302, 307 or 308.
        status: u16,
        /// The `Location` header.
        location: String,
    },
}

/// How long [`Fault::DropMidStream`] waits between its last piece and the
/// close.
const DROP_PAUSE: Duration = Duration::from_millis(200);

/// Which requests a scripted fault is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Any provider request whose own route has nothing queued.
    #[default]
    Any,
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/messages`.
    Messages,
    /// `GET /v1/models`.
    Models,
}

impl Route {
    fn of(method: &str, path: &str) -> Option<Route> {
        match (method, path) {
            ("POST", "/v1/chat/completions") => Some(Route::ChatCompletions),
            ("POST", "/v1/messages") => Some(Route::Messages),
            ("GET", "/v1/models") => Some(Route::Models),
            _ => None,
        }
    }
}

/// Settings of a [`FakeProvider`].
#[derive(Clone, Debug)]
pub struct Config {
    /// The API key clients must send (none: any or no key is accepted).
    pub key: Option<String>,
    /// What every provider request meets while the server is down
    /// ([`FakeProvider::set_down`]); [`Fault::Reset`] by default.
    pub down_fault: Fault,
    /// How long [`Fault::HangBeforeHeaders`] holds a connection at most
    /// (60 s by default).
    pub max_hang: Duration,
    /// Characters per text piece of a streamed answer (4 by default).
    pub chunk_chars: usize,
    /// The ids `GET /v1/models` lists.
    pub models: Vec<String>,
    /// Which local server it plays, if any.
    pub mode: Mode,
}

/// Which server a [`FakeProvider`] plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// An OpenAI-compatible or Anthropic service.
    #[default]
    Service,
    /// Ollama: also `GET /api/tags` (`{"models": [{"name", "model",
    /// "modified_at", "size", "digest", "details"}]}`, from
    /// [`Config::models`]), as when `OLLAMA_ORIGINS` allows the caller.
    Ollama,
    /// A local server that refuses the extension's origin (Ollama without
    /// `OLLAMA_ORIGINS`): `403 Forbidden`, empty body and no CORS headers,
    /// to every request, preflights included.
    Refusing,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            key: None,
            down_fault: Fault::Reset,
            max_hang: Duration::from_secs(60),
            chunk_chars: 4,
            models: vec!["fake-model-1".into(), "fake-model-2".into()],
            mode: Mode::Service,
        }
    }
}

/// One request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Milliseconds from the server's start to the end of the request.
    pub at_ms: u64,
    /// `GET`, `POST`, `OPTIONS`, …
    pub method: String,
    /// The request target, query included.
    pub path: String,
    /// Headers by lowercase name (repeats joined with `, `). Key headers
    /// (`authorization`, `x-api-key`, …) are kept with the value
    /// `<redacted>`; `authorization` keeps its scheme (`Bearer <redacted>`).
    pub headers: BTreeMap<String, String>,
    /// The body (lossy UTF-8).
    pub body: String,
    /// The fault the request met ([`Fault::Ok`] for preflights).
    pub fault: Fault,
}

impl RecordedRequest {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// `Echo: ` + `prompt`: the answer to a request whose last user message is
/// `prompt`.
pub fn answer_for(prompt: &str) -> String {
    format!("Echo: {prompt}")
}

/// `text` in pieces of `n` characters (at least 1), as streamed.
pub fn chunks(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

/// The token count of `text`: its whitespace-separated words.
pub fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The first `n` words of `text`, with the whitespace between them.
fn first_words(text: &str, n: u64) -> &str {
    let mut count = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_word = false;
        } else if !in_word {
            in_word = true;
            count += 1;
            if count > n {
                return text[..i].trim_end();
            }
        }
    }
    text
}

/// The answer to `prompt` cut to `limit` words, and whether it was cut.
fn answer(prompt: &str, limit: Option<u64>) -> (String, bool) {
    let full = answer_for(prompt);
    match limit {
        Some(n) if words(&full) > n => (first_words(&full, n).to_string(), true),
        _ => (full, false),
    }
}

#[derive(Default)]
struct State {
    queues: HashMap<Route, VecDeque<Fault>>,
    down: Option<Fault>,
    requests: Vec<RecordedRequest>,
    next_id: u64,
}

struct Shared {
    config: Config,
    started: Instant,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault for a provider request on `route` (`None`: unknown path).
    fn take_fault(&self, route: Option<Route>) -> Fault {
        let mut state = self.state();
        if let Some(fault) = &state.down {
            return fault.clone();
        }
        let Some(route) = route else {
            return Fault::Ok;
        };
        let mut pop = |r: Route| state.queues.get_mut(&r).and_then(VecDeque::pop_front);
        pop(route).or_else(|| pop(Route::Any)).unwrap_or_default()
    }

    /// Logs `request`; returns its number (for ids).
    fn record(&self, request: &Request, fault: Fault) -> u64 {
        let mut headers = BTreeMap::<String, String>::new();
        for (name, value) in &request.headers {
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                match value.split_once(' ') {
                    Some((scheme, _)) if name == "authorization" => format!("{scheme} <redacted>"),
                    _ => "<redacted>".to_string(),
                }
            } else {
                value.clone()
            };
            headers
                .entry(name.clone())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        let mut state = self.state();
        state.requests.push(RecordedRequest {
            at_ms: self.started.elapsed().as_millis() as u64,
            method: request.method.clone(),
            path: request.target.clone(),
            headers,
            body: String::from_utf8_lossy(&request.body).into_owned(),
            fault,
        });
        state.next_id += 1;
        state.next_id
    }
}

/// A running fake provider; stops when dropped (open connections are cut).
pub struct FakeProvider {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeProvider {
    /// Starts with the default [`Config`] on a free loopback port.
    pub fn start() -> Result<FakeProvider> {
        Self::start_with(Config::default())
    }

    /// Starts with `config` on a free loopback port.
    pub fn start_with(config: Config) -> Result<FakeProvider> {
        Self::start_at("127.0.0.1:0", config)
    }

    /// Starts with `config` at `addr` (e.g. `127.0.0.1:11434`, where a
    /// local server listens).
    pub fn start_at(addr: &str, config: Config) -> Result<FakeProvider> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("binding the fake provider to {addr} (is it in use?)"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            config,
            started: Instant::now(),
            state: Mutex::default(),
        });
        let (stop, mut stopped) = oneshot::channel::<()>();
        let server = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-provider".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => return eprintln!("fake provider: {e}"),
                    };
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => match accepted {
                                Ok((stream, _)) => {
                                    tokio::spawn(serve(server.clone(), stream));
                                }
                                // Out of descriptors, or the like: try again.
                                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                            },
                        }
                    }
                });
                // Dropping the runtime here cancels every connection task,
                // closing hung and stalled connections.
            })?;
        Ok(FakeProvider {
            shared,
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` (OpenAI clients want `base_url() + "/v1"`;
    /// Anthropic clients take it as is).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://fake-provider.test:PORT`: the same server under a name the
    /// test browsers resolve to 127.0.0.1 (`crate::REMOTE_HOST`), so the
    /// extension takes it for a remote provider (priced, not a local one).
    pub fn remote_base_url(&self) -> String {
        format!("http://{}:{}", crate::REMOTE_HOST, self.addr.port())
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Appends `faults` to `route`'s queue; each provider request takes one
    /// (see the module docs for the order).
    pub fn script(&self, route: Route, faults: impl IntoIterator<Item = Fault>) {
        self.shared
            .state()
            .queues
            .entry(route)
            .or_default()
            .extend(faults);
    }

    /// How many scripted faults `route`'s queue still holds.
    pub fn pending(&self, route: Route) -> usize {
        self.shared
            .state()
            .queues
            .get(&route)
            .map_or(0, VecDeque::len)
    }

    /// Down (`true`): every provider request meets [`Config::down_fault`],
    /// and the queues are left alone, until up again (`false`).
    pub fn set_down(&self, down: bool) {
        self.shared.state().down = down.then(|| self.shared.config.down_fault.clone());
    }

    /// Down, with `fault` for every provider request until
    /// [`FakeProvider::set_down`]`(false)`.
    pub fn set_down_with(&self, fault: Fault) {
        self.shared.state().down = Some(fault);
    }

    /// Every request received so far, in order (preflights included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// Empties the queues and the request log, and comes up.
    pub fn clear(&self) {
        let mut state = self.shared.state();
        state.queues.clear();
        state.requests.clear();
        state.down = None;
    }

    /// The pieces in which the answer to `prompt` is streamed.
    pub fn answer_chunks(&self, prompt: &str) -> Vec<String> {
        chunks(&answer_for(prompt), self.shared.config.chunk_chars)
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One parsed HTTP/1.1 request.
struct Request {
    method: String,
    target: String,
    /// Lowercase names, in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The body came with `Transfer-Encoding` (not supported: 411).
    chunked: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request; `None` when the client closed without sending one.
async fn read_request(stream: &mut TcpStream) -> Result<Option<Request>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            bail!("request head over {MAX_HEAD} bytes");
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            bail!("connection closed inside the request head");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("request head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target)) = (start.next(), start.next()) else {
        bail!("bad request line");
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut request = Request {
        method: method.to_string(),
        target: target.to_string(),
        body: buf[head_end + 4..].to_vec(),
        chunked: false,
        headers,
    };
    if request.header("transfer-encoding").is_some() {
        request.chunked = true;
        return Ok(Some(request));
    }
    let length: usize = match request.header("content-length") {
        Some(v) => v.parse().context("bad Content-Length")?,
        None => 0,
    };
    if length > MAX_BODY {
        bail!("request body over {MAX_BODY} bytes");
    }
    if request.body.len() < length
        && request
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    while request.body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed inside the request body");
        }
        request.body.extend_from_slice(&chunk[..n]);
    }
    request.body.truncate(length);
    Ok(Some(request))
}

/// Which API's formats an answer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    OpenAi,
    Anthropic,
}

/// Where an SSE event sits in a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Opening,
    Text,
    Closing,
}

/// One SSE event: `event: NAME` (if any) and `data: DATA`.
struct Event {
    name: Option<&'static str>,
    data: String,
    part: Part,
}

impl Event {
    fn new(name: Option<&'static str>, data: &Value, part: Part) -> Event {
        Event {
            name,
            data: data.to_string(),
            part,
        }
    }

    /// The wire form; `broken` cuts the data in half.
    fn encode(&self, broken: bool) -> String {
        let data = if broken {
            let mut half = self.data.len() / 2;
            while !self.data.is_char_boundary(half) {
                half -= 1;
            }
            &self.data[..half]
        } else {
            &self.data
        };
        match self.name {
            Some(name) => format!("event: {name}\ndata: {data}\n\n"),
            None => format!("data: {data}\n\n"),
        }
    }
}

enum Body {
    Empty,
    Json(Value),
    Events(Vec<Event>),
}

/// A response before faults are applied.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Site Overloaded",
        _ => "Status",
    }
}

/// The status line and headers, CORS and `Connection: close` included.
fn head(reply: &Reply, framing: &str) -> String {
    let content_type = match reply.body {
        Body::Events(_) => Some("text/event-stream; charset=utf-8"),
        Body::Json(_) => Some("application/json"),
        Body::Empty => None,
    };
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    if let Some(kind) = content_type {
        head.push_str(&format!("Content-Type: {kind}\r\n"));
    }
    if matches!(reply.body, Body::Events(_)) {
        head.push_str("Cache-Control: no-cache\r\n");
    }
    head.push_str(framing);
    head.push_str("Connection: close\r\n");
    head.push_str("Access-Control-Allow-Origin: *\r\n");
    head.push_str(&format!(
        "Access-Control-Expose-Headers: {EXPOSED_HEADERS}\r\n"
    ));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Serves one connection: one request, one answer, then close.
async fn serve(shared: Arc<Shared>, mut stream: TcpStream) -> Result<()> {
    stream.set_nodelay(true)?;
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    if let Some(what) = request.path().strip_prefix("/__fake/") {
        let reply = control(&shared, &request.method, what, &request.body);
        return write_plain(&mut stream, reply).await;
    }
    if shared.config.mode == Mode::Refusing {
        shared.record(&request, Fault::Ok);
        let refusal = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        stream.write_all(refusal.as_bytes()).await?;
        return Ok(());
    }
    if request.method == "OPTIONS" {
        shared.record(&request, Fault::Ok);
        return write_plain(&mut stream, preflight(&request)).await;
    }
    if shared.config.mode == Mode::Ollama && request.path() == "/api/tags" {
        shared.record(&request, Fault::Ok);
        return write_plain(&mut stream, ollama_tags(&shared.config)).await;
    }
    let route = Route::of(&request.method, request.path());
    let dialect = match route {
        Some(Route::Messages) => Dialect::Anthropic,
        Some(Route::ChatCompletions) => Dialect::OpenAi,
        _ if request.header("anthropic-version").is_some() => Dialect::Anthropic,
        _ => Dialect::OpenAi,
    };
    let fault = shared.take_fault(route);
    let id = shared.record(&request, fault.clone());
    match fault {
        Fault::Reset => {
            stream.set_zero_linger()?;
            drop(stream);
            Ok(())
        }
        Fault::HangBeforeHeaders => {
            hang(stream, shared.config.max_hang).await;
            Ok(())
        }
        Fault::Status(code) => write_plain(&mut stream, error(dialect, code, None, id)).await,
        Fault::Redirect { status, location } => {
            let reply = Reply {
                status,
                headers: vec![("location", location)],
                body: Body::Empty,
            };
            write_plain(&mut stream, reply).await
        }
        Fault::TooManyRequests { retry_after_s } => {
            let reply =
                error(dialect, 429, None, id).header("retry-after", retry_after_s.to_string());
            write_plain(&mut stream, reply).await
        }
        fault => {
            let reply = if request.chunked {
                let message = "chunked request bodies are not supported";
                error(dialect, 411, Some(message), id)
            } else {
                respond(&shared.config, route, dialect, &request, id)
            };
            match (&reply.body, &fault) {
                (Body::Json(_), Fault::ErrorMidStream { .. }) => {
                    write_plain(&mut stream, error(dialect, 500, None, id)).await
                }
                _ => write_reply(&mut stream, reply, &fault, dialect).await,
            }
        }
    }
}

/// Ollama's `GET /api/tags` answer for [`Config::models`].
fn ollama_tags(config: &Config) -> Reply {
    let models: Vec<Value> = config
        .models
        .iter()
        .map(|name| {
            json!({"name": name, "model": name, "modified_at": "2026-11-01T10:00:00.000000000Z",
                "size": 1_321_098_329u64, "digest": format!("{:0>64}", name.len()),
                "details": {"format": "gguf", "family": "llama", "parameter_size": "1.2B",
                            "quantization_level": "Q8_0"}})
        })
        .collect();
    Reply::json(200, json!({ "models": models }))
}

/// Holds a connection without answering until the client closes it or
/// `max` passes.
async fn hang(mut stream: TcpStream, max: Duration) {
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(max, async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

fn preflight(request: &Request) -> Reply {
    let allowed = request
        .header("access-control-request-headers")
        .unwrap_or(ALLOWED_HEADERS)
        .to_string();
    let mut reply = Reply {
        status: 204,
        headers: vec![
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS".into()),
            ("Access-Control-Allow-Headers", allowed),
            ("Access-Control-Max-Age", "600".into()),
        ],
        body: Body::Empty,
    };
    if request.header("access-control-request-private-network") == Some("true") {
        reply = reply.header("Access-Control-Allow-Private-Network", "true");
    }
    reply
}

/// The body of `POST /__fake/script`.
#[derive(Deserialize)]
struct Script {
    #[serde(default)]
    route: Route,
    faults: Vec<Fault>,
}

/// The body of `POST /__fake/down`.
#[derive(Deserialize)]
struct Down {
    down: bool,
    #[serde(default)]
    fault: Option<Fault>,
}

fn control(shared: &Shared, method: &str, what: &str, body: &[u8]) -> Reply {
    let bad = |e: serde_json::Error| Reply::json(400, json!({"error": format!("bad body: {e}")}));
    match (method, what) {
        ("POST", "script") => match serde_json::from_slice::<Script>(body) {
            Ok(script) => {
                let mut state = shared.state();
                let queue = state.queues.entry(script.route).or_default();
                queue.extend(script.faults);
                Reply::json(200, json!({"route": script.route, "queued": queue.len()}))
            }
            Err(e) => bad(e),
        },
        ("POST", "down") => match serde_json::from_slice::<Down>(body) {
            Ok(down) => {
                let fault = down.fault.unwrap_or(shared.config.down_fault.clone());
                shared.state().down = down.down.then_some(fault);
                Reply::json(200, json!({"down": down.down}))
            }
            Err(e) => bad(e),
        },
        ("GET", "requests") => Reply::json(200, json!(shared.state().requests)),
        ("POST", "reset") => {
            let mut state = shared.state();
            state.queues.clear();
            state.requests.clear();
            state.down = None;
            Reply::json(200, json!({"reset": true}))
        }
        _ => Reply::json(
            404,
            json!({"error": format!("no control endpoint {method} /__fake/{what}")}),
        ),
    }
}

/// The dialect's error answer for `status` (`message` or a stock one).
fn error(dialect: Dialect, status: u16, message: Option<&str>, id: u64) -> Reply {
    let request_id = format!("req_fake{id}");
    match dialect {
        Dialect::OpenAi => {
            let (kind, code, stock) = match status {
                401 => (
                    "invalid_request_error",
                    Some("invalid_api_key"),
                    "Incorrect API key provided.",
                ),
                404 => ("invalid_request_error", Some("unknown_url"), "Not found."),
                429 => (
                    "requests",
                    Some("rate_limit_exceeded"),
                    "Rate limit reached for requests.",
                ),
                500 => (
                    "server_error",
                    None,
                    "The server had an error while processing your request. Sorry about that!",
                ),
                503 => (
                    "server_error",
                    None,
                    "The engine is currently overloaded, please try again later.",
                ),
                s if s >= 500 => ("server_error", None, "The server had an error."),
                _ => ("invalid_request_error", None, "Invalid request."),
            };
            Reply::json(
                status,
                json!({"error": {
                    "message": message.unwrap_or(stock),
                    "type": kind,
                    "param": null,
                    "code": code,
                }}),
            )
            .header("x-request-id", request_id)
        }
        Dialect::Anthropic => {
            let (kind, stock) = match status {
                401 => ("authentication_error", "invalid x-api-key"),
                403 => ("permission_error", "Permission denied."),
                404 => ("not_found_error", "Not found."),
                413 => ("request_too_large", "Request exceeds the maximum size."),
                429 => ("rate_limit_error", "Rate limit exceeded."),
                503 | 529 => ("overloaded_error", "Overloaded"),
                s if s >= 500 => ("api_error", "Internal server error"),
                _ => ("invalid_request_error", "Invalid request."),
            };
            Reply::json(
                status,
                json!({
                    "type": "error",
                    "error": {"type": kind, "message": message.unwrap_or(stock)},
                    "request_id": request_id,
                }),
            )
            .header("request-id", request_id)
        }
    }
}

/// The text of a message `content`: a string, or the `text` of its parts.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn last_user_text(messages: &[Value]) -> String {
    messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| text_of(&m["content"]))
        .unwrap_or_default()
}

fn input_words(messages: &[Value]) -> u64 {
    messages
        .iter()
        .map(|m| words(&text_of(&m["content"])))
        .sum()
}

/// A normal answer to a provider request (errors included).
fn respond(
    config: &Config,
    route: Option<Route>,
    dialect: Dialect,
    request: &Request,
    id: u64,
) -> Reply {
    let denied = match dialect {
        Dialect::OpenAi => openai_auth(config, request, id),
        Dialect::Anthropic => anthropic_auth(config, request, id),
    };
    if let Some(reply) = denied {
        return reply;
    }
    let body = serde_json::from_slice::<Value>(&request.body);
    match (route, body) {
        (None, _) => {
            let message = format!("Unknown request URL: {} {}", request.method, request.path());
            error(dialect, 404, Some(&message), id)
        }
        (Some(Route::Models), _) => models(config, dialect),
        (Some(Route::ChatCompletions), Ok(body)) if body.is_object() => {
            openai_chat(config, &body, id)
        }
        (Some(Route::Messages), Ok(body)) if body.is_object() => {
            anthropic_messages(config, &body, id)
        }
        _ => error(
            dialect,
            400,
            Some("There was an error parsing the body of your request: not a JSON object."),
            id,
        ),
    }
}

fn openai_auth(config: &Config, request: &Request, id: u64) -> Option<Reply> {
    let key = config.key.as_deref()?;
    let given = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(k) if k == key => None,
        Some(_) => Some(error(Dialect::OpenAi, 401, None, id)),
        None => Some(error(
            Dialect::OpenAi,
            401,
            Some("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth."),
            id,
        )),
    }
}

fn anthropic_auth(config: &Config, request: &Request, id: u64) -> Option<Reply> {
    if let Some(key) = config.key.as_deref() {
        match request.header("x-api-key") {
            Some(k) if k == key => {}
            Some(_) => return Some(error(Dialect::Anthropic, 401, None, id)),
            None => {
                let message = "x-api-key header is required";
                return Some(error(Dialect::Anthropic, 401, Some(message), id));
            }
        }
    }
    if request.header("anthropic-version").is_none() {
        let message = "anthropic-version: header is required";
        return Some(error(Dialect::Anthropic, 400, Some(message), id));
    }
    None
}

fn models(config: &Config, dialect: Dialect) -> Reply {
    match dialect {
        Dialect::OpenAi => Reply::json(
            200,
            json!({
                "object": "list",
                "data": config.models.iter().map(|m| json!({
                    "id": m, "object": "model", "created": CREATED, "owned_by": "paperclip-fake",
                })).collect::<Vec<_>>(),
            }),
        ),
        Dialect::Anthropic => Reply::json(
            200,
            json!({
                "data": config.models.iter().map(|m| json!({
                    "type": "model", "id": m, "display_name": m,
                    "created_at": "2023-11-14T22:13:20Z",
                })).collect::<Vec<_>>(),
                "has_more": false,
                "first_id": config.models.first(),
                "last_id": config.models.last(),
            }),
        ),
    }
}

fn openai_chat(config: &Config, body: &Value, id: u64) -> Reply {
    let bad = |message: &str| error(Dialect::OpenAi, 400, Some(message), id);
    let Some(model) = body["model"].as_str() else {
        return bad("you must provide a model parameter");
    };
    let Some(messages) = body["messages"].as_array() else {
        return bad("Missing required parameter: 'messages'.");
    };
    let limit = body["max_completion_tokens"]
        .as_u64()
        .or(body["max_tokens"].as_u64());
    let (text, cut) = answer(&last_user_text(messages), limit);
    let input = input_words(messages);
    let output = words(&text);
    let finish = if cut { "length" } else { "stop" };
    let usage = json!({
        "prompt_tokens": input,
        "completion_tokens": output,
        "total_tokens": input + output,
    });
    let chat_id = format!("chatcmpl-fake{id}");
    let request_id = format!("req_fake{id}");
    if body["stream"] != true {
        return Reply::json(
            200,
            json!({
                "id": chat_id,
                "object": "chat.completion",
                "created": CREATED,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": null},
                    "logprobs": null,
                    "finish_reason": finish,
                }],
                "usage": usage,
            }),
        )
        .header("x-request-id", request_id);
    }
    let include_usage = body["stream_options"]["include_usage"] == true;
    let chunk = |choices: Value| {
        let mut c = json!({
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": choices,
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let choice = |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
    let mut events = vec![Event::new(
        None,
        &chunk(choice(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        )),
        Part::Opening,
    )];
    for piece in chunks(&text, config.chunk_chars) {
        let data = chunk(choice(json!({"content": piece}), Value::Null));
        events.push(Event::new(None, &data, Part::Text));
    }
    events.push(Event::new(
        None,
        &chunk(choice(json!({}), json!(finish))),
        Part::Closing,
    ));
    if include_usage {
        let mut last = chunk(json!([]));
        last["usage"] = usage;
        events.push(Event::new(None, &last, Part::Closing));
    }
    events.push(Event {
        name: None,
        data: "[DONE]".into(),
        part: Part::Closing,
    });
    Reply {
        status: 200,
        headers: vec![("x-request-id", request_id)],
        body: Body::Events(events),
    }
}

fn anthropic_messages(config: &Config, body: &Value, id: u64) -> Reply {
    let bad = |message: &str| error(Dialect::Anthropic, 400, Some(message), id);
    let Some(model) = body["model"].as_str() else {
        return bad("model: Field required");
    };
    let Some(max_tokens) = body["max_tokens"].as_u64() else {
        return bad("max_tokens: Field required");
    };
    let Some(messages) = body["messages"].as_array() else {
        return bad("messages: Field required");
    };
    let (text, cut) = answer(&last_user_text(messages), Some(max_tokens));
    let input = words(&text_of(&body["system"])) + input_words(messages);
    let output = words(&text);
    let stop = if cut { "max_tokens" } else { "end_turn" };
    let message_id = format!("msg_fake{id}");
    let request_id = format!("req_fake{id}");
    if body["stream"] != true {
        return Reply::json(
            200,
            json!({
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": stop,
                "stop_sequence": null,
                "usage": {
                    "input_tokens": input,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": output,
                },
            }),
        )
        .header("request-id", request_id);
    }
    let mut events = vec![
        Event::new(
            Some("message_start"),
            &json!({"type": "message_start", "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {
                    "input_tokens": input,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 1,
                },
            }}),
            Part::Opening,
        ),
        Event::new(
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
            Part::Opening,
        ),
        Event::new(Some("ping"), &json!({"type": "ping"}), Part::Opening),
    ];
    for piece in chunks(&text, config.chunk_chars) {
        events.push(Event::new(
            Some("content_block_delta"),
            &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": piece}}),
            Part::Text,
        ));
    }
    events.extend([
        Event::new(
            Some("content_block_stop"),
            &json!({"type": "content_block_stop", "index": 0}),
            Part::Closing,
        ),
        Event::new(
            Some("message_delta"),
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": null},
                    "usage": {"output_tokens": output}}),
            Part::Closing,
        ),
        Event::new(
            Some("message_stop"),
            &json!({"type": "message_stop"}),
            Part::Closing,
        ),
    ]);
    Reply {
        status: 200,
        headers: vec![("request-id", request_id)],
        body: Body::Events(events),
    }
}

/// The in-stream error event of [`Fault::ErrorMidStream`].
fn error_event(dialect: Dialect) -> Event {
    match dialect {
        Dialect::OpenAi => Event::new(
            None,
            &json!({"error": {
                "message": "The server had an error while processing your request. Sorry about that!",
                "type": "server_error", "param": null, "code": null,
            }}),
            Part::Closing,
        ),
        Dialect::Anthropic => Event::new(
            Some("error"),
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            Part::Closing,
        ),
    }
}

/// Writes `reply` whole, with `Content-Length`.
async fn write_plain(stream: &mut TcpStream, reply: Reply) -> Result<()> {
    write_reply(stream, reply, &Fault::Ok, Dialect::OpenAi).await
}

/// Writes `reply` under `fault` (one of the faults that send headers;
/// [`Fault::ErrorMidStream`] only on a stream).
async fn write_reply(
    stream: &mut TcpStream,
    reply: Reply,
    fault: &Fault,
    dialect: Dialect,
) -> Result<()> {
    let bytes = match &reply.body {
        Body::Events(_) => return write_events(stream, reply, fault, dialect).await,
        Body::Json(v) => v.to_string().into_bytes(),
        Body::Empty => Vec::new(),
    };
    let half = bytes.len() / 2;
    let sent = match fault {
        Fault::MalformedChunk { .. } | Fault::DropMidStream { .. } => half,
        _ => bytes.len(),
    };
    // Malformed: a whole, short body; dropped: the full length announced.
    let announced = if matches!(fault, Fault::MalformedChunk { .. }) {
        half
    } else {
        bytes.len()
    };
    let framing = format!("Content-Length: {announced}\r\n");
    stream.write_all(head(&reply, &framing).as_bytes()).await?;
    match *fault {
        Fault::StallMidStream { for_ms, .. } => {
            stream.flush().await?;
            tokio::time::sleep(Duration::from_millis(for_ms)).await;
            stream.write_all(&bytes).await?;
        }
        Fault::SlowTrickle {
            delay_ms,
            piece_bytes,
        } => {
            for piece in bytes.chunks(piece_bytes.unwrap_or(16).max(1)) {
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                stream.write_all(piece).await?;
            }
        }
        _ => stream.write_all(&bytes[..sent]).await?,
    }
    stream.flush().await?;
    stream.shutdown().await?;
    Ok(())
}

/// One HTTP chunk.
async fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> Result<()> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    stream.write_all(&out).await?;
    stream.flush().await?;
    Ok(())
}

/// The terminating chunk, then close.
async fn finish(stream: &mut TcpStream) -> Result<()> {
    stream.write_all(b"0\r\n\r\n").await?;
    stream.flush().await?;
    stream.shutdown().await?;
    Ok(())
}

/// Streams `reply`'s events under `fault`.
async fn write_events(
    stream: &mut TcpStream,
    reply: Reply,
    fault: &Fault,
    dialect: Dialect,
) -> Result<()> {
    stream
        .write_all(head(&reply, "Transfer-Encoding: chunked\r\n").as_bytes())
        .await?;
    stream.flush().await?;
    let Body::Events(events) = reply.body else {
        unreachable!("write_events takes a stream");
    };
    if let Fault::SlowTrickle {
        delay_ms,
        piece_bytes,
    } = *fault
    {
        let encoded: Vec<Vec<u8>> = events.iter().map(|e| e.encode(false).into()).collect();
        let pieces = match piece_bytes {
            Some(n) => encoded
                .concat()
                .chunks(n.max(1))
                .map(<[u8]>::to_vec)
                .collect(),
            None => encoded,
        };
        for piece in pieces {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            write_chunk(stream, &piece).await?;
        }
        return finish(stream).await;
    }
    let texts: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].part == Part::Text)
        .collect();
    if let Fault::Endless { delay_ms } = *fault {
        for event in events.iter().take_while(|e| e.part == Part::Opening) {
            write_chunk(stream, event.encode(false).as_bytes()).await?;
        }
        let piece = events[texts[0]].encode(false);
        let until = tokio::time::Instant::now() + Duration::from_secs(120);
        while tokio::time::Instant::now() < until {
            if write_chunk(stream, piece.as_bytes()).await.is_err() {
                return Ok(()); // the client hung up
            }
            if delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
        }
        return finish(stream).await;
    }
    let closing = events
        .iter()
        .position(|e| e.part == Part::Closing)
        .unwrap_or(events.len());
    // Where a mid-stream fault acts: before this event.
    let cut = |after: usize| texts.get(after).copied().unwrap_or(closing);
    let (at, broken) = match *fault {
        Fault::StallMidStream { after_chunks, .. }
        | Fault::DropMidStream { after_chunks }
        | Fault::ErrorMidStream { after_chunks } => (Some(cut(after_chunks)), None),
        Fault::MalformedChunk { at } => (None, texts.get(at).or(texts.last()).copied()),
        _ => (None, None),
    };
    for (i, event) in events.iter().enumerate() {
        if Some(i) == at {
            match *fault {
                Fault::StallMidStream { for_ms, .. } => {
                    tokio::time::sleep(Duration::from_millis(for_ms)).await;
                }
                Fault::DropMidStream { .. } => {
                    // Let the pieces reach the client before the close, as
                    // in a real drop: sent together, a browser may report
                    // the broken body without handing over the pieces.
                    stream.flush().await?;
                    tokio::time::sleep(DROP_PAUSE).await;
                    stream.shutdown().await?;
                    return Ok(());
                }
                Fault::ErrorMidStream { .. } => {
                    write_chunk(stream, error_event(dialect).encode(false).as_bytes()).await?;
                    return finish(stream).await;
                }
                _ => {}
            }
        }
        write_chunk(stream, event.encode(Some(i) == broken).as_bytes()).await?;
    }
    finish(stream).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_words_keeps_inner_whitespace() {
        assert_eq!(first_words("Echo: a  b c", 0), "");
        assert_eq!(first_words("Echo: a  b c", 1), "Echo:");
        assert_eq!(first_words("Echo: a  b c", 3), "Echo: a  b");
        assert_eq!(first_words("Echo: a  b c", 9), "Echo: a  b c");
    }

    #[test]
    fn chunks_split_on_characters() {
        assert_eq!(chunks("Grüße!", 4), ["Grüß", "e!"]);
        assert_eq!(chunks("", 4), Vec::<String>::new());
    }

    #[test]
    fn broken_events_are_cut_in_half() {
        // 14 bytes: the middle falls inside the first `ü`.
        let e = Event::new(None, &json!({"a": "üüü"}), Part::Text);
        assert_eq!(e.encode(false), "data: {\"a\":\"üüü\"}\n\n");
        assert_eq!(e.encode(true), "data: {\"a\":\"\n\n");
    }
}
