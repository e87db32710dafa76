//! `cargo xtask bench resilience` (`bench/resilience.js`).

use super::*;

use paperclip_core::provider::{
    ChatMessage, ChatRequest, ProviderConfig, ProviderKind, ProviderSettings,
};
use paperclip_core::resilience::breaker::{Breaker, BreakerConfig, Permit};
use paperclip_core::resilience::retry::{BudgetConfig, RetryBudget, RetryPolicy, RetryState};
use paperclip_core::resilience::settings::ResilienceSettings;
use paperclip_core::resilience::{FailureKind, Health};

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
