//! The storage layer in a service worker, where the background runs (real Chromium).
use wasm_bindgen_test::*;
wasm_bindgen_test_configure!(run_in_service_worker);

#[path = "common/mod.rs"]
mod common;

#[wasm_bindgen_test]
async fn round_trip_and_order() {
    common::round_trip_and_order().await;
}

#[wasm_bindgen_test]
async fn latest_for_site_and_delete() {
    common::latest_for_site_and_delete().await;
}

#[wasm_bindgen_test]
async fn concurrent_appends_lose_nothing() {
    common::concurrent_appends_lose_nothing().await;
}

#[wasm_bindgen_test]
async fn streaming_message_is_replaced_in_place() {
    common::streaming_message_is_replaced_in_place().await;
}

#[wasm_bindgen_test]
async fn corrupt_records_are_skipped_not_fatal() {
    common::corrupt_records_are_skipped_not_fatal().await;
}

#[wasm_bindgen_test]
async fn export_then_import_under_each_policy() {
    common::export_then_import_under_each_policy().await;
}
