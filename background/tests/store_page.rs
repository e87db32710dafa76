//! The storage layer in a page context (real Chromium).
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/mod.rs"]
mod common;

storage_tests!(
    round_trip_and_order,
    latest_for_site_and_delete,
    concurrent_appends_lose_nothing,
    streaming_message_is_replaced_in_place,
    corrupt_records_are_skipped_not_fatal,
    export_then_import_under_each_policy,
);
