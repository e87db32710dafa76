//! The storage layer in a page context (real Chromium).
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/mod.rs"]
mod common;

/// These tests run on IndexedDB.
const MEMORY: bool = false;

all_storage_tests!();
