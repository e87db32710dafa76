//! The fake AI provider (`paperclip_e2e::fake_provider`), natively and
//! without a browser: wire bytes of both dialects, every fault, scripting,
//! the control endpoints, and the official npm clients parsing its streams
//! (`tests/sdk-check/check.mjs`, needs Node and `npm ci` at the root).
//!
//! The client here is a raw HTTP/1.1 one on a TCP socket, so that framing,
//! resets and early closes are seen as they are on the wire.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use paperclip_e2e::fake_provider::{
    answer_for, chunks, words, Config, FakeProvider, Fault, RecordedRequest, Route,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a response ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The whole body, framing included.
    Complete,
    /// The server closed (FIN) before the end of the body (or before any
    /// response, when `status` is 0).
    Eof,
    /// The connection was reset (RST).
    Reset,
    /// The client gave up waiting.
    TimedOut,
}

/// A response as read off the socket.
#[derive(Debug)]
struct Reply {
    /// 0 when no status line arrived.
    status: u16,
    /// Lowercase names.
    headers: BTreeMap<String, String>,
    /// The body without the chunked framing.
    body: Vec<u8>,
    /// Each HTTP chunk and when it was complete (from the request).
    chunks: Vec<(Duration, Vec<u8>)>,
    end: End,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The SSE events: (`event:` name, `data:` text).
    fn events(&self) -> Vec<(Option<String>, String)> {
        let text = self.text();
        text.split("\n\n")
            .filter(|block| !block.is_empty())
            .map(|block| {
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = Some(n.to_string());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    } else {
                        panic!("unexpected SSE line {line:?} in {text:?}");
                    }
                }
                (name, data)
            })
            .collect()
    }

    /// The `data:` of every event, parsed (`[DONE]` as a string).
    fn data(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .map(|(_, d)| serde_json::from_str(&d).unwrap_or(Value::String(d)))
            .collect()
    }
}

/// Reads a response off a socket, telling how it ended.
struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
    started: Instant,
    deadline: Instant,
}

impl Reader {
    /// Reads more bytes; `Err` says how the connection ended.
    async fn fill(&mut self) -> Result<(), End> {
        let mut chunk = [0u8; 8192];
        let left = self.deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
            Err(_) => Err(End::TimedOut),
            Ok(Ok(0)) => Err(End::Eof),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Err(End::Reset),
            Ok(Err(e)) => panic!("read: {e}"),
        }
    }

    /// Waits until `needle` is in the buffer; its offset.
    async fn until(&mut self, needle: &[u8]) -> Result<usize, End> {
        loop {
            if let Some(i) = self.buf.windows(needle.len()).position(|w| w == needle) {
                return Ok(i);
            }
            self.fill().await?;
        }
    }

    /// Waits until the buffer holds `n` bytes.
    async fn at_least(&mut self, n: usize) -> Result<(), End> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(())
    }
}

/// Sends one request to `fake` and reads the answer, for at most `limit`.
async fn call_for(
    fake: &FakeProvider,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    limit: Duration,
) -> Reply {
    let started = Instant::now();
    let mut stream = TcpStream::connect(fake.addr()).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        fake.addr(),
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut r = Reader {
        stream,
        buf: Vec::new(),
        started,
        deadline: started + limit,
    };
    let mut reply = Reply {
        status: 0,
        headers: BTreeMap::new(),
        body: Vec::new(),
        chunks: Vec::new(),
        end: End::Complete,
    };
    if let Err(end) = read_reply(&mut r, &mut reply).await {
        reply.end = end;
    }
    reply
}

async fn read_reply(r: &mut Reader, reply: &mut Reply) -> Result<(), End> {
    let end = r.until(b"\r\n\r\n").await?;
    let head = String::from_utf8(r.buf[..end].to_vec()).expect("UTF-8 head");
    r.buf.drain(..end + 4);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap();
    assert!(status.starts_with("HTTP/1.1 "), "status line {status:?}");
    reply.status = status[9..12].parse().unwrap();
    for line in lines {
        let (name, value) = line.split_once(": ").expect("header line");
        reply
            .headers
            .insert(name.to_ascii_lowercase(), value.to_string());
    }
    if reply.header("transfer-encoding") == Some("chunked") {
        loop {
            let line_end = r.until(b"\r\n").await?;
            let size_line = String::from_utf8(r.buf[..line_end].to_vec()).unwrap();
            let size = usize::from_str_radix(&size_line, 16).expect("chunk size");
            r.at_least(line_end + 2 + size + 2).await?;
            let data = r.buf[line_end + 2..line_end + 2 + size].to_vec();
            assert_eq!(&r.buf[line_end + 2 + size..line_end + 4 + size], b"\r\n");
            r.buf.drain(..line_end + 4 + size);
            if size == 0 {
                return Ok(());
            }
            reply.body.extend_from_slice(&data);
            reply.chunks.push((r.started.elapsed(), data));
        }
    } else if let Some(length) = reply.header("content-length") {
        let length: usize = length.parse().unwrap();
        let got = r.at_least(length).await;
        let n = r.buf.len().min(length);
        reply.body = r.buf[..n].to_vec();
        got
    } else {
        loop {
            if let Err(end) = r.fill().await {
                reply.body = std::mem::take(&mut r.buf);
                return if end == End::Eof { Ok(()) } else { Err(end) };
            }
        }
    }
}

/// [`call_for`] with 10 s.
async fn call(
    fake: &FakeProvider,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    call_for(fake, method, path, headers, body, Duration::from_secs(10)).await
}

