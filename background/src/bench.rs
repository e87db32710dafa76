//! `BenchStore`: the storage engine driven from JavaScript by
//! `cargo xtask bench storage` (`bench/storage.js`), so Paperclip, raw
//! IndexedDB and Dexie are timed by one harness. Built only with the
//! `bench` feature; never part of the shipped extension.

use std::rc::Rc;

use js_sys::Promise;
use paperclip_core::cache::CacheEntry;
use paperclip_core::conversation::{Conversation, Message, Role};
use paperclip_core::export::{parse_import, MergePolicy};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::store::{self, Store};

struct Inner {
    store: Store,
    prepared: std::cell::RefCell<Vec<Conversation>>,
}

/// The engine on its own database, with conversations prepared in Rust.
#[wasm_bindgen]
pub struct BenchStore {
    inner: Rc<Inner>,
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

fn run<F>(inner: &Rc<Inner>, f: impl FnOnce(Rc<Inner>) -> F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
{
    future_to_promise(f(inner.clone()))
}

#[wasm_bindgen]
impl BenchStore {
    /// Deletes database `name`, then opens the engine on it.
    pub async fn open(name: String) -> Result<BenchStore, JsValue> {
        rexie::Rexie::delete(&name).await.map_err(js_err)?;
        let store = Store::open_named(&name).await;
        if !store.persistent() {
            return Err(js_err(store.notice().unwrap_or("IndexedDB unavailable")));
        }
        Ok(BenchStore {
            inner: Rc::new(Inner {
                store,
                prepared: Default::default(),
            }),
        })
    }

    /// Parses an export file into conversations kept by index; returns how many.
    pub fn prepare(&self, json: &str) -> Result<u32, JsValue> {
        let file = parse_import(json.as_bytes()).map_err(js_err)?;
        let n = file.conversations.len() as u32;
        *self.inner.prepared.borrow_mut() = file.conversations;
        Ok(n)
    }

    /// Saves prepared conversation `i` whole.
    pub fn save(&self, i: u32) -> Promise {
        run(&self.inner, move |inner| async move {
            let c = inner
                .prepared
                .borrow()
                .get(i as usize)
                .cloned()
                .ok_or_else(|| js_err(format!("no prepared conversation {i}")))?;
            inner.store.save(&c).await.map_err(|e| js_err(e.message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Loads and decodes conversation `id`; returns its message count.
    pub fn load(&self, id: String) -> Promise {
        run(&self.inner, move |inner| async move {
            let c = inner.store.get(&id).await.map_err(|e| js_err(e.message))?;
            Ok(c.map_or(0, |c| c.messages.len()).into())
        })
    }

    /// Appends one user message (read-modify-write in one transaction).
    pub fn append(&self, id: String, message_id: String, text: String, time_ms: f64) -> Promise {
        run(&self.inner, move |inner| async move {
            let m = Message::complete(message_id, Role::User, text, time_ms);
            inner
                .store
                .upsert_message(&id, "https://bench.test", m, time_ms)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stores a cache entry (memory tier and IndexedDB).
    pub fn cache_put(&self, key: String, value: String, now_ms: f64) -> Promise {
        run(&self.inner, move |inner| async move {
            let now = now_ms as u64;
            let entry = CacheEntry::new(key, value, now, 0, 0.5, vec!["bench".into()]);
            inner
                .store
                .cache_put(entry, now)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stores the entries `keys[i]` → `values[i]` in one transaction (the
    /// untimed fill before the storage-size measurement).
    pub fn cache_fill(&self, keys: Vec<String>, values: Vec<String>, now_ms: f64) -> Promise {
        run(&self.inner, move |inner| async move {
            let now = now_ms as u64;
            let entries = keys
                .into_iter()
                .zip(values)
                .map(|(k, v)| CacheEntry::new(k, v, now, 0, 0.5, vec!["bench".into()]))
                .collect();
            inner
                .store
                .cache_put_many(entries, now)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes the database so it can be deleted or upgraded.
    pub fn close(self) {
        if let Ok(inner) = Rc::try_unwrap(self.inner) {
            inner.store.close();
        }
    }

    /// Looks `key` up; with `memory` false the memory tier forgets it first,
    /// so the lookup reads IndexedDB. Returns whether it was found.
    pub fn cache_get(&self, key: String, memory: bool, now_ms: f64) -> Promise {
        run(&self.inner, move |inner| async move {
            if !memory {
                inner.store.cache_forget_in_memory(&key);
            }
            let found = inner
                .store
                .cache_get(&key, now_ms as u64)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(found.is_some().into())
        })
    }

    /// The newest `limit` conversations; returns how many were listed.
    pub fn list_page(&self, limit: u32) -> Promise {
        run(&self.inner, move |inner| async move {
            let items = inner
                .store
                .recent(limit)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(items.len().into())
        })
    }

    /// The whole import path: validate, plan, write in one transaction.
    pub fn import_json(&self, json: String) -> Promise {
        run(&self.inner, move |inner| async move {
            let file = parse_import(json.as_bytes()).map_err(js_err)?;
            let plan = inner
                .store
                .import(file, MergePolicy::KeepNewest)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok((plan.added + plan.overwritten).into())
        })
    }

    /// `navigator.storage.estimate().usage`, bytes.
    pub fn usage(&self) -> Promise {
        future_to_promise(async { Ok((store::estimate().await.0 as f64).into()) })
    }
}

// ---------------------------------------------------------------------------
// `cargo xtask bench resilience` (`bench/resilience.js`).

use paperclip_core::provider::{
    ChatMessage, ChatRequest, ProviderConfig, ProviderKind, ProviderSettings,
};
use paperclip_core::resilience::breaker::{Breaker, BreakerConfig, Permit};
use paperclip_core::resilience::retry::{BudgetConfig, RetryBudget, RetryPolicy, RetryState};
use paperclip_core::resilience::settings::ResilienceSettings;
use paperclip_core::resilience::{FailureKind, Health};

/// The epoch of the simulated clock in the loops below.
const T0_MS: u64 = 1_764_336_000_000;

/// Runs `n` breaker checks, each with its outcome recorded (a success), on
/// a closed consecutive-failure breaker, inside wasm: the cost a request
/// pays for the breaker. Returns how many were admitted.
#[wasm_bindgen(js_name = breakerChecks)]
pub fn breaker_checks(n: u32) -> u32 {
    let mut breaker = Breaker::new(BreakerConfig::default()).expect("default config");
    let mut admitted = 0;
    for i in 0..u64::from(n) {
        let now = std::hint::black_box(T0_MS + i);
        if let Permit::Allowed(pass) | Permit::AllowedProbe(pass) = breaker.check(now).permit {
            let _ = std::hint::black_box(breaker.record(pass, Health::Healthy, now));
            admitted += 1;
        }
    }
    admitted
}

/// Makes `n` retry decisions inside wasm, each for a fresh request whose
/// first attempt met a 503: classification, budget, deadline and the
/// jittered backoff (randomness from `Math.random`, as in the worker).
/// Returns how many said "retry".
#[wasm_bindgen(js_name = retryDecisions)]
pub fn retry_decisions(n: u32) -> u32 {
    // A budget that never runs dry, so every decision takes the full path.
    let policy = RetryPolicy {
        budget: BudgetConfig {
            ratio: 1.0,
            ..BudgetConfig::default()
        },
        ..RetryPolicy::default()
    };
    let mut budget = RetryBudget::new(policy.budget).expect("valid budget");
    let failure = FailureKind::Http {
        status: 503,
        retry_after_ms: None,
    };
    let mut retries = 0;
    for i in 0..u64::from(n) {
        let now = std::hint::black_box(T0_MS + i);
        let mut state = RetryState::new(policy, now, &mut budget);
        let decision = state.decide(failure, false, now + 1, js_sys::Math::random(), &mut budget);
        if matches!(
            std::hint::black_box(decision),
            paperclip_core::resilience::retry::Decision::Retry { .. }
        ) {
            retries += 1;
        }
    }
    retries
}

/// One breaker, driven call by call from JavaScript (the cost with the
/// JS → wasm crossing included).
#[wasm_bindgen]
pub struct BenchBreaker {
    breaker: Breaker,
}

#[wasm_bindgen]
impl BenchBreaker {
    /// A closed breaker with the default settings.
    #[wasm_bindgen(constructor)]
    pub fn new() -> BenchBreaker {
        BenchBreaker {
            breaker: Breaker::new(BreakerConfig::default()).expect("default config"),
        }
    }

    /// Checks, then records a success; true when admitted.
    pub fn check(&mut self, now_ms: f64) -> bool {
        let now = now_ms as u64;
        match self.breaker.check(now).permit {
            Permit::Allowed(pass) | Permit::AllowedProbe(pass) => {
                self.breaker.record(pass, Health::Healthy, now);
                true
            }
            Permit::Rejected { .. } => false,
        }
    }
}

impl Default for BenchBreaker {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl BenchStore {
    /// Stores resilience settings (JSON of `ResilienceSettings`), as the
    /// options page does.
    #[wasm_bindgen(js_name = setResilience)]
    pub fn set_resilience(&self, json: String) -> Promise {
        run(&self.inner, move |inner| async move {
            let settings: ResilienceSettings = serde_json::from_str(&json).map_err(js_err)?;
            crate::resilient::set_settings(&inner.store, settings)
                .await
                .map_err(|e| js_err(e.message))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Asks the OpenAI-compatible server at `base_url` one question through
    /// the worker's whole provider path (rate limiter, bulkhead, breaker,
    /// retries, timeouts, streaming); resolves to the answer's text or
    /// rejects with the user-facing error.
    pub fn ask(&self, base_url: String, question: String) -> Promise {
        run(&self.inner, move |inner| async move {
            let settings = ProviderSettings::new(
                "bench",
                ProviderKind::OpenAiCompatible,
                &base_url,
                "fake-model-1",
            )
            .validate()
            .map_err(js_err)?;
            let config = ProviderConfig::with_secret(settings, None).map_err(js_err)?;
            let request = ChatRequest::new(vec![ChatMessage::new(Role::User, question)]);
            let mut text = String::new();
            let mut on_text = |piece: &str| {
                text.push_str(piece);
                true
            };
            let cancel = crate::cancel::Cancel::default();
            match crate::resilient::stream(&inner.store, &config, &request, &cancel, &mut on_text)
                .await
            {
                Ok(_) => Ok(text.into()),
                Err(f) => Err(js_err(f.error)),
            }
        })
    }
}

/// Runs the core's page extraction on a serialised DOM (what the
/// background does with `extract.js`'s stream); returns the block count.
#[wasm_bindgen(js_name = extractPage)]
pub fn extract_page(dom: &str) -> u32 {
    paperclip_core::extract::extract(dom).blocks.len() as u32
}
