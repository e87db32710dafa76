//! The storage engine on its memory backend (the fallback when IndexedDB
//! cannot be opened), through the same backend tests as IndexedDB (real
//! Chromium).
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

// The IndexedDB-only tests (quarantine, migrations) are not declared here.
#[allow(dead_code)]
#[path = "common/mod.rs"]
mod common;

/// These tests run on the memory backend.
const MEMORY: bool = true;

backend_tests!();
