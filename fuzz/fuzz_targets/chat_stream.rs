//! A provider's streamed answer of arbitrary bytes, in either dialect
//! (OpenAI-compatible or Anthropic: the first byte's low bit), cut into
//! chunks at arbitrary places (the second byte), followed by an error
//! body of the same bytes: never a panic, at most one terminal event and
//! nothing after it, and no error message holding the key or longer than
//! the bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperclip_core::provider::{
    parse_error_body, ChatStream, ProviderConfig, ProviderKind, ProviderSettings, StreamEvent,
    MAX_ERROR_MESSAGE_CHARS,
};

const KEY: &str = "sk-fuzz-SECRET-0123456789";

fn check_error(text: &str) {
    assert!(!text.contains(KEY), "the key in an error: {text}");
}

fuzz_target!(|data: &[u8]| {
    let [dialect, size, rest @ ..] = data else {
        return;
    };
    let kind = if dialect & 1 == 0 {
        ProviderKind::OpenAiCompatible
    } else {
        ProviderKind::Anthropic
    };
    let settings = ProviderSettings::new("f", kind, "https://api.example/v1", "m");
    let config = ProviderConfig::new(settings, Some(KEY)).expect("a valid provider");
    let mut stream = ChatStream::new(&config).expect("an HTTP provider");
    let mut terminal = 0;
    let mut seen = |events: Vec<StreamEvent>| {
        for event in events {
            assert_eq!(terminal, 0, "an event after the terminal one: {event:?}");
            match event {
                StreamEvent::Finished { .. } => terminal += 1,
                StreamEvent::Error(e) => {
                    check_error(&format!("{e:?} {e}"));
                    terminal += 1;
                }
                StreamEvent::Delta(_) | StreamEvent::Usage { .. } => {}
            }
        }
    };
    for chunk in rest.chunks(usize::from(*size).max(1)) {
        seen(stream.push(chunk));
    }
    seen(stream.finish());
    assert!(terminal <= 1);
    // The same bytes as a failed answer's body.
    let body = String::from_utf8_lossy(rest);
    let error = parse_error_body(&config, 400, &body);
    let text = format!("{error}");
    check_error(&text);
    assert!(text.chars().count() <= MAX_ERROR_MESSAGE_CHARS + 200, "{text}");
});
