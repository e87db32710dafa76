//! An answer of arbitrary text parsed into the Markdown tree the agent
//! renders: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperclip_core::markdown;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = markdown::parse(&text);
});
