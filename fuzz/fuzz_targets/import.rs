//! An import file of arbitrary bytes: accepted whole or refused with an
//! error naming where, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperclip_core::export;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = export::parse_import(data, 1.9e12) {
        // What was accepted is marked imported, and exports again.
        assert!(file.conversations.iter().all(|c| c.imported));
    }
});