/// Request headers: (name, value).
type Headers<'a> = &'a [(&'a str, &'a str)];

const JSON: (&str, &str) = ("content-type", "application/json");
const VERSION: (&str, &str) = ("anthropic-version", "2023-06-01");

/// An OpenAI chat request for `prompt` (after a two-word system message).
fn chat_body(prompt: &str, stream: bool, include_usage: bool) -> String {
    let mut body = json!({
        "model": "fake-model-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": prompt},
        ],
        "stream": stream,
    });
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body.to_string()
}

/// An Anthropic messages request for `prompt` (with a two-word system).
fn messages_body(prompt: &str, stream: bool) -> String {
    json!({
        "model": "fake-model-1",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
        "stream": stream,
    })
    .to_string()
}

async fn chat(fake: &FakeProvider, prompt: &str) -> Reply {
    call(
        fake,
        "POST",
        "/v1/chat/completions",
        &[JSON],
        &chat_body(prompt, true, true),
    )
    .await
}

async fn messages(fake: &FakeProvider, prompt: &str) -> Reply {
    call(
        fake,
        "POST",
        "/v1/messages",
        &[JSON, VERSION],
        &messages_body(prompt, true),
    )
    .await
}

/// The text of the OpenAI content deltas that parse.
fn openai_text(data: &[Value]) -> String {
    data.iter()
        .filter_map(|d| d["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// The text of the Anthropic text deltas that parse.
fn anthropic_text(data: &[Value]) -> String {
    data.iter()
        .filter_map(|d| d["delta"]["text"].as_str())
        .collect()
}

mod openai {
    use super::*;

    #[tokio::test]
    async fn streams_role_pieces_finish_usage_and_done() {
        let fake = FakeProvider::start().unwrap();
        let r = chat(&fake, "hello there world").await;
        assert_eq!((r.status, r.end), (200, End::Complete));
        assert_eq!(
            r.header("content-type"),
            Some("text/event-stream; charset=utf-8")
        );
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert_eq!(r.header("x-request-id"), Some("req_fake1"));
        // One SSE event per HTTP chunk, `data: ` lines only.
        for (_, chunk) in &r.chunks {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(chunk.starts_with("data: ") && chunk.ends_with("\n\n"));
            assert_eq!(chunk.matches("\n\n").count(), 1, "{chunk:?}");
        }
        let data = r.data();
        let pieces = fake.answer_chunks("hello there world");
        assert_eq!(pieces, ["Echo", ": he", "llo ", "ther", "e wo", "rld"]);
        assert_eq!(data.len(), 1 + pieces.len() + 3);
        let chunk = |choices: Value| {
            json!({
                "id": "chatcmpl-fake1", "object": "chat.completion.chunk",
                "created": 1_700_000_000, "model": "fake-model-1",
                "system_fingerprint": "fp_fake", "choices": choices, "usage": null,
            })
        };
        assert_eq!(
            data[0],
            chunk(json!([{"index": 0, "logprobs": null, "finish_reason": null,
                "delta": {"role": "assistant", "content": "", "refusal": null}}]))
        );
        for (d, piece) in data[1..].iter().zip(&pieces) {
            assert_eq!(
                *d,
                chunk(json!([{"index": 0, "logprobs": null, "finish_reason": null,
                    "delta": {"content": piece}}]))
            );
        }
        let n = pieces.len();
        assert_eq!(
            data[n + 1],
            chunk(json!([{"index": 0, "logprobs": null, "finish_reason": "stop", "delta": {}}]))
        );
        let mut usage = chunk(json!([]));
        // "Be brief." + "hello there world"; "Echo: hello there world".
        usage["usage"] = json!({"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9});
        assert_eq!(data[n + 2], usage);
        assert_eq!(data[n + 3], "[DONE]");
        assert!(r.text().ends_with("data: [DONE]\n\n"));
        assert_eq!(openai_text(&data), "Echo: hello there world");
    }

    #[tokio::test]
    async fn without_include_usage_there_is_no_usage() {
        let fake = FakeProvider::start().unwrap();
        let body = chat_body("hi", true, false);
        let r = call(&fake, "POST", "/v1/chat/completions", &[JSON], &body).await;
        let data = r.data();
        assert!(data.iter().all(|d| d.get("usage").is_none()), "{data:?}");
        assert_eq!(data[data.len() - 2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(data[data.len() - 1], "[DONE]");
    }

    #[tokio::test]
    async fn without_stream_answers_one_chat_completion() {
        let fake = FakeProvider::start().unwrap();
        let body = chat_body("one two", false, false);
        let r = call(&fake, "POST", "/v1/chat/completions", &[JSON], &body).await;
        assert_eq!((r.status, r.end), (200, End::Complete));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.json(),
            json!({
                "id": "chatcmpl-fake1", "object": "chat.completion", "created": 1_700_000_000,
                "model": "fake-model-1", "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Echo: one two", "refusal": null}}],
                "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7},
            })
        );
    }

    #[tokio::test]
    async fn max_tokens_cuts_the_answer_with_length() {
        let fake = FakeProvider::start().unwrap();
        let body = json!({"model": "m", "max_tokens": 2, "stream": true,
            "messages": [{"role": "user", "content": "one two three"}]})
        .to_string();
        let r = call(&fake, "POST", "/v1/chat/completions", &[JSON], &body).await;
        let data = r.data();
        assert_eq!(openai_text(&data), "Echo: one");
        assert_eq!(
            data[data.len() - 2]["choices"][0]["finish_reason"],
            "length"
        );
    }

    #[tokio::test]
    async fn a_configured_key_needs_bearer_auth() {
        let fake = FakeProvider::start_with(Config {
            key: Some("sk-test".into()),
            ..Config::default()
        })
        .unwrap();
        let body = chat_body("hi", true, false);
        for auth in [None, Some("Bearer wrong"), Some("sk-test")] {
            let headers: Vec<_> = auth.map(|a| ("authorization", a)).into_iter().collect();
            let r = call(&fake, "POST", "/v1/chat/completions", &headers, &body).await;
            assert_eq!(r.status, 401, "{auth:?}");
            let error = &r.json()["error"];
            assert_eq!(error["type"], "invalid_request_error");
            assert_eq!(error["code"], "invalid_api_key");
            assert!(error["message"].is_string());
        }
        let auth = [("authorization", "Bearer sk-test")];
        let r = call(&fake, "POST", "/v1/chat/completions", &auth, &body).await;
        assert_eq!(r.status, 200);
        let auth = [("authorization", "Bearer sk-test")];
        let r = call(&fake, "GET", "/v1/models", &auth, "").await;
        assert_eq!(r.status, 200);
    }

    #[tokio::test]
    async fn bad_requests_get_400_and_unknown_paths_404() {
        let fake = FakeProvider::start().unwrap();
        for body in ["not json", "[]", r#"{"messages": []}"#, r#"{"model": "m"}"#] {
            let r = call(&fake, "POST", "/v1/chat/completions", &[JSON], body).await;
            assert_eq!(r.status, 400, "{body}");
            assert_eq!(r.json()["error"]["type"], "invalid_request_error");
        }
        let r = call(&fake, "GET", "/v1/nothing", &[], "").await;
        assert_eq!(r.status, 404);
        assert_eq!(
            r.json()["error"]["message"],
            "Unknown request URL: GET /v1/nothing"
        );
    }
}

mod anthropic {
    use super::*;

    #[tokio::test]
    async fn streams_the_event_sequence() {
        let fake = FakeProvider::start().unwrap();
        let r = messages(&fake, "hello there world").await;
        assert_eq!((r.status, r.end), (200, End::Complete));
        assert_eq!(
            r.header("content-type"),
            Some("text/event-stream; charset=utf-8")
        );
        assert_eq!(r.header("request-id"), Some("req_fake1"));
        let events = r.events();
        let pieces = fake.answer_chunks("hello there world");
        let mut names = vec!["message_start", "content_block_start", "ping"];
        names.extend(pieces.iter().map(|_| "content_block_delta"));
        names.extend(["content_block_stop", "message_delta", "message_stop"]);
        let got: Vec<_> = events.iter().map(|(n, _)| n.as_deref().unwrap()).collect();
        assert_eq!(got, names);
        let data = r.data();
        for ((name, _), d) in events.iter().zip(&data) {
            assert_eq!(d["type"], name.as_deref().unwrap());
        }
        assert_eq!(
            data[0]["message"],
            json!({"id": "msg_fake1", "type": "message", "role": "assistant",
                "model": "fake-model-1", "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 5, "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0, "output_tokens": 1}})
        );
        assert_eq!(
            data[1],
            json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}})
        );
        for (d, piece) in data[3..].iter().zip(&pieces) {
            assert_eq!(
                *d,
                json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": piece}})
            );
        }
        let n = data.len();
        assert_eq!(
            data[n - 3],
            json!({"type": "content_block_stop", "index": 0})
        );
        assert_eq!(
            data[n - 2],
            json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": 4}})
        );
        assert_eq!(anthropic_text(&data), "Echo: hello there world");
        assert!(r
            .text()
            .ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    }

    #[tokio::test]
    async fn without_stream_answers_one_message() {
        let fake = FakeProvider::start().unwrap();
        let body = messages_body("one two", false);
        let r = call(&fake, "POST", "/v1/messages", &[JSON, VERSION], &body).await;
        assert_eq!(
            r.json(),
            json!({"id": "msg_fake1", "type": "message", "role": "assistant",
                "model": "fake-model-1", "content": [{"type": "text", "text": "Echo: one two"}],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 4, "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0, "output_tokens": 3}})
        );
    }

    #[tokio::test]
    async fn key_and_version_are_checked() {
        let fake = FakeProvider::start_with(Config {
            key: Some("sk-ant".into()),
            ..Config::default()
        })
        .unwrap();
        let body = messages_body("hi", true);
        let cases: [(Headers, u16, &str); 4] = [
            (&[VERSION], 401, "authentication_error"),
            (
                &[VERSION, ("x-api-key", "nope")],
                401,
                "authentication_error",
            ),
            (&[("x-api-key", "sk-ant")], 400, "invalid_request_error"),
            (&[VERSION, ("x-api-key", "sk-ant")], 200, ""),
        ];
        for (headers, status, kind) in cases {
            let r = call(&fake, "POST", "/v1/messages", headers, &body).await;
            assert_eq!(r.status, status, "{headers:?}");
            if status != 200 {
                let v = r.json();
                assert_eq!(v["type"], "error");
                assert_eq!(v["error"]["type"], kind);
                assert!(v["error"]["message"].is_string());
            }
        }
        // Without a configured key, only the version is required.
        let fake = FakeProvider::start().unwrap();
        let r = call(&fake, "POST", "/v1/messages", &[JSON], &body).await;
        assert_eq!(r.status, 400);
        let body = json!({"model": "m", "messages": []}).to_string();
        let r = call(&fake, "POST", "/v1/messages", &[VERSION], &body).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["error"]["message"], "max_tokens: Field required");
    }

    #[tokio::test]
    async fn max_tokens_cuts_the_answer() {
        let fake = FakeProvider::start().unwrap();
        let body = json!({"model": "m", "max_tokens": 3, "stream": true,
            "messages": [{"role": "user", "content": "one two three"}]})
        .to_string();
        let r = call(&fake, "POST", "/v1/messages", &[VERSION], &body).await;
        let data = r.data();
        assert_eq!(anthropic_text(&data), "Echo: one two");
        let delta = &data[data.len() - 2];
        assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
        assert_eq!(delta["usage"]["output_tokens"], 3);
    }
}

#[tokio::test]
async fn models_are_listed_in_the_dialect_of_the_request() {
    let fake = FakeProvider::start().unwrap();
    let r = call(&fake, "GET", "/v1/models", &[], "").await;
    assert_eq!(
        r.json(),
        json!({"object": "list", "data": [
            {"id": "fake-model-1", "object": "model", "created": 1_700_000_000, "owned_by": "paperclip-fake"},
            {"id": "fake-model-2", "object": "model", "created": 1_700_000_000, "owned_by": "paperclip-fake"},
        ]})
    );
    let r = call(&fake, "GET", "/v1/models", &[VERSION], "").await;
    assert_eq!(
        r.json(),
        json!({"data": [
            {"type": "model", "id": "fake-model-1", "display_name": "fake-model-1", "created_at": "2023-11-14T22:13:20Z"},
            {"type": "model", "id": "fake-model-2", "display_name": "fake-model-2", "created_at": "2023-11-14T22:13:20Z"},
        ], "has_more": false, "first_id": "fake-model-1", "last_id": "fake-model-2"})
    );
}

mod faults {
    use super::*;

    #[tokio::test]
    async fn statuses_answer_in_the_dialect_of_the_route() {
        let fake = FakeProvider::start().unwrap();
        fake.script(
            Route::ChatCompletions,
            [Fault::Status(500), Fault::Status(503)],
        );
        fake.script(Route::Messages, [Fault::Status(500), Fault::Status(529)]);
        for (status, kind) in [(500, "server_error"), (503, "server_error")] {
            let r = chat(&fake, "hi").await;
            assert_eq!((r.status, r.end), (status, End::Complete));
            assert_eq!(r.header("content-type"), Some("application/json"));
            let error = &r.json()["error"];
            assert_eq!(error["type"], kind);
            assert!(error["message"].is_string());
            assert_eq!(error["code"], Value::Null);
        }
        for (status, kind) in [(500, "api_error"), (529, "overloaded_error")] {
            let r = messages(&fake, "hi").await;
            assert_eq!(r.status, status);
            let v = r.json();
            assert_eq!(v["type"], "error");
            assert_eq!(v["error"]["type"], kind);
            assert_eq!(v["request_id"], r.header("request-id").unwrap());
        }
        assert_eq!(chat(&fake, "hi").await.status, 200);
    }

    #[tokio::test]
    async fn too_many_requests_carries_retry_after() {
        let fake = FakeProvider::start().unwrap();
        let fault = Fault::TooManyRequests { retry_after_s: 7 };
        fake.script(Route::Any, [fault.clone(), fault]);
        let r = chat(&fake, "hi").await;
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(
            r.header("access-control-expose-headers"),
            Some("retry-after, request-id, x-request-id")
        );
        let error = &r.json()["error"];
        assert_eq!(error["type"], "requests");
        assert_eq!(error["code"], "rate_limit_exceeded");
        let r = messages(&fake, "hi").await;
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    }

    #[tokio::test]
    async fn reset_ends_the_connection_with_a_rst() {
        let fake = FakeProvider::start().unwrap();
        fake.script(Route::Any, [Fault::Reset]);
        let r = chat(&fake, "hi").await;
        assert_eq!((r.status, r.end), (0, End::Reset));
        assert!(r.body.is_empty());
        assert_eq!(fake.requests()[0].fault, Fault::Reset);
        assert_eq!(chat(&fake, "hi").await.status, 200);
    }

    #[tokio::test]
    async fn a_hang_does_not_block_other_requests() {
        let fake = FakeProvider::start().unwrap();
        fake.script(Route::ChatCompletions, [Fault::HangBeforeHeaders]);
        let limit = Duration::from_millis(1500);
        let body = chat_body("hang", true, true);
        let hung = call_for(&fake, "POST", "/v1/chat/completions", &[JSON], &body, limit);
        let other = async {
            // Once the hanging request is in.
            while fake.requests().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let started = Instant::now();
            (chat(&fake, "meanwhile").await, started.elapsed())
        };
        let (hung, (other, took)) = tokio::join!(hung, other);
        assert_eq!((hung.status, hung.end), (0, End::TimedOut));
        assert_eq!((other.status, other.end), (200, End::Complete));
        assert!(took < Duration::from_millis(1000), "took {took:?}");
        assert_eq!(openai_text(&other.data()), "Echo: meanwhile");
    }

    #[tokio::test]
    async fn a_hang_ends_without_a_response_after_max_hang() {
        let fake = FakeProvider::start_with(Config {
            max_hang: Duration::from_millis(300),
            ..Config::default()
        })
        .unwrap();
        fake.script(Route::Any, [Fault::HangBeforeHeaders]);
        let started = Instant::now();
        let r = messages(&fake, "hi").await;
        assert_eq!((r.status, r.end), (0, End::Eof));
        assert!(started.elapsed() >= Duration::from_millis(290));
    }

    #[tokio::test]
    async fn a_stall_pauses_after_the_given_pieces_then_completes() {
        let fake = FakeProvider::start().unwrap();
        let stall = Fault::StallMidStream {
            after_chunks: 2,
            for_ms: 600,
        };
        fake.script(Route::Any, [stall.clone(), stall]);
        // OpenAI: the role chunk and two pieces, the pause, the rest.
        let r = chat(&fake, "stalled answer").await;
        assert_eq!(r.end, End::Complete);
        assert_stall_before(&r, 3);
        assert_eq!(openai_text(&r.data()), "Echo: stalled answer");
        // Anthropic: three opening events and two pieces.
        let r = messages(&fake, "stalled answer").await;
        assert_stall_before(&r, 5);
        assert_eq!(anthropic_text(&r.data()), "Echo: stalled answer");
    }

    /// HTTP chunk `i` came after the 600 ms pause, chunk `i - 1` well
    /// before its end.
    fn assert_stall_before(r: &Reply, i: usize) {
        let (before, after) = (r.chunks[i - 1].0, r.chunks[i].0);
        assert!(after >= Duration::from_millis(600), "{:?}", r.chunks);
        assert!(
            before + Duration::from_millis(300) < after,
            "{:?}",
            r.chunks
        );
    }

    #[tokio::test]
    async fn a_drop_closes_without_the_terminator() {
        let fake = FakeProvider::start().unwrap();
        let drop = Fault::DropMidStream { after_chunks: 2 };
        fake.script(Route::Any, [drop.clone(), drop]);
        let r = chat(&fake, "dropped answer").await;
        assert_eq!((r.status, r.end), (200, End::Eof));
        let data = r.data();
        assert_eq!(data.len(), 3);
        assert_eq!(openai_text(&data), "Echo: dr");
        assert!(!r.text().contains("[DONE]"));
        let r = messages(&fake, "dropped answer").await;
        assert_eq!((r.status, r.end), (200, End::Eof));
        let names: Vec<_> = r.events().into_iter().map(|(n, _)| n.unwrap()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta"
            ]
        );
        // Past the last piece: everything but the closing events.
        fake.script(Route::Any, [Fault::DropMidStream { after_chunks: 1000 }]);
        let r = chat(&fake, "dropped answer").await;
        assert_eq!(r.end, End::Eof);
        let data = r.data();
        assert_eq!(openai_text(&data), "Echo: dropped answer");
        assert!(data
            .iter()
            .all(|d| d["choices"][0]["finish_reason"].is_null()));
    }

    #[tokio::test]
    async fn a_malformed_chunk_breaks_one_piece() {
        let fake = FakeProvider::start().unwrap();
        let bad = Fault::MalformedChunk { at: 1 };
        fake.script(Route::Any, [bad.clone(), bad]);
        for (r, opening, text) in [
            (
                chat(&fake, "broken").await,
                1,
                openai_text as fn(&[Value]) -> String,
            ),
            (messages(&fake, "broken").await, 3, anthropic_text),
        ] {
            assert_eq!((r.status, r.end), (200, End::Complete));
            let events = r.events();
            let broken: Vec<usize> = (0..events.len())
                .filter(|&i| {
                    events[i].1 != "[DONE]" && serde_json::from_str::<Value>(&events[i].1).is_err()
                })
                .collect();
            assert_eq!(broken, [opening + 1]);
            assert!(events[opening + 1].1.starts_with('{'));
            // Every other piece arrives: the answer lacks piece 1.
            let pieces = fake.answer_chunks("broken");
            let expected: String = [&pieces[..1], &pieces[2..]].concat().concat();
            assert_eq!(text(&r.data()), expected);
        }
    }

    #[tokio::test]
    async fn a_slow_trickle_spaces_every_event() {
        let fake = FakeProvider::start().unwrap();
        fake.script(
            Route::Any,
            [Fault::SlowTrickle {
                delay_ms: 40,
                piece_bytes: None,
            }],
        );
        let r = chat(&fake, "slowly now").await;
        assert_eq!(r.end, End::Complete);
        // One event per HTTP chunk, each after its own 40 ms pause.
        assert_eq!(r.chunks.len(), r.events().len());
        let last = r.chunks.last().unwrap().0;
        assert!(last >= Duration::from_millis(40) * r.chunks.len() as u32);
        assert_eq!(openai_text(&r.data()), "Echo: slowly now");
    }

    #[tokio::test]
    async fn a_trickle_in_pieces_cuts_anywhere_and_keeps_the_bytes() {
        let fake = FakeProvider::start().unwrap();
        let normal = messages(&fake, "Grüße, 世界").await;
        fake.script(
            Route::Any,
            [Fault::SlowTrickle {
                delay_ms: 1,
                piece_bytes: Some(3),
            }],
        );
        let r = messages(&fake, "Grüße, 世界").await;
        assert_eq!(r.end, End::Complete);
        assert!(r.chunks.iter().all(|(_, c)| c.len() <= 3));
        assert!(r
            .chunks
            .iter()
            .any(|(_, c)| std::str::from_utf8(c).is_err()));
        // The same stream but for the ids.
        let same = r.text().replace("fake2", "fake1");
        assert_eq!(same, normal.text());
        assert_eq!(anthropic_text(&r.data()), "Echo: Grüße, 世界");
    }

    #[tokio::test]
    async fn an_error_mid_stream_ends_the_stream() {
        let fake = FakeProvider::start().unwrap();
        let error = Fault::ErrorMidStream { after_chunks: 1 };
        fake.script(Route::Any, [error.clone(), error.clone(), error]);
        let r = messages(&fake, "hi there").await;
        assert_eq!(r.end, End::Complete);
        let events = r.events();
        let (name, data) = events.last().unwrap();
        assert_eq!(name.as_deref(), Some("error"));
        assert_eq!(
            serde_json::from_str::<Value>(data).unwrap(),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        );
        assert_eq!(events.len(), 5);
        let r = chat(&fake, "hi there").await;
        let data = r.data();
        assert_eq!(data.len(), 3);
        assert_eq!(data[2]["error"]["type"], "server_error");
        // Without a stream: a 500.
        let body = chat_body("hi", false, false);
        let r = call(&fake, "POST", "/v1/chat/completions", &[JSON], &body).await;
        assert_eq!(r.status, 500);
    }

    #[tokio::test]
    async fn mid_stream_faults_act_on_whole_bodies() {
        let fake = FakeProvider::start().unwrap();
        let body = chat_body("whole", false, false);
        let whole = call(&fake, "POST", "/v1/chat/completions", &[JSON], &body).await;
        fake.script(
            Route::Any,
            [
                Fault::DropMidStream { after_chunks: 0 },
                Fault::MalformedChunk { at: 0 },
                Fault::SlowTrickle {
                    delay_ms: 1,
                    piece_bytes: Some(50),
                },
            ],
        );
        let r = call(&fake, "POST", "/v1/chat/completions", &[JSON], &body).await;
        assert_eq!((r.status, r.end), (200, End::Eof));
        assert_eq!(r.body.len(), whole.body.len() / 2);
        let r = call(&fake, "POST", "/v1/chat/completions", &[JSON], &body).await;
        assert_eq!(r.end, End::Complete);
        assert!(serde_json::from_slice::<Value>(&r.body).is_err());
        let r = call(&fake, "POST", "/v1/chat/completions", &[JSON], &body).await;
        assert_eq!(r.end, End::Complete);
        assert_eq!(r.json()["choices"][0]["message"]["content"], "Echo: whole");
    }
}

