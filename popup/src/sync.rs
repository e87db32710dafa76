//! The options page's *Settings sync* status: whether it is on (the
//! switch is `privacy.sync_settings` among the Privacy preferences), when
//! it last ran, what it took and sent, and what arrived from another
//! device and was refused (with why).

use paperclip_core::protocol::{GetSyncStatus, SyncStatus, Topic};
use yew::prelude::*;

fn summary(s: &SyncStatus) -> String {
    if !s.enabled {
        return "Settings sync is off: these settings stay in this browser. Turn on \u{201c}Sync these settings\u{201d} under Privacy to keep them in your browser account.".into();
    }
    match (s.at_ms, &s.error) {
        (None, _) => "Settings sync is on; it has not run yet.".into(),
        (Some(at), Some(e)) => format!(
            "Settings sync failed at {}: {e}",
            paperclip_ui::format_time(at)
        ),
        (Some(at), None) => format!(
            "Settings synced at {}: {} taken from your other devices, {} sent to them.",
            paperclip_ui::format_time(at),
            s.applied,
            s.pushed
        ),
    }
}

/// The section.
#[function_component(SyncSection)]
pub fn sync_section() -> Html {
    let (status, _) = paperclip_ui::use_rpc_live(
        GetSyncStatus {},
        |s: SyncStatus| s,
        &[Topic::Storage, Topic::Preferences],
    );
    let body = match &*status {
        None => html! { <p aria-busy="true">{ "Loading…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Some(Ok(s)) => html! {
            <>
                <p class="sync-summary" role="status">{ summary(s) }</p>
                if s.enabled && !s.refused.is_empty() {
                    <p class="problem">{ "Not applied (from another device, and not valid here):" }</p>
                    <ul class="sync-refused">
                        { for s.refused.iter().map(|r| html! { <li><code>{ r.key.clone() }</code>{ format!(": {}", r.reason) }</li> }) }
                    </ul>
                }
            </>
        },
    };
    html! {
        <section class="sync">
            <h2>{ "Settings sync" }</h2>
            <p>{ "When on, your preferences and quick actions are kept in the browser's own synced storage (storage.sync), so they follow you to other computers signed in to the same browser account. Provider keys, conversations and telemetry never sync. When the same setting was changed on two devices, the newest change wins." }</p>
            { body }
        </section>
    }
}
