//! Provider calls behind the core's resilience machines, one set per
//! provider: a rate limiter (requests and tokens per sliding minute), a
//! bulkhead (concurrent requests, with a bounded queue), a circuit breaker
//! (its snapshot persisted in the store's `meta`, so a worker restart does
//! not reset it), and retries with backoff and jitter inside a retry budget,
//! honouring `Retry-After`, and never once text reached the user. Each
//! attempt runs within the first-byte, idle and total timeouts. Every
//! decision is recorded as a telemetry event (through the engine).
//!
//! The settings are the user's [`ResilienceSettings`] (`meta` record
//! `resilience`), validated on every write.

use std::cell::RefCell;
use std::collections::HashMap;

use futures::channel::oneshot;
use paperclip_core::protocol::{BreakerStatus, ProtocolError};
use paperclip_core::provider::{ChatRequest, ProviderConfig};
use paperclip_core::resilience::breaker::{Breaker, BreakerSnapshot, Permit};
use paperclip_core::resilience::limits::{
    Admission, Bulkhead, BulkheadConfig, RateLimiter, Throttle, Ticket,
};
use paperclip_core::resilience::retry::{Decision, RetryBudget, RetryState};
use paperclip_core::resilience::settings::ResilienceSettings;
use paperclip_core::resilience::{FailureKind, Health, ResilienceEvent};

use paperclip_core::telemetry::span::{names, SpanKind};

use crate::cancel::Cancel;
use crate::providers::{self, StreamFailure, Streamed};
use crate::store::Store;

/// The `meta` record holding the settings.
pub(crate) const META_SETTINGS: &str = "resilience";

/// One provider's machines.
struct Guard {
    settings: ResilienceSettings,
    breaker: Breaker,
    budget: RetryBudget,
    bulkhead: Bulkhead,
    bulkhead_config: BulkheadConfig,
    limiter: RateLimiter,
    /// Requests waiting in the bulkhead's queue, by ticket.
    waiters: HashMap<u64, oneshot::Sender<()>>,
    /// How the last request through the breaker failed (`None` after an
    /// answer): what keeps it open, for the questions it refuses.
    last_failure: Option<FailureKind>,
}

impl Guard {
    fn new(settings: ResilienceSettings, snapshot: Option<BreakerSnapshot>) -> Option<Self> {
        let breaker = match snapshot {
            Some(s) => Breaker::restore(settings.breaker, s, now()).ok()?.0,
            None => Breaker::new(settings.breaker).ok()?,
        };
        Some(Self {
            settings,
            breaker,
            budget: RetryBudget::new(settings.retry.budget).ok()?,
            bulkhead: Bulkhead::new(settings.bulkhead).ok()?,
            bulkhead_config: settings.bulkhead,
            limiter: RateLimiter::new(settings.limits).ok()?,
            waiters: HashMap::new(),
            last_failure: None,
        })
    }

    /// Applies changed settings; the breaker keeps its state, the bulkhead
    /// is replaced once no request holds or waits for a slot.
    fn refresh(&mut self, settings: ResilienceSettings) {
        if self.settings != settings {
            if let Ok((breaker, _)) =
                Breaker::restore(settings.breaker, self.breaker.snapshot(), now())
            {
                self.breaker = breaker;
            }
            if let Ok(budget) = RetryBudget::new(settings.retry.budget) {
                self.budget = budget;
            }
            if let Ok(limiter) = RateLimiter::new(settings.limits) {
                self.limiter = limiter;
            }
            self.settings = settings;
        }
        let idle = self.bulkhead.running() == 0 && self.bulkhead.queued() == 0;
        if idle && self.bulkhead_config != settings.bulkhead {
            if let Ok(bulkhead) = Bulkhead::new(settings.bulkhead) {
                self.bulkhead = bulkhead;
                self.bulkhead_config = settings.bulkhead;
            }
        }
    }
}

thread_local! {
    static GUARDS: RefCell<HashMap<String, Guard>> = RefCell::default();
    static SETTINGS: RefCell<Option<ResilienceSettings>> = const { RefCell::new(None) };
}

/// Forgets every provider's machines and the settings in force (after all
/// data was deleted: the next call starts from the defaults).
pub fn forget() {
    GUARDS.with(|g| g.borrow_mut().clear());
    SETTINGS.with(|s| *s.borrow_mut() = None);
}

fn now() -> u64 {
    paperclip_platform::clock::now_ms() as u64
}

fn with_guard<T>(id: &str, f: impl FnOnce(&mut Guard) -> T) -> Option<T> {
    GUARDS.with(|g| g.borrow_mut().get_mut(id).map(f))
}

