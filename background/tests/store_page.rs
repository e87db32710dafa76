//! The storage layer in a page context (real Chromium).
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/mod.rs"]
mod common;

storage_tests!(
    round_trip_and_order,
    latest_for_site_and_delete,
    concurrent_appends_lose_nothing,
    streaming_message_is_replaced_in_place,
    corrupt_records_are_quarantined_not_fatal,
    export_then_import_under_each_policy,
    migration_v1_to_v2_transforms_records,
    failing_migration_leaves_old_data_intact,
    newer_database_is_refused_and_left_alone,
    list_filters_and_stable_pages,
    tags_usage_and_compression,
    cache_tiers_ttl_prefix_and_persisted_stats,
    preferences_are_validated_and_persist,
    maintenance_retention_then_budget,
    blocked_upgrade_falls_back_to_memory,
    settings_from_an_older_version_are_migrated,
);
