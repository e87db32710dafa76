//! The resource budgets' shell (the rules are `paperclip_core::budget`'s):
//! the budgets come from the preferences each time they are used; the
//! worker's memory is sampled ([`sample`]: gauges, then the manager) on
//! every telemetry tick, panel `Metrics` query and live-port update (the
//! telemetry module's sampler hook); a crossing is a warning
//! record (category `budget`, in the panel's Errors), the `budget`
//! component's health turns degraded until it is back under, and the
//! popup shows the sentence. What the manager sheds is applied here: the
//! context cache's memory tier held empty, then the telemetry engine's
//! spans and events cut to their floor; the last step refuses new
//! questions in [`admit`].

use std::cell::RefCell;

use paperclip_core::budget::{BudgetEvent, BudgetManager, BudgetStatus, Budgets, Shed, Usage};
use paperclip_core::protocol::ProtocolError;
use paperclip_core::telemetry::errors::{Category, Severity};
use paperclip_core::telemetry::health::Status;

thread_local! {
    static MANAGER: RefCell<BudgetManager> = RefCell::new(BudgetManager::new(Budgets::default()));
}

/// The budgets as the preferences set them now.
fn refresh() {
    if let Ok(store) = crate::store() {
        let budgets = Budgets::from_prefs(&store.preferences());
        MANAGER.with(|m| {
            let mut m = m.borrow_mut();
            if m.budgets() != budgets {
                m.set_budgets(budgets);
            }
        });
    }
}

/// Samples the worker's memory into gauges labelled `source=background`
/// (as the pages' are labelled with theirs): the wasm memory, the part of
/// it in use, the JS heap where the browser tells it, and the largest
/// holder, the context cache's memory tier
/// (`memory.held_bytes{holder=memory_cache}`); then gives it to the
/// manager.
pub fn sample() {
    use crate::telemetry::gauge;
    use paperclip_platform::memory;
    let m = memory::sample();
    let here = [("source", "background")];
    gauge(memory::WASM_BYTES, &here, m.wasm_bytes);
    gauge(memory::WASM_LIVE_BYTES, &here, m.live_bytes);
    if let Some(heap) = m.js_heap_bytes {
        gauge(memory::JS_HEAP_BYTES, &here, heap);
    }
    if let Ok(store) = crate::store() {
        gauge(
            "memory.held_bytes",
            &[("source", "background"), ("holder", "memory_cache")],
            store.cache_memory_bytes() as f64,
        );
    }
    observe(&m, None);
}

/// Takes a memory sample (and the storage used, when known), reports what
/// crossed or recovered and applies what is shed.
pub fn observe(memory: &paperclip_platform::memory::Memory, storage_bytes: Option<u64>) {
    refresh();
    let usage = Usage {
        memory_bytes: memory.in_use() as u64,
        storage_bytes,
    };
    let (events, shed) = MANAGER.with(|m| {
        let mut m = m.borrow_mut();
        (m.observe(&usage), m.shed())
    });
    for event in events {
        match event {
            BudgetEvent::Crossed {
                resource,
                used,
                limit,
            } => {
                let message = format!(
                    "{} over its budget: {used} of {limit} bytes",
                    resource.name()
                );
                crate::errors::report(
                    Severity::Warning,
                    Category::Worker,
                    "budget",
                    "budget_crossed",
                    &message,
                    &[("resource", resource.name())],
                );
                crate::telemetry::event("budget.crossed", &[("resource", resource.name())]);
                crate::errors::health("budget", Status::Degraded, &message);
            }
            BudgetEvent::Recovered { resource } => {
                crate::telemetry::event("budget.recovered", &[("resource", resource.name())]);
            }
        }
    }
    let over = MANAGER.with(|m| !m.borrow().status().over.is_empty());
    if !over {
        crate::errors::health("budget", Status::Healthy, "within every budget");
    }
    apply(shed);
}

/// Holds the memory tier empty and the telemetry buffers at their floor
/// while the manager sheds them; gives them back after.
fn apply(shed: Shed) {
    if let Ok(store) = crate::store() {
        store.shed_memory_cache(shed >= Shed::MemoryCache);
    }
    let floor = shed >= Shed::TelemetryBuffers;
    crate::telemetry::with(|e, _| e.shed_buffers(floor));
}

/// A question admitted: it counts as running until this is dropped.
pub struct Admitted(());

impl Drop for Admitted {
    fn drop(&mut self) {
        MANAGER.with(|m| m.borrow_mut().finished());
    }
}

/// May a question start now? The refusal says why and what to do.
pub fn admit() -> Result<Admitted, ProtocolError> {
    refresh();
    let now = paperclip_platform::clock::now_ms();
    MANAGER
        .with(|m| m.borrow_mut().admit(now))
        .map(|()| Admitted(()))
        .map_err(|refusal| {
            crate::telemetry::count("budget.refused", &[("why", refusal_name(&refusal))], 1);
            ProtocolError::failed(refusal.message())
        })
}

fn refusal_name(r: &paperclip_core::budget::Refusal) -> &'static str {
    use paperclip_core::budget::Refusal;
    match r {
        Refusal::Memory => "memory",
        Refusal::Concurrency { .. } => "concurrency",
        Refusal::Rate { .. } => "rate",
    }
}

/// What the popup and the panel show.
pub fn status() -> BudgetStatus {
    MANAGER.with(|m| m.borrow().status())
}
