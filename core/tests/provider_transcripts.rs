//! The provider layer against captured wire transcripts
//! (`tests/fixtures/provider/`): whole bodies parse to the expected
//! events; any split into chunks, and any line-end style, gives the same
//! events; a body cut anywhere ends with exactly one terminal event; the
//! key goes only into the auth header.

use paperclip_core::conversation::Role;
use paperclip_core::provider::sse::SseDecoder;
use paperclip_core::provider::{
    chat_request, connection_report, models_request, parse_error_body, parse_models, ChatMessage,
    ChatRequest, ChatStream, FinishReason, ProviderConfig, ProviderError, ProviderKind,
    ProviderSettings, StreamEvent,
};
use proptest::prelude::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("fixtures/provider/", $name))
    };
}

const OPENAI: &str = fixture!("openai_stream.sse");
const OLLAMA: &str = fixture!("ollama_stream.sse");
const LLAMACPP: &str = fixture!("llamacpp_length.sse");
const OPENROUTER_ERROR: &str = fixture!("openrouter_error.sse");
const ANTHROPIC: &str = fixture!("anthropic_stream.sse");
const ANTHROPIC_OVERLOADED: &str = fixture!("anthropic_overloaded.sse");

/// Every stream transcript with its dialect.
const STREAMS: [(ProviderKind, &str); 6] = [
    (ProviderKind::OpenAiCompatible, OPENAI),
    (ProviderKind::OpenAiCompatible, OLLAMA),
    (ProviderKind::OpenAiCompatible, LLAMACPP),
    (ProviderKind::OpenAiCompatible, OPENROUTER_ERROR),
    (ProviderKind::Anthropic, ANTHROPIC),
    (ProviderKind::Anthropic, ANTHROPIC_OVERLOADED),
];

const KEY: &str = "sk-UNIQUE-test-key-0123456789";

fn config(kind: ProviderKind) -> ProviderConfig {
    let (base, model) = match kind {
        ProviderKind::Anthropic => ("https://api.anthropic.com", "claude-sonnet-4-5-20250929"),
        _ => ("https://api.openai.com/v1", "gpt-4o-mini"),
    };
    ProviderConfig::new(ProviderSettings::new("p", kind, base, model), Some(KEY)).unwrap()
}

/// Feeds `chunks` to a fresh stream and finishes it.
fn run<'a>(kind: ProviderKind, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<StreamEvent> {
    let mut stream = ChatStream::new(&config(kind)).unwrap();
    let mut events: Vec<StreamEvent> = chunks.into_iter().flat_map(|c| stream.push(c)).collect();
    events.extend(stream.finish());
    events
}

fn whole(kind: ProviderKind, body: &str) -> Vec<StreamEvent> {
    run(kind, [body.as_bytes()])
}

fn delta(text: &str) -> StreamEvent {
    StreamEvent::Delta(text.into())
}

fn usage(tokens_in: u64, tokens_out: u64) -> StreamEvent {
    StreamEvent::Usage {
        tokens_in,
        tokens_out,
    }
}

fn finished(reason: FinishReason) -> StreamEvent {
    StreamEvent::Finished { reason }
}

fn api_error(message: &str, error_type: &str) -> StreamEvent {
    StreamEvent::Error(ProviderError::Api {
        message: message.into(),
        error_type: Some(error_type.into()),
    })
}

mod transcripts {
    use super::*;

    #[test]
    fn openai_with_usage_chunk() {
        assert_eq!(
            whole(ProviderKind::OpenAiCompatible, OPENAI),
            [
                delta("It looks"),
                delta(" like you’re"),
                delta(" reading about café 📎 clips."),
                usage(19, 10),
                finished(FinishReason::Stop),
            ]
        );
    }

    #[test]
    fn ollama_without_usage() {
        assert_eq!(
            whole(ProviderKind::OpenAiCompatible, OLLAMA),
            [
                delta("Paper"),
                delta("clips hold"),
                delta(" paper."),
                finished(FinishReason::Stop)
            ]
        );
    }

    #[test]
    fn llamacpp_cut_at_length_with_usage_in_the_last_chunk() {
        assert_eq!(
            whole(ProviderKind::OpenAiCompatible, LLAMACPP),
            [
                delta("Once"),
                delta(" upon"),
                usage(12, 2),
                finished(FinishReason::Length)
            ]
        );
    }

    #[test]
    fn openrouter_comments_and_mid_stream_error() {
        assert_eq!(
            whole(ProviderKind::OpenAiCompatible, OPENROUTER_ERROR),
            [
                delta("Let me"),
                api_error("Provider disconnected unexpectedly", "server_error")
            ]
        );
    }

    #[test]
    fn anthropic_full_stream() {
        assert_eq!(
            whole(ProviderKind::Anthropic, ANTHROPIC),
            [
                delta("Hello"),
                delta("! It looks like you’re"),
                delta(" writing a letter 📎"),
                usage(25, 15),
                finished(FinishReason::Stop),
            ]
        );
    }