/// The settings in force (stored ones, else the defaults).
pub async fn settings(store: &Store) -> ResilienceSettings {
    if let Some(s) = SETTINGS.with(|s| *s.borrow()) {
        return s;
    }
    let stored = store
        .meta_json::<ResilienceSettings>(META_SETTINGS)
        .await
        .ok()
        .flatten()
        .filter(|s| s.validate().is_ok())
        .unwrap_or_default();
    SETTINGS.with(|s| *s.borrow_mut() = Some(stored));
    stored
}

/// Validates and stores `settings`; nothing changes on error.
pub async fn set_settings(
    store: &Store,
    settings: ResilienceSettings,
) -> Result<ResilienceSettings, ProtocolError> {
    settings.validate().map_err(|e| {
        ProtocolError::new(
            paperclip_core::protocol::ErrorKind::Malformed,
            e.to_string(),
        )
    })?;
    store.set_meta_json(META_SETTINGS, &settings).await?;
    SETTINGS.with(|s| *s.borrow_mut() = Some(settings));
    Ok(settings)
}

thread_local! {
    /// Time to the first text of each provider's last answer, ms.
    static LATENCY: RefCell<std::collections::HashMap<String, u64>> = RefCell::default();
}

/// Time to the first text of provider `id`'s last answer (since the
/// worker started), ms.
pub fn last_latency(id: &str) -> Option<u64> {
    LATENCY.with(|l| l.borrow().get(id).copied())
}

/// The `meta` key prefix of the saved breakers.
pub(crate) const BREAKER_PREFIX: &str = "breaker:";

fn breaker_key(id: &str) -> String {
    format!("{BREAKER_PREFIX}{id}")
}

/// Makes sure provider `id` has its machines: in memory, else with the
/// breaker restored from the store; and that they use `settings`.
async fn load_guard(store: &Store, id: &str, settings: ResilienceSettings) {
    if with_guard(id, |g| g.refresh(settings)).is_some() {
        return;
    }
    let saved = store
        .meta_json::<Vec<u8>>(&breaker_key(id))
        .await
        .ok()
        .flatten()
        .and_then(|bytes| BreakerSnapshot::from_bytes(&bytes).ok());
    if let Some(guard) = Guard::new(settings, saved) {
        GUARDS.with(|g| {
            g.borrow_mut().entry(id.to_string()).or_insert(guard);
        });
    }
}

async fn save_breaker(store: &Store, id: &str) {
    if let Some(bytes) = with_guard(id, |g| g.breaker.snapshot().to_bytes()) {
        let _ = store.set_meta_json(&breaker_key(id), &bytes).await;
    }
}

/// The breakers of `ids` as they stand.
pub async fn breakers(store: &Store, ids: &[String]) -> Vec<BreakerStatus> {
    let settings = settings(store).await;
    let mut out = Vec::new();
    for id in ids {
        load_guard(store, id, settings).await;
        if let Some(status) = with_guard(id, |g| BreakerStatus {
            provider_id: id.clone(),
            state: g.breaker.state(),
            trips: g.breaker.trips(),
            wake_at_ms: g.breaker.wake_at_ms(),
        }) {
            out.push(status);
        }
    }
    out
}

fn record(provider: &str, event: &ResilienceEvent) {
    crate::telemetry::event(
        &format!("provider.{}", event.name()),
        &[("provider", provider)],
    );
    if let ResilienceEvent::Breaker(t) = event {
        use paperclip_core::resilience::breaker::BreakerState;
        use paperclip_core::telemetry::health::Status;
        let (status, message) = match t.to {
            BreakerState::Closed => (Status::Healthy, "breaker closed"),
            BreakerState::Open { .. } => (Status::Down, "breaker open"),
            _ => (Status::Degraded, "breaker half-open: probing"),
        };
        crate::telemetry::with(|e, now| {
            e.set_health(&format!("provider.{provider}"), status, message, now)
        });
        crate::telemetry::gauge(
            "provider.breaker_open",
            &[("provider", provider)],
            f64::from(u8::from(matches!(t.to, BreakerState::Open { .. }))),
        );
    }
}

/// A zero-length span in the current ask's trace (a breaker decision).
fn mark(name: &str, attributes: &[(&str, &str)]) {
    if let Some(mut span) = crate::telemetry::child_of_current(name, SpanKind::Internal) {
        for (k, v) in attributes {
            span.set_attribute(k, *v);
        }
        crate::telemetry::end(span, None);
    }
}

