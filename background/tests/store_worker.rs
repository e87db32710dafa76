//! The storage layer in a service worker, where the background runs (real Chromium).
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_service_worker);

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