mod scripting {
    use super::*;

    #[tokio::test]
    async fn a_route_takes_its_own_queue_then_any() {
        let fake = FakeProvider::start().unwrap();
        fake.script(Route::Messages, [Fault::Status(500)]);
        fake.script(Route::Any, [Fault::Status(503), Fault::Status(502)]);
        assert_eq!(chat(&fake, "a").await.status, 503);
        assert_eq!(messages(&fake, "b").await.status, 500);
        assert_eq!(messages(&fake, "c").await.status, 502);
        assert_eq!(messages(&fake, "d").await.status, 200);
        assert_eq!(call(&fake, "GET", "/v1/models", &[], "").await.status, 200);
        assert_eq!(fake.pending(Route::Any), 0);
        let faults: Vec<_> = fake.requests().into_iter().map(|r| r.fault).collect();
        assert_eq!(
            faults,
            [
                Fault::Status(503),
                Fault::Status(500),
                Fault::Status(502),
                Fault::Ok,
                Fault::Ok
            ]
        );
    }

    #[tokio::test]
    async fn down_resets_every_request_until_up() {
        let fake = FakeProvider::start().unwrap();
        fake.script(Route::Any, [Fault::Status(500)]);
        fake.set_down(true);
        for _ in 0..2 {
            assert_eq!(chat(&fake, "a").await.end, End::Reset);
        }
        assert_eq!(
            call(&fake, "GET", "/v1/models", &[], "").await.end,
            End::Reset
        );
        // Preflights still pass, so a browser sees the fault itself.
        let r = call(&fake, "OPTIONS", "/v1/messages", &[], "").await;
        assert_eq!(r.status, 204);
        assert_eq!(fake.pending(Route::Any), 1);
        fake.set_down(false);
        assert_eq!(chat(&fake, "a").await.status, 500);
        assert_eq!(chat(&fake, "a").await.status, 200);
        // Down with a 503 instead.
        fake.set_down_with(Fault::Status(503));
        assert_eq!(messages(&fake, "a").await.status, 503);
        fake.set_down(false);
        assert_eq!(messages(&fake, "a").await.status, 200);
    }

