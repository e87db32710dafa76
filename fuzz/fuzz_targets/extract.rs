//! A page's serialised DOM of arbitrary bytes (a hostile page writes what
//! it likes into its own text and attributes): read within bounds, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperclip_core::extract;

fuzz_target!(|data: &[u8]| {
    let stream = String::from_utf8_lossy(data);
    let page = extract::extract(&stream);
    assert!(page.forms.len() <= extract::MAX_FORM_FIELDS);
});
