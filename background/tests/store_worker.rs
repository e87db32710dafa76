//! The storage layer in a service worker, where the background runs (real Chromium).
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_service_worker);

#[path = "common/mod.rs"]
mod common;

/// These tests run on IndexedDB.
const MEMORY: bool = false;

all_storage_tests!();
