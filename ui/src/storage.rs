//! Storage health, shared by the options page and the devtools panel:
//! persistence, quota, counts, compression, cache statistics, the
//! quarantine, and a button for the cleanup job.

use paperclip_core::maintenance::QuotaLevel;
use paperclip_core::protocol::{
    GetStorageStatus, MaintenanceReport, RunMaintenance, StorageStatus,
};
use paperclip_platform as platform;
use yew::prelude::*;

/// A status line: nothing, a polite status, or an alert.
pub fn status_line(status: &Option<Result<String, String>>) -> Html {
    match status {
        None => html! {},
        Some(Ok(m)) => html! { <p class="status" role="status">{ m.clone() }</p> },
        Some(Err(m)) => html! { <p class="error" role="alert">{ m.clone() }</p> },
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

/// Storage health and the cleanup job.
#[function_component(StorageSection)]
pub fn storage_section() -> Html {
    let (status, reload) = crate::use_rpc_live(
        GetStorageStatus {},
        |s: StorageStatus| s,
        &[
            paperclip_core::protocol::Topic::Storage,
            paperclip_core::protocol::Topic::Conversations,
        ],
    );
    let job = use_state(|| None::<Result<String, String>>);
    let run = {
        let job = job.clone();
        Callback::from(move |_| {
            let job = job.clone();
            let reload = reload.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let r = platform::call(RunMaintenance {})
                    .await
                    .map(|r: MaintenanceReport| {
                        format!(
                            "Cleanup done: {} expired cache entries, {} conversations past retention, {} cache entries and {} conversations for the budget removed.",
                            r.expired_cache, r.retention_deleted, r.budget_cache_evicted, r.budget_conversations_deleted
                        )
                    })
                    .map_err(|e| e.message);
                job.set(Some(r));
                reload();
            });
        })
    };
    let body = match &*status {
        None => html! { <p aria-busy="true">{ "Loading…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Some(Ok(s)) => html! {
            <>
                if let Some(notice) = &s.notice {
                    <p class="error" role="alert">{ notice.clone() }</p>
                }
                if let QuotaLevel::Near { percent } = s.quota {
                    <p class="error" role="alert">{ format!("Storage is {percent}% full ({} of {}). Export and delete old conversations, or lower the storage budget.", mb(s.usage_bytes), mb(s.quota_bytes)) }</p>
                }
                <dl class="storage-status">
                    <dt>{ "Persistent" }</dt><dd>{ if s.persistent { "yes" } else { "no: history is kept in memory only" } }</dd>
                    <dt>{ "Used" }</dt><dd>{ format!("{} of {}", mb(s.usage_bytes), mb(s.quota_bytes)) }</dd>
                    <dt>{ "Conversations" }</dt><dd>{ format!("{} ({} compressed, {} saved)", s.conversations, s.compressed, mb(s.bytes_saved)) }</dd>
                    <dt>{ "Context cache" }</dt><dd>{ format!("{} entries, hit rate {:.0}% ({} hits, {} misses, {} evictions)", s.cache_entries, s.cache.hit_rate() * 100.0, s.cache.hits, s.cache.misses, s.cache.evictions) }</dd>
                    <dt>{ "Quarantined records" }</dt><dd>{ s.quarantine.len() }</dd>
                </dl>
                if !s.quarantine.is_empty() {
                    <table class="quarantine" aria-label="Quarantined records">
                        <thead><tr><th>{ "Store" }</th><th>{ "Key" }</th><th>{ "Problem" }</th><th>{ "When" }</th></tr></thead>
                        <tbody>
                            { for s.quarantine.iter().map(|q| html! {
                                <tr><td>{ q.store.clone() }</td><td>{ q.key.clone() }</td><td>{ q.error.clone() }</td><td>{ crate::format_time(q.time_ms) }</td></tr>
                            }) }
                        </tbody>
                    </table>
                }
            </>
        },
    };
    html! {
        <section class="storage">
            <h2>{ "Storage" }</h2>
            { body }
            <p><button onclick={run}>{ "Clean up now" }</button></p>
            { status_line(&job) }
        </section>
    }
}