    #[tokio::test]
    async fn the_control_endpoints_script_and_report() {
        let fake = FakeProvider::start_with(Config {
            key: Some("sk-secret".into()),
            ..Config::default()
        })
        .unwrap();
        let script = json!({"route": "messages", "faults": [{"status": 529}, "ok"]});
        let r = call(
            &fake,
            "POST",
            "/__fake/script",
            &[JSON],
            &script.to_string(),
        )
        .await;
        assert_eq!(r.json(), json!({"route": "messages", "queued": 2}));
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        let script = json!({"faults": [{"too_many_requests": {"retry_after_s": 1}}]});
        let r = call(
            &fake,
            "POST",
            "/__fake/script",
            &[JSON],
            &script.to_string(),
        )
        .await;
        assert_eq!(r.json(), json!({"route": "any", "queued": 1}));
        let r = call(
            &fake,
            "POST",
            "/__fake/script",
            &[JSON],
            "{\"faults\": [\"nope\"]}",
        )
        .await;
        assert_eq!(r.status, 400);

        let key = [JSON, VERSION, ("x-api-key", "sk-secret")];
        let body = messages_body("hi", true);
        assert_eq!(
            call(&fake, "POST", "/v1/messages", &key, &body)
                .await
                .status,
            529
        );
        assert_eq!(
            call(&fake, "POST", "/v1/messages", &key, &body)
                .await
                .status,
            200
        );
        let bearer = [("authorization", "Bearer sk-secret")];
        let r = call(&fake, "GET", "/v1/models", &bearer, "").await;
        assert_eq!(r.status, 429);

        let r = call(&fake, "GET", "/__fake/requests", &[], "").await;
        let log: Vec<RecordedRequest> = serde_json::from_value(r.json()).unwrap();
        assert_eq!(log, fake.requests());
        assert_eq!(log.len(), 3, "control requests are not logged");
        assert_eq!(log[0].method, "POST");
        assert_eq!(log[0].path, "/v1/messages");
        assert_eq!(log[0].fault, Fault::Status(529));
        assert_eq!(log[0].header("x-api-key"), Some("<redacted>"));
        assert_eq!(log[0].header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(log[0].json().unwrap()["max_tokens"], 100);
        assert_eq!(log[2].header("authorization"), Some("Bearer <redacted>"));
        assert_eq!(log[2].fault, Fault::TooManyRequests { retry_after_s: 1 });
        assert!(!r.text().contains("sk-secret"));

        let down = json!({"down": true, "fault": {"status": 503}}).to_string();
        call(&fake, "POST", "/__fake/down", &[JSON], &down).await;
        assert_eq!(
            call(&fake, "POST", "/v1/messages", &key, &body)
                .await
                .status,
            503
        );
        call(&fake, "POST", "/__fake/down", &[JSON], r#"{"down": false}"#).await;
        assert_eq!(
            call(&fake, "POST", "/v1/messages", &key, &body)
                .await
                .status,
            200
        );
        let down = json!({"down": true}).to_string();
        call(&fake, "POST", "/__fake/down", &[JSON], &down).await;
        let r = call(&fake, "POST", "/v1/messages", &key, &body).await;
        assert_eq!(r.end, End::Reset);

        let r = call(&fake, "POST", "/__fake/reset", &[], "").await;
        assert_eq!(r.status, 200);
        assert!(fake.requests().is_empty());
        assert_eq!(
            call(&fake, "POST", "/v1/messages", &key, &body)
                .await
                .status,
            200
        );
    }

    #[tokio::test]
    async fn preflights_allow_the_provider_headers_and_take_no_fault() {
        let fake = FakeProvider::start().unwrap();
        fake.script(Route::Any, [Fault::Reset]);
        let r = call(&fake, "OPTIONS", "/v1/messages", &[("origin", "null")], "").await;
        assert_eq!((r.status, r.end), (204, End::Complete));
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert_eq!(
            r.header("access-control-allow-methods"),
            Some("GET, POST, OPTIONS")
        );
        let allowed = r.header("access-control-allow-headers").unwrap();
        for name in [
            "authorization",
            "content-type",
            "x-api-key",
            "anthropic-version",
            "anthropic-dangerous-direct-browser-access",
        ] {
            assert!(allowed.contains(name), "{name} in {allowed}");
        }
        // A named list is echoed (the SDKs add x-stainless-* headers).
        let asked = [
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "x-stainless-os,x-api-key"),
            ("access-control-request-private-network", "true"),
        ];
        let r = call(&fake, "OPTIONS", "/v1/messages", &asked, "").await;
        assert_eq!(
            r.header("access-control-allow-headers"),
            Some("x-stainless-os,x-api-key")
        );
        assert_eq!(
            r.header("access-control-allow-private-network"),
            Some("true")
        );
        assert_eq!(fake.pending(Route::Any), 1);
        assert_eq!(fake.requests()[0].method, "OPTIONS");
    }

    #[test]
    fn faults_have_a_plain_json_form() {
        let cases = [
            (Fault::Ok, json!("ok")),
            (Fault::Status(503), json!({"status": 503})),
            (
                Fault::TooManyRequests { retry_after_s: 2 },
                json!({"too_many_requests": {"retry_after_s": 2}}),
            ),
            (Fault::Reset, json!("reset")),
            (Fault::HangBeforeHeaders, json!("hang_before_headers")),
            (
                Fault::StallMidStream {
                    after_chunks: 2,
                    for_ms: 500,
                },
                json!({"stall_mid_stream": {"after_chunks": 2, "for_ms": 500}}),
            ),
            (
                Fault::DropMidStream { after_chunks: 2 },
                json!({"drop_mid_stream": {"after_chunks": 2}}),
            ),
            (
                Fault::MalformedChunk { at: 1 },
                json!({"malformed_chunk": {"at": 1}}),
            ),
            (
                Fault::SlowTrickle {
                    delay_ms: 50,
                    piece_bytes: None,
                },
                json!({"slow_trickle": {"delay_ms": 50}}),
            ),
            (
                Fault::SlowTrickle {
                    delay_ms: 50,
                    piece_bytes: Some(3),
                },
                json!({"slow_trickle": {"delay_ms": 50, "piece_bytes": 3}}),
            ),
            (
                Fault::ErrorMidStream { after_chunks: 1 },
                json!({"error_mid_stream": {"after_chunks": 1}}),
            ),
        ];
        for (fault, form) in cases {
            assert_eq!(serde_json::to_value(&fault).unwrap(), form);
            assert_eq!(serde_json::from_value::<Fault>(form).unwrap(), fault);
        }
    }
}

/// The official clients against the fake: `tests/sdk-check/check.mjs`.
mod sdk {
    use super::*;
    use paperclip_e2e::root;
    use std::process::{Command, Stdio};

