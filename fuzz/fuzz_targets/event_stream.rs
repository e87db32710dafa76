//! A provider's event stream of arbitrary bytes, cut into chunks at
//! arbitrary places (the first byte chooses the chunk size): events or a
//! bounded error, never a panic, and the decoder's limits hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperclip_core::provider::sse::{SseDecoder, SseLimits};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let limits = SseLimits::default();
    let mut decoder = SseDecoder::new(limits);
    for chunk in rest.chunks(usize::from(first).max(1)) {
        match decoder.push(chunk) {
            Ok(events) => {
                for event in events {
                    assert!(event.data.len() <= limits.max_event_bytes);
                }
            }
            Err(_) => break,
        }
    }
});
