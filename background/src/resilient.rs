//! Provider calls behind the core's resilience machines: a circuit breaker
//! per provider (its snapshot persisted in the store's `meta`, so a worker
//! restart does not reset it), retries with backoff and jitter inside a
//! retry budget, honouring `Retry-After`, and never once text reached the
//! user. Every decision is written to the `telemetry` store.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use gloo_timers::future::TimeoutFuture;
use paperclip_core::provider::{ChatRequest, ProviderConfig};
use paperclip_core::resilience::breaker::{Breaker, BreakerConfig, BreakerSnapshot, Permit};
use paperclip_core::resilience::retry::{Decision, RetryBudget, RetryPolicy, RetryState};
use paperclip_core::resilience::{Health, ResilienceEvent};

use crate::providers::{self, StreamFailure, Streamed};
use crate::store::records::TelemetryRecord;
use crate::store::Store;

thread_local! {
    static BREAKERS: RefCell<HashMap<String, Breaker>> = RefCell::default();
    static BUDGETS: RefCell<HashMap<String, RetryBudget>> = RefCell::default();
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

fn breaker_key(id: &str) -> String {
    format!("breaker:{id}")
}

/// The breaker of provider `id`: in memory, else restored from the store.
async fn load_breaker(store: &Store, id: &str) {
    if BREAKERS.with(|b| b.borrow().contains_key(id)) {
        return;
    }
    let config = BreakerConfig::default();
    let saved = store
        .meta_json::<Vec<u8>>(&breaker_key(id))
        .await
        .ok()
        .flatten()
        .and_then(|bytes| BreakerSnapshot::from_bytes(&bytes).ok());
    let breaker = match saved {
        Some(snapshot) => Breaker::restore(config, snapshot, now()).map(|(b, _)| b),
        None => Breaker::new(config),
    };
    if let Ok(breaker) = breaker {
        BREAKERS.with(|b| b.borrow_mut().insert(id.to_string(), breaker));
    }
}

async fn save_breaker(store: &Store, id: &str) {
    let bytes = BREAKERS.with(|b| b.borrow().get(id).map(|b| b.snapshot().to_bytes()));
    if let Some(bytes) = bytes {
        let _ = store.set_meta_json(&breaker_key(id), &bytes).await;
    }
}

async fn record(store: &Store, provider: &str, event: &ResilienceEvent) {
    let mut dims = BTreeMap::new();
    dims.insert("provider".to_string(), provider.to_string());
    let row = TelemetryRecord {
        time: js_sys::Date::now(),
        kind: "event".into(),
        name: format!("provider.{}", event.name()),
        value: 1.0,
        dims,
    };
    let _ = store.telemetry_add(&[row]).await;
}

/// Streams `request` from `config` with the breaker and retries.
pub async fn stream(
    store: &Store,
    config: &ProviderConfig,
    request: &ChatRequest,
    on_text: &mut dyn FnMut(&str) -> bool,
) -> Result<Streamed, StreamFailure> {
    let id = config.settings().id.clone();
    let label = config.settings().label.clone();
    load_breaker(store, &id).await;
    let policy = RetryPolicy::default();
    let mut state = BUDGETS.with(|b| {
        let mut budgets = b.borrow_mut();
        let budget = budgets
            .entry(id.clone())
            .or_insert_with(|| RetryBudget::new(policy.budget).expect("default budget is valid"));
        RetryState::new(policy, now(), budget)
    });
    loop {
        let checked = BREAKERS.with(|b| b.borrow_mut().get_mut(&id).map(|br| br.check(now())));
        let Some(checked) = checked else {
            return providers::stream_chat(config, request, on_text).await;
        };
        if let Some(event) = checked.event() {
            record(store, &id, &event).await;
            save_breaker(store, &id).await;
        }
        let pass = match checked.permit {
            Permit::Allowed(pass) | Permit::AllowedProbe(pass) => pass,
            Permit::Rejected { retry_in_ms } => {
                return Err(StreamFailure {
                    error: format!(
                        "{label} is paused after repeated failures{}",
                        retry_in_ms.map_or(String::new(), |ms| format!(
                            "; trying it again in {} s",
                            ms.div_ceil(1000)
                        ))
                    ),
                    streamed: false,
                    kind: paperclip_core::resilience::FailureKind::Network,
                })
            }
        };
        let result = providers::stream_chat(config, request, on_text).await;
        let health = match &result {
            Ok(_) => Health::Healthy,
            Err(f) => f.kind.health(),
        };
        let transition = BREAKERS.with(|b| {
            b.borrow_mut()
                .get_mut(&id)
                .and_then(|br| br.record(pass, health, now()))
        });
        if let Some(t) = transition {
            record(store, &id, &ResilienceEvent::Breaker(t)).await;
            save_breaker(store, &id).await;
        }
        let failure = match result {
            Ok(done) => return Ok(done),
            Err(f) => f,
        };
        let decision = BUDGETS.with(|b| {
            let mut budgets = b.borrow_mut();
            let budget = budgets.get_mut(&id).expect("created above");
            state.decide(
                failure.kind,
                failure.streamed,
                now(),
                js_sys::Math::random(),
                budget,
            )
        });
        record(store, &id, &decision.event()).await;
        match decision {
            Decision::Retry { delay_ms, .. } => {
                TimeoutFuture::new(delay_ms.min(u64::from(u32::MAX)) as u32).await;
            }
            Decision::GiveUp { .. } | Decision::Interrupted { .. } => return Err(failure),
        }
    }
}