/// Sleeps `ms` (false when stopped) as a span of the current ask's trace.
async fn wait(name: &str, reason: &str, ms: u64, cancel: &Cancel) -> bool {
    let span = crate::telemetry::child_of_current(name, SpanKind::Internal);
    let slept = cancel.sleep(ms).await;
    if let Some(mut span) = span {
        span.set_attribute("reason", reason);
        crate::telemetry::end(span, (!slept).then_some("stopped"));
    }
    slept
}

/// The span name of a breaker's new state.
fn breaker_decision(to: &paperclip_core::resilience::breaker::BreakerState) -> &'static str {
    use paperclip_core::resilience::breaker::BreakerState;
    match to {
        BreakerState::Closed => "closed",
        BreakerState::Open { .. } => "opened",
        _ => "half_open",
    }
}

/// A failure decided before any request was sent (a local guard).
fn refused(error: String) -> StreamFailure {
    StreamFailure {
        error,
        streamed: false,
        kind: FailureKind::Refused,
        paused_after: None,
    }
}

/// A bulkhead slot, released (and the next waiter woken) when dropped.
struct Slot {
    id: String,
    ticket: Ticket,
}

impl Drop for Slot {
    fn drop(&mut self) {
        with_guard(&self.id, |g| {
            if let Some(next) = g.bulkhead.release(self.ticket) {
                if let Some(waiter) = g.waiters.remove(&next.id()) {
                    let _ = waiter.send(());
                }
            }
        });
    }
}

/// Waits until the rate limiter admits `tokens`, or fails.
async fn admit(
    id: &str,
    label: &str,
    tokens: u32,
    give_up_at: u64,
    cancel: &Cancel,
) -> Result<Option<paperclip_core::resilience::limits::Grant>, StreamFailure> {
    loop {
        let Some(checked) = with_guard(id, |g| g.limiter.check(tokens, now())) else {
            return Ok(None);
        };
        match checked {
            Ok(grant) => return Ok(Some(grant)),
            Err(throttle) => {
                record(id, &throttle.event());
                match throttle {
                    Throttle::Wait { ms } if now().saturating_add(ms) <= give_up_at => {
                        if !wait(names::RATE_WAIT, "rate_limited", ms, cancel).await {
                            return Err(StreamFailure::stopped(false));
                        }
                    }
                    Throttle::Wait { ms } => {
                        return Err(refused(format!(
                            "{label} is rate limited by your settings; next request in {} s",
                            ms.div_ceil(1000)
                        )))
                    }
                    Throttle::TooLarge { tokens, limit } => {
                        return Err(refused(format!(
                            "{label}: this request (~{tokens} tokens) is over your limit of {limit} tokens per minute"
                        )))
                    }
                }
            }
        }
    }
}

/// Takes a bulkhead slot, waiting in its queue if need be.
async fn slot(id: &str, label: &str, cancel: &Cancel) -> Result<Slot, StreamFailure> {
    let admission = with_guard(id, |g| g.bulkhead.try_acquire()).unwrap_or(Admission::Rejected);
    if let Some(event) = admission.event() {
        record(id, &event);
    }
    match admission {
        Admission::Run(ticket) => Ok(Slot {
            id: id.to_string(),
            ticket,
        }),
        Admission::Queued { ticket, .. } => {
            let queued_at = paperclip_platform::clock::now_ms();
            let queue =
                crate::telemetry::child_of_current(names::PROVIDER_QUEUE, SpanKind::Internal);
            let (tx, rx) = oneshot::channel();
            with_guard(id, |g| g.waiters.insert(ticket.id(), tx));
            let slot = || Slot {
                id: id.to_string(),
                ticket,
            };
            let waited = cancel.run(rx).await;
            crate::telemetry::timing(
                "provider.queue",
                &[("provider", id)],
                paperclip_platform::clock::now_ms() - queued_at,
            );
            if let Some(queue) = queue {
                let done = matches!(waited, Some(Ok(())));
                crate::telemetry::end(queue, (!done).then_some("stopped"));
            }
            match waited {
                Some(Ok(())) => Ok(slot()),
                // Stopped: give the place up (or the slot, if it was just
                // granted).
                _ => {
                    let queued = with_guard(id, |g| {
                        g.waiters.remove(&ticket.id());
                        g.bulkhead.cancel(ticket)
                    });
                    if queued == Some(false) {
                        drop(slot());
                    }
                    Err(StreamFailure::stopped(false))
                }
            }
        }
        Admission::Rejected => Err(refused(format!(
            "{label} has too many requests in progress; try again shortly"
        ))),
    }
}