    #[test]
    fn anthropic_overloaded_mid_stream() {
        let events = whole(ProviderKind::Anthropic, ANTHROPIC_OVERLOADED);
        assert_eq!(
            events,
            [
                delta("Here is a"),
                usage(472, 2),
                api_error("Overloaded", "overloaded_error")
            ]
        );
        let StreamEvent::Error(e) = &events[2] else {
            unreachable!()
        };
        assert!(e.is_transient());
    }

    #[test]
    fn bytes_after_the_end_are_ignored() {
        let body = format!("{OLLAMA}data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"late\"}}}}]}}\n\n");
        assert_eq!(
            whole(ProviderKind::OpenAiCompatible, &body),
            whole(ProviderKind::OpenAiCompatible, OLLAMA)
        );
    }

    #[test]
    fn every_two_chunk_split_and_byte_by_byte() {
        for (kind, body) in STREAMS {
            let want = whole(kind, body);
            let bytes = body.as_bytes();
            for cut in 0..=bytes.len() {
                assert_eq!(
                    run(kind, [&bytes[..cut], &bytes[cut..]]),
                    want,
                    "cut at {cut}"
                );
            }
            assert_eq!(run(kind, bytes.chunks(1)), want);
        }
    }

    #[test]
    fn a_huge_line_ends_the_stream_with_a_framing_error() {
        let mut stream = ChatStream::new(&config(ProviderKind::OpenAiCompatible)).unwrap();
        let mut events = stream
            .push(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: ");
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..10 {
            events.extend(stream.push(&chunk));
        }
        events.extend(stream.finish());
        assert!(
            matches!(
                &events[..],
                [
                    StreamEvent::Delta(_),
                    StreamEvent::Error(ProviderError::Framing { .. })
                ]
            ),
            "{events:?}"
        );
    }
}

mod bodies {
    use super::*;

    fn http(status: u16, message: &str, error_type: &str) -> ProviderError {
        ProviderError::Http {
            status,
            message: message.into(),
            error_type: Some(error_type.into()),
        }
    }

    #[test]
    fn error_bodies_of_both_dialects() {
        let openai = config(ProviderKind::OpenAiCompatible);
        let anthropic = config(ProviderKind::Anthropic);
        assert_eq!(
            parse_error_body(&openai, 401, fixture!("openai_error_401.json")),
            http(
                401,
                "Incorrect API key provided: sk-proj-********************abcd. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error"
            )
        );
        let limited = parse_error_body(&openai, 429, fixture!("openai_error_429.json"));
        assert!(limited.is_transient());
        assert!(
            matches!(&limited, ProviderError::Http { message, .. } if message.starts_with("Rate limit reached"))
        );
        assert_eq!(
            parse_error_body(&anthropic, 529, fixture!("anthropic_error_529.json")),
            http(529, "Overloaded", "overloaded_error")
        );
        let limited = parse_error_body(&anthropic, 429, fixture!("anthropic_error_429.json"));
        assert_eq!(limited.clone(), http(429, "This request would exceed the rate limit for your organization of 50 input tokens per minute.", "rate_limit_error"));
        assert!(limited.is_transient());
        assert_eq!(
            parse_error_body(&openai, 404, fixture!("ollama_error_404.json")),
            http(
                404,
                "model \"llama9\" not found, try pulling it first",
                "api_error"
            )
        );
        assert_eq!(
            parse_error_body(
                &openai,
                502,
                "<html><head><title>502 Bad Gateway</title></head></html>"
            )
            .to_string(),
            "http 502: bad gateway (the server sent an html page; check the base url)"
        );
    }

    #[test]
    fn model_lists() {
        assert_eq!(
            parse_models(fixture!("openai_models.json")).unwrap(),
            ["gpt-4o-mini", "gpt-4o"]
        );
        assert_eq!(
            parse_models(fixture!("ollama_models.json")).unwrap(),
            ["llama3.2:latest", "qwen2.5:7b"]
        );
        let report = connection_report(
            &config(ProviderKind::Anthropic),
            200,
            fixture!("anthropic_models.json"),
            87,
        )
        .unwrap();
        assert_eq!(
            report.models,
            ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"]
        );
        assert!(report.model_listed);
        assert_eq!(report.latency_ms, 87);
        assert!(matches!(
            parse_models("<html>"),
            Err(ProviderError::Malformed { .. })
        ));
    }
}

mod secrecy {
    use super::*;

    #[test]
    fn the_key_goes_only_into_the_auth_header() {
        let req = ChatRequest {
            system: Some("be brief".into()),
            messages: vec![ChatMessage::new(Role::User, "hello")],
            ..ChatRequest::default()
        };
        for kind in [ProviderKind::OpenAiCompatible, ProviderKind::Anthropic] {
            let c = config(kind);
            let auth = match kind {
                ProviderKind::Anthropic => ("x-api-key", KEY.to_owned()),
                _ => ("authorization", format!("Bearer {KEY}")),
            };
            for http in [chat_request(&c, &req).unwrap(), models_request(&c).unwrap()] {
                assert!(!http.url.contains(KEY));
                assert!(!http.body.as_deref().unwrap_or("").contains(KEY));
                let holding: Vec<_> = http
                    .headers
                    .iter()
                    .filter(|(_, v)| v.contains(KEY))
                    .collect();
                assert_eq!(holding, [&(auth.0.to_owned(), auth.1.clone())]);
                assert!(!format!("{http:?}").contains(KEY));
            }
        }
    }

