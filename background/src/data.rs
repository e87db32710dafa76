//! The options page's data control: [`delete_all`] (every store emptied
//! and everything the worker keeps in memory reset: the store's
//! preferences and memory tier, the telemetry engine and its export
//! targets, the providers' breakers and settings, the pages read per tab,
//! the open agents' conversations), [`delete_site`] and
//! [`clear_telemetry`]. Each answers what it deleted.

use paperclip_core::protocol::{
    AllDataDeleted, DeleteAllData, ErrorKind, ProtocolError, SiteDataDeleted, TelemetryCleared,
    Topic,
};

use crate::store::Store;

/// Tells the open pages what changed.
fn changed(topics: &[Topic]) {
    for topic in topics {
        crate::changes::note(*topic);
    }
}
use crate::{agent, page, providers, resilient, telemetry};

/// Deletes everything, when confirmed: the extension as freshly installed.
pub async fn delete_all(store: &Store, r: DeleteAllData) -> Result<AllDataDeleted, ProtocolError> {
    if !r.confirm {
        return Err(ProtocolError::new(
            ErrorKind::Malformed,
            "nothing was deleted: deleting all data must be confirmed (confirm: true)",
        ));
    }
    // Counted before they go; a record that no longer parses still counts
    // as one setting below.
    let providers = providers::stored_count(store).await;
    agent::discard_answers(None);
    let export_batches = telemetry::reset(true);
    let cleared = store.delete_everything().await?;
    resilient::forget();
    page::forget();
    agent::private::forget();
    agent::forget_conversations(None);
    telemetry::after_reset(store, false).await;
    crate::errors::started(store.persistent(), store.notice());
    changed(Topic::ALL);
    let kept_apart = u64::from(providers > 0) + u64::from(export_batches > 0);
    Ok(AllDataDeleted {
        conversations: cleared.conversations,
        cache_entries: cleared.cache_entries,
        telemetry_rows: cleared.telemetry_rows,
        export_batches,
        providers,
        preferences: cleared.preferences,
        settings: cleared.meta.saturating_sub(kept_apart),
        quarantined: cleared.quarantined,
    })
}

/// Deletes one site's data (the site is validated first).
pub async fn delete_site(store: &Store, site: &str) -> Result<SiteDataDeleted, ProtocolError> {
    let site = paperclip_core::data::site(site)
        .map_err(|e| ProtocolError::new(ErrorKind::Malformed, e))?;
    agent::discard_answers(Some(&site));
    let report = store.delete_site(&site).await?;
    agent::private::delete_site(&site).await;
    page::forget();
    agent::forget_conversations(Some(&site));
    changed(&[Topic::Conversations, Topic::Preferences, Topic::Storage]);
    Ok(report)
}

/// Deletes the telemetry: stored rows, the engine's memory and the export
/// queue (the export settings stay).
pub async fn clear_telemetry(store: &Store) -> Result<TelemetryCleared, ProtocolError> {
    let export_batches = telemetry::reset(false);
    let rows = store.clear_telemetry_rows().await?;
    // Decisions about error groups go with the groups.
    let none = paperclip_core::telemetry::triage::TriageBook::default();
    store
        .set_meta_json(crate::errors::TRIAGE_META, &none)
        .await?;
    telemetry::after_reset(store, true).await;
    crate::errors::started(store.persistent(), store.notice());
    changed(&[Topic::Storage, Topic::Telemetry]);
    Ok(TelemetryCleared {
        rows,
        export_batches,
    })
}