    /// Must match `tests/sdk-check/check.mjs`.
    const PROMPT: &str = "Hello from the official clients";
    const TRICKLE_PROMPT: &str = "Grüße, 世界: trickled";
    const SYSTEM: &str = "Be brief.";

    fn install_hint() -> String {
        format!(
            "install Node.js 20+ and npm (apt-get install -y nodejs npm), then run \
             `npm ci` in {} (cargo xtask test does both checks in its tools stage)",
            root().display()
        )
    }

    /// Runs `node tests/sdk-check/check.mjs BASE` from the root; its JSON.
    fn run_check(base: &str) -> Value {
        let root = root();
        for package in ["openai", "@anthropic-ai/sdk"] {
            let manifest = root.join("node_modules").join(package).join("package.json");
            assert!(
                manifest.exists(),
                "the npm package {package} is missing ({}): {}",
                manifest.display(),
                install_hint()
            );
        }
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
        let mut child = Command::new(&node)
            .arg("tests/sdk-check/check.mjs")
            .arg(base)
            .current_dir(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{node}` ({e}): {}", install_hint()));
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                panic!("check.mjs ran over 120 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "check.mjs failed ({}):\n{stdout}\n{stderr}",
            out.status
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("check.mjs printed no JSON ({e}):\n{stdout}\n{stderr}"))
    }

    #[test]
    fn the_official_clients_parse_the_streams() {
        let fake = FakeProvider::start().unwrap();
        let summary = run_check(&fake.base_url());
        let text = answer_for(PROMPT);
        let input = words(SYSTEM) + words(PROMPT);
        let output = words(&text);
        let trickled = answer_for(TRICKLE_PROMPT);
        let openai_usage = json!({
            "prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output,
        });
        let openai = json!({"text": text, "finish_reason": "stop", "usage": openai_usage});
        let anthropic_usage = json!({"input_tokens": input, "output_tokens": output});
        let anthropic = json!({"text": text, "stop_reason": "end_turn", "usage": anthropic_usage});
        let models = json!(["fake-model-1", "fake-model-2"]);
        assert_eq!(summary["openai"]["stream"], openai, "{summary:#}");
        assert_eq!(summary["openai"]["helper"], openai, "{summary:#}");
        assert_eq!(summary["openai"]["whole"], openai, "{summary:#}");
        assert_eq!(summary["openai"]["models"], models);
        assert_eq!(summary["openai"]["trickled"], json!(trickled));
        assert_eq!(summary["anthropic"]["stream"], anthropic, "{summary:#}");
        assert_eq!(summary["anthropic"]["raw"], anthropic, "{summary:#}");
        assert_eq!(summary["anthropic"]["whole"], anthropic, "{summary:#}");
        assert_eq!(summary["anthropic"]["models"], models);
        assert_eq!(summary["anthropic"]["trickled"], json!(trickled));
        // The SDKs streamed exactly the fake's pieces.
        assert_eq!(
            summary["anthropic"]["pieces"],
            json!(chunks(&text, fake.config().chunk_chars))
        );

        // Faults, as each client reports them (check.mjs scripts them
        // through /__fake/script, with retries off).
        let f = &summary["faults"];
        let http = |name: &str, status: u16, kind: &str, retry: Value| json!({"error": name, "status": status, "type": kind, "retry_after": retry});
        assert_eq!(
            f["openai_429"],
            http("RateLimitError", 429, "requests", json!("7"))
        );
        assert_eq!(
            f["openai_503"],
            http("InternalServerError", 503, "server_error", Value::Null)
        );
        assert_eq!(
            f["anthropic_429"],
            http("RateLimitError", 429, "rate_limit_error", json!("7"))
        );
        assert_eq!(
            f["anthropic_529"],
            http("OverloadedError", 529, "overloaded_error", Value::Null)
        );
        assert_eq!(f["openai_error_mid_stream"]["type"], "server_error");
        assert_eq!(f["anthropic_error_mid_stream"]["type"], "overloaded_error");
        for name in ["openai_reset", "anthropic_reset"] {
            assert_eq!(f[name]["error"], "APIConnectionError", "{name}: {f:#}");
        }
        for name in ["openai_malformed", "anthropic_malformed", "anthropic_drop"] {
            assert!(f[name]["error"].is_string(), "{name}: {f:#}");
        }
        // Node's fetch ends a chunked body cut by a FIN without an error,
        // and the openai client returns what came: a short answer with
        // no finish_reason and no usage (browsers report
        // ERR_INCOMPLETE_CHUNKED_ENCODING instead). Never a clean "stop".
        let drop = &f["openai_drop"];
        if drop["error"].is_null() {
            let partial = &drop["ok"];
            assert_eq!(partial["finish_reason"], Value::Null, "{f:#}");
            assert_eq!(partial["text"], "Echo: He", "{f:#}");
        }
        assert_eq!(fake.pending(Route::Any), 0);
        assert_eq!(fake.pending(Route::ChatCompletions), 0);
        assert_eq!(fake.pending(Route::Messages), 0);
    }
}