    #[test]
    fn no_key_no_auth_header() {
        let c = ProviderConfig::new(
            ProviderSettings::new(
                "o",
                ProviderKind::OpenAiCompatible,
                "http://localhost:11434",
                "llama3.2",
            ),
            None,
        )
        .unwrap();
        let http = chat_request(
            &c,
            &ChatRequest::new(vec![ChatMessage::new(Role::User, "hi")]),
        )
        .unwrap();
        assert_eq!(http.header("authorization"), None);
    }

    #[test]
    fn a_key_echoed_in_a_stream_error_is_redacted() {
        let body = format!("event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"authentication_error\",\"message\":\"bad key {KEY}\"}}}}\n\n");
        let events = whole(ProviderKind::Anthropic, &body);
        assert_eq!(
            events,
            [StreamEvent::Error(ProviderError::Api {
                message: "bad key ***".into(),
                error_type: Some("authentication_error".into())
            })]
        );
    }

    #[test]
    fn public_forms_never_carry_the_key() {
        for kind in [ProviderKind::OpenAiCompatible, ProviderKind::Anthropic] {
            let c = config(kind);
            for text in [
                format!("{c:?}"),
                serde_json::to_string(&c.public()).unwrap(),
                serde_json::to_string(c.settings()).unwrap(),
                format!("{:?}", c.to_stored()),
            ] {
                assert!(!text.contains(KEY), "{text}");
            }
        }
    }
}

/// `body` with every LF replaced by `ending`.
fn with_line_end(body: &str, ending: &str) -> String {
    body.replace('\n', ending)
}

/// Splits `bytes` at the given cut points (sorted, deduplicated).
fn split<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut chunks = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        chunks.push(&bytes[start..p]);
        start = p;
    }
    chunks
}

proptest! {
    #[test]
    fn any_split_and_line_end_give_the_same_events(
        which in 0..STREAMS.len(),
        ending in prop::sample::select(vec!["\n", "\r\n", "\r"]),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
    ) {
        let (kind, body) = STREAMS[which];
        let want = whole(kind, body);
        let body = with_line_end(body, ending);
        let got = run(kind, split(body.as_bytes(), &cuts));
        prop_assert_eq!(got, want);
    }

    #[test]
    fn sse_events_do_not_depend_on_chunking(
        which in 0..STREAMS.len(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
    ) {
        let body = with_line_end(STREAMS[which].1, "\r\n");
        let mut one = SseDecoder::default();
        let want = one.push(body.as_bytes()).unwrap();
        let mut many = SseDecoder::default();
        let mut got = Vec::new();
        for chunk in split(body.as_bytes(), &cuts) {
            got.extend(many.push(chunk).unwrap());
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(many.finish(), Ok(()));
    }

    #[test]
    fn a_body_cut_anywhere_ends_with_one_terminal_event(which in 0..STREAMS.len(), cut in any::<prop::sample::Index>()) {
        let (kind, body) = STREAMS[which];
        let bytes = body.as_bytes();
        let cut = cut.index(bytes.len() + 1);
        let events = run(kind, [&bytes[..cut]]);
        let terminal = |e: &StreamEvent| matches!(e, StreamEvent::Finished { .. } | StreamEvent::Error(_));
        prop_assert_eq!(events.iter().filter(|e| terminal(e)).count(), 1);
        prop_assert!(events.last().is_some_and(terminal));
        let text: String = events.iter().filter_map(|e| match e { StreamEvent::Delta(t) => Some(t.as_str()), _ => None }).collect();
        let full: String = whole(kind, body).iter().filter_map(|e| match e { StreamEvent::Delta(t) => Some(t.clone()), _ => None }).collect();
        prop_assert!(full.starts_with(&text));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_end_once(
        kind in prop::sample::select(vec![ProviderKind::OpenAiCompatible, ProviderKind::Anthropic]),
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..10),
    ) {
        let events = run(kind, chunks.iter().map(Vec::as_slice));
        let terminal = events.iter().filter(|e| matches!(e, StreamEvent::Finished { .. } | StreamEvent::Error(_))).count();
        prop_assert_eq!(terminal, 1);
    }

    #[test]
    fn json_like_events_never_panic(
        kind in prop::sample::select(vec![ProviderKind::OpenAiCompatible, ProviderKind::Anthropic]),
        datas in prop::collection::vec(r#"\{("(type|choices|delta|usage|error|text|content|message|index)":(\[\]|\{\}|null|1|"[a-z_]{0,12}"|\[\{"index":0,"delta":\{"content":"x"\}\}\]),?){0,4}\}|\[DONE\]"#, 0..12),
    ) {
        let body: String = datas.iter().map(|d| format!("data: {d}\n\n")).collect();
        let events = run(kind, [body.as_bytes()]);
        let terminal = events.iter().filter(|e| matches!(e, StreamEvent::Finished { .. } | StreamEvent::Error(_))).count();
        prop_assert_eq!(terminal, 1);
    }
}
