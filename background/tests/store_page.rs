//! The storage layer in a page context (real Chromium).
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/mod.rs"]
mod common;

all_storage_tests!();
