//! Settings that follow you (`privacy.sync_settings`): the shell of
//! `core::sync`. A run reads the browser's `storage.sync`, decodes and
//! validates what is there (a bad value is refused and listed, never
//! applied), merges it with the local preferences and their change times
//! (newest wins), applies what the other devices won, and writes what this
//! one won, within the area's quotas. Runs are coalesced: at most one per
//! `core::sync::WRITE_GAP_MS` (each is at most one `set` and one
//! `remove`), started by a local preference change, a change of the sync
//! area (another device), or the worker starting.

use std::cell::Cell;

use paperclip_core::prefs::KEYS;
use paperclip_core::protocol::{ProtocolError, SyncStatus};
use paperclip_core::sync::{self, Local, MAX_REFUSALS, WRITE_GAP_MS};
use paperclip_platform as platform;

use crate::store;

/// The `meta` record of the last run's [`SyncStatus`].
pub(crate) const META_SYNC_STATUS: &str = "sync_status";

thread_local! {
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    static RUNNING: Cell<bool> = const { Cell::new(false) };
    static LAST_MS: Cell<f64> = const { Cell::new(f64::NEG_INFINITY) };
}

/// Runs a sync soon: at once when none ran in the last
/// [`WRITE_GAP_MS`], else when that gap is over; any number of calls
/// meanwhile make one run.
pub(crate) fn soon() {
    if SCHEDULED.with(|s| s.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async {
        loop {
            let since = platform::clock::now_ms() - LAST_MS.with(Cell::get);
            let wait = (WRITE_GAP_MS as f64 - since).max(50.0);
            platform::timer::sleep(wait as u32).await;
            if !RUNNING.with(Cell::get) {
                break;
            }
        }
        SCHEDULED.with(|s| s.set(false));
        RUNNING.with(|r| r.set(true));
        LAST_MS.with(|l| l.set(platform::clock::now_ms()));
        run().await;
        RUNNING.with(|r| r.set(false));
    });
}

/// `storage.onChanged`: the sync area changed (another device, or this
/// one's own write, which then finds nothing to do).
pub(crate) fn area_changed(area: &str) {
    if area == "sync" {
        soon();
    }
}

async fn run() {
    let Ok(store) = store() else { return };
    if !store.preferences().sync_settings {
        return;
    }
    let status = match sync_once(&store).await {
        Ok(status) => status,
        Err(error) => SyncStatus {
            enabled: true,
            at_ms: Some(platform::clock::now_ms()),
            error: Some(error),
            ..SyncStatus::default()
        },
    };
    // Pages see it as a `Storage` change (`changes::topic_of_meta`; not
    // `Preferences`, which starts a run).
    let _ = store.set_meta_json(META_SYNC_STATUS, &status).await;
}

async fn sync_once(store: &crate::store::Store) -> Result<SyncStatus, String> {
    let now = platform::clock::now_ms();
    let items = platform::sync_area::get_all().await?;
    let (remote, found) = sync::decode(&items, now);
    // Refusals stay listed (newest reason per key) after the item they
    // were about is mended, so that the notice does not flash by.
    let mut refused = status().await.map(|s| s.refused).unwrap_or_default();
    for r in found {
        refused.retain(|p| p.key != r.key);
        refused.push(r);
    }
    let excess = refused.len().saturating_sub(MAX_REFUSALS);
    refused.drain(..excess);
    let prefs = store.preferences();
    let times = store.preference_times().await;
    let local: Vec<Local> = KEYS
        .iter()
        .filter(|k| sync::syncable(k))
        .filter_map(|k| {
            Some(Local {
                key: k.to_string(),
                value: prefs.get(k)?,
                t: times.get(*k).copied().unwrap_or(0.0),
            })
        })
        .collect();
    let merge = sync::merge(&local, &remote);
    let mut applied = 0;
    for r in &merge.apply {
        // Validated by `decode`; a store failure is reported, the rest go on.
        match store.set_preference_at(&r.key, &r.value, r.t).await {
            Ok(_) => applied += 1,
            Err(e) => refused.push(sync::Refused {
                key: r.key.clone(),
                reason: e.message,
            }),
        }
    }
    let plan = sync::plan(&items, &merge.push)?;
    if !plan.set.is_empty() {
        platform::sync_area::set(&plan.set).await?;
    }
    if !plan.remove.is_empty() {
        platform::sync_area::remove(&plan.remove).await?;
    }
    Ok(SyncStatus {
        enabled: true,
        at_ms: Some(now),
        applied,
        pushed: merge.push.len() as u32,
        refused,
        error: None,
    })
}

/// The last run's outcome (`enabled` as the preference is now).
pub(crate) async fn status() -> Result<SyncStatus, ProtocolError> {
    let store = store()?;
    let mut status: SyncStatus = store
        .meta_json(META_SYNC_STATUS)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    status.enabled = store.preferences().sync_settings;
    Ok(status)
}
