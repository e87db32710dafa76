//! Live updates: what the storage engine reports as changed
//! ([`crate::store::Observation`]) becomes, 30 ms later and gathered, one
//! [`Broadcast::Changed`] to every open extension page (popup, options,
//! devtools panel), which reload what they show; and a preference change
//! is pushed to every open agent over its port (the look it applies).
//! Nothing polls.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use paperclip_core::protocol::{Broadcast, Topic};
use paperclip_platform as platform;

use crate::store::Observation;

/// How long changes gather before one broadcast (well within the 200 ms in
/// which an open page must show them).
const GATHER_MS: u32 = 30;

thread_local! {
    static PENDING: RefCell<BTreeSet<Topic>> = const { RefCell::new(BTreeSet::new()) };
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
}

/// What the pages show that `observation` changed, if anything.
pub fn topics_of(observation: &Observation) -> Vec<Topic> {
    match observation {
        Observation::Changed(topic) => vec![*topic],
        Observation::MetaWritten { key } => topic_of_meta(key).into_iter().collect(),
        Observation::Quarantined { .. } => vec![Topic::Storage],
        Observation::Maintenance { removed: 0, .. } => vec![Topic::Storage],
        Observation::Maintenance { .. } => vec![Topic::Storage, Topic::Conversations],
        Observation::Operation { .. } | Observation::CacheLookup { .. } => Vec::new(),
    }
}

/// The topic of the `meta` record `key` (places, hints and queues are
/// shown nowhere else).
fn topic_of_meta(key: &str) -> Option<Topic> {
    if key == crate::providers::META_PROVIDERS
        || key == crate::providers::META_PRICES
        || key == crate::resilient::META_SETTINGS
        || key.starts_with(crate::resilient::BREAKER_PREFIX)
    {
        Some(Topic::Providers)
    } else if key == crate::telemetry::TARGETS_META {
        Some(Topic::Telemetry)
    } else if key == crate::sync::META_SYNC_STATUS {
        Some(Topic::Storage)
    } else {
        None
    }
}

/// The store's observer: telemetry and error records, then live updates.
pub fn observed(observation: &Observation) {
    crate::telemetry::observed(observation);
    match *observation {
        Observation::Operation { op, ok, .. } => crate::errors::storage_operation(op, ok),
        Observation::Quarantined { store, error } => crate::errors::quarantined(store, error),
        _ => {}
    }
    for topic in topics_of(observation) {
        note(topic);
    }
}

/// Notes that `topic` changed; the broadcast follows shortly.
pub fn note(topic: Topic) {
    PENDING.with(|p| p.borrow_mut().insert(topic));
    if !SCHEDULED.with(|s| s.replace(true)) {
        wasm_bindgen_futures::spawn_local(async {
            platform::timer::sleep(GATHER_MS).await;
            flush();
        });
    }
}

fn flush() {
    SCHEDULED.with(|s| s.set(false));
    let topics: Vec<Topic> = PENDING
        .with(|p| std::mem::take(&mut *p.borrow_mut()))
        .into_iter()
        .collect();
    if topics.is_empty() {
        return;
    }
    if topics.contains(&Topic::Preferences) {
        crate::agent::appearance_changed();
        crate::menus_changed();
        crate::sync::soon();
    }
    platform::changes::broadcast(&Broadcast::Changed { topics });
}