/// Streams `request` from `config` through its machines.
pub async fn stream(
    store: &Store,
    config: &ProviderConfig,
    request: &ChatRequest,
    cancel: &Cancel,
    on_text: &mut dyn FnMut(&str) -> bool,
) -> Result<Streamed, StreamFailure> {
    let id = config.settings().id.clone();
    let label = config.settings().label.clone();
    let settings = settings(store).await;
    load_guard(store, &id, settings).await;
    let started = now();
    let give_up_at = started.saturating_add(settings.retry.deadline_ms);
    let tokens = request.estimated_tokens(config.settings());
    let grant = admit(&id, &label, tokens, give_up_at, cancel).await?;
    let _slot = slot(&id, &label, cancel).await?;
    let result = attempts(store, config, request, settings, cancel, on_text).await;
    if let (
        Some(grant),
        Ok(Streamed {
            usage: Some((i, o)),
        }),
    ) = (grant, &result)
    {
        let actual = u32::try_from(i + o).unwrap_or(u32::MAX);
        with_guard(&id, |g| g.limiter.settle(grant, actual, now()));
    }
    result
}

/// The attempts of one request: breaker, timeouts and retries.
async fn attempts(
    store: &Store,
    config: &ProviderConfig,
    request: &ChatRequest,
    settings: ResilienceSettings,
    cancel: &Cancel,
    on_text: &mut dyn FnMut(&str) -> bool,
) -> Result<Streamed, StreamFailure> {
    let id = config.settings().id.clone();
    let label = config.settings().label.clone();
    let Some(mut state) = with_guard(&id, |g| {
        RetryState::new(settings.retry, now(), &mut g.budget)
    }) else {
        return providers::stream_chat(config, request, settings.timeouts, cancel, on_text).await;
    };
    loop {
        let checked = with_guard(&id, |g| g.breaker.check(now())).expect("loaded above");
        if let Some(event) = checked.event() {
            if let ResilienceEvent::Breaker(t) = &event {
                mark(names::BREAKER, &[("decision", breaker_decision(&t.to))]);
            }
            record(&id, &event);
            save_breaker(store, &id).await;
        }
        let pass = match checked.permit {
            Permit::Allowed(pass) => pass,
            Permit::AllowedProbe(pass) => {
                mark(names::BREAKER, &[("decision", "probe")]);
                pass
            }
            Permit::Rejected { retry_in_ms } => {
                mark(names::BREAKER, &[("decision", "rejected")]);
                let mut failure = refused(format!(
                    "{label} is paused after repeated failures{}",
                    retry_in_ms.map_or(String::new(), |ms| format!(
                        "; trying it again in {} s",
                        ms.div_ceil(1000)
                    ))
                ));
                failure.paused_after = with_guard(&id, |g| g.last_failure).flatten();
                return Err(failure);
            }
        };
        // Time to the first text, for the popup's status line.
        let attempt_started = now();
        let mut first_text = None;
        let mut timed = |piece: &str| {
            first_text.get_or_insert_with(|| now().saturating_sub(attempt_started));
            on_text(piece)
        };
        let result =
            providers::stream_chat(config, request, settings.timeouts, cancel, &mut timed).await;
        if result.is_ok() {
            let ms = first_text.unwrap_or_else(|| now().saturating_sub(attempt_started));
            LATENCY.with(|l| l.borrow_mut().insert(id.clone(), ms));
        }
        let health = match &result {
            Ok(_) => Health::Healthy,
            Err(f) => f.kind.health(),
        };
        let failed = result.as_ref().err().map(|f| f.kind);
        let transition = with_guard(&id, |g| {
            if failed != Some(FailureKind::Cancelled) {
                g.last_failure = failed;
            }
            g.breaker.record(pass, health, now())
        });
        if let Some(t) = transition.flatten() {
            mark(names::BREAKER, &[("decision", breaker_decision(&t.to))]);
            record(&id, &ResilienceEvent::Breaker(t));
            save_breaker(store, &id).await;
        }
        let failure = match result {
            Ok(done) => return Ok(done),
            Err(f) if f.kind == FailureKind::Cancelled => return Err(f),
            Err(f) => f,
        };
        if let FailureKind::Timeout(kind) = failure.kind {
            record(&id, &ResilienceEvent::TimedOut { kind });
        }
        let decision = with_guard(&id, |g| {
            state.decide(
                failure.kind,
                failure.streamed,
                now(),
                js_sys::Math::random(),
                &mut g.budget,
            )
        })
        .expect("loaded above");
        record(&id, &decision.event());
        match decision {
            Decision::Retry {
                delay_ms, reason, ..
            } => {
                if !wait(names::RETRY_WAIT, reason.as_str(), delay_ms, cancel).await {
                    return Err(StreamFailure::stopped(false));
                }
            }
            Decision::GiveUp { .. } | Decision::Interrupted { .. } => return Err(failure),
        }
    }
}
