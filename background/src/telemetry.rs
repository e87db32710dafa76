//! The telemetry engine in the worker: the shell around
//! [`paperclip_core::telemetry::Engine`]. It owns the clock, the random
//! numbers, the wake-up timer, the network and storage:
//!
//! - the background records directly ([`count`], [`timing`], [`event`],
//!   [`error`], [`span`]); pages send batches ([`accept`]);
//! - the devtools panel asks [`query`];
//! - everything goes through the engine (and its privacy scrubber): nothing
//!   else writes telemetry rows. The storage engine reports what it did as
//!   [`crate::store::Observation`]s, which [`observed`] records;
//! - each minute a window of rows goes to the [`Sink`]s on this machine:
//!   IndexedDB (the `telemetry` store, always) and the console (for
//!   development, when switched on);
//! - the two [`RemoteQueue`]s — an OpenTelemetry collector (OTLP/HTTP
//!   JSON) and a custom JSON endpoint — run only when the user opted in
//!   (`privacy.telemetry_remote`, and Firefox's consent, asked before each
//!   send) and gave their URL. Their batches wait in one offline queue
//!   mirrored in `meta` (surviving worker restarts), sent when due, when
//!   the network comes back (`online`) and on the `paperclip-telemetry` alarm.
//!
//! The engine's own state (metrics, events, error groups, spans) lives in
//! memory and starts afresh with the worker; the export queue does not.

use std::cell::{Cell, RefCell};

use js_sys::{Object, Reflect};
use paperclip_core::protocol::{
    ProtocolError, RecordTelemetry, SetTelemetryExport, TelemetryExport, TelemetryRecorded,
};
use paperclip_core::telemetry::otlp::{collector_url, Endpoint, QueuedBatch};
use paperclip_core::telemetry::panel::{PanelAnswer, PanelQuery};
use paperclip_core::telemetry::persist::{console_line, Row};
use paperclip_core::telemetry::span::Span;
use paperclip_core::telemetry::{AttrValue, Engine, EngineConfig};
use paperclip_core::{consent::TELEMETRY_EXPORT, data::meta_kind};
use paperclip_platform::consent::allowed as consent_given;
use wasm_bindgen::prelude::*;

use crate::store::Store;

/// The `meta` record holding the export queue.
const QUEUE_META: &str = "telemetry.queue";
/// The `meta` record holding the export targets ([`Targets`]).
pub(crate) const TARGETS_META: &str = "telemetry.exporters";
/// Where earlier versions kept the collector URL alone.
const OLD_EXPORT_META: &str = "telemetry.export";
/// The alarm that wakes the worker while batches wait.
pub const ALARM: &str = "paperclip-telemetry";
/// Longest sleep between ticks while the worker lives, ms.
const MAX_SLEEP_MS: f64 = 30_000.0;
/// The most bytes of a collector's answer that are read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How long an export request may take, ms.
const EXPORT_TIMEOUT_MS: i32 = 10_000;

/// A scheduled tick: when, and the callback the timer holds.
type Timer = (f64, Closure<dyn FnMut()>);

/// How many stored error rows are read back at start.
const RESTORED_ERROR_ROWS: u32 = 2_000;
/// Spans of the last ten minutes read back at start (the live port's span).
const RESTORED_SPANS: (f64, u32) = (600_000.0, 2_000);
/// How often the sinks take a window, ms.
const PERSIST_MS: f64 = 60_000.0;

/// Where telemetry goes besides IndexedDB (the `telemetry.exporters` meta
/// record).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct Targets {
    /// The OpenTelemetry collector's base URL.
    otlp_url: Option<String>,
    /// The custom JSON endpoint.
    json_url: Option<String>,
    /// Whether rows are logged to the worker's console.
    console: bool,
}

thread_local! {
    static SAMPLER: Cell<Option<fn()>> = const { Cell::new(None) };
    /// The end of the window the sinks took last.
    static PERSISTED: Cell<f64> = const { Cell::new(0.0) };
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    static TARGETS: RefCell<Targets> = RefCell::new(Targets::default());
    /// The next tick: when, and the callback the timer holds.
    static TIMER: RefCell<Option<Timer>> = const { RefCell::new(None) };
    static PUMPING: Cell<bool> = const { Cell::new(false) };
}

fn now() -> f64 {
    paperclip_platform::clock::now_ms()
}

pub(crate) fn random() -> f64 {
    js_sys::Math::random()
}

/// Runs `f` on the engine, if it has started.
/// Runs `f` on the engine, if it has started (and is not in use: a panic
/// inside the engine must not panic again in the hook).
pub fn with<R>(f: impl FnOnce(&mut Engine, f64) -> R) -> Option<R> {
    ENGINE.with(|e| {
        let mut engine = e.try_borrow_mut().ok()?;
        engine.as_mut().map(|engine| f(engine, now()))
    })
}

/// Starts the engine: export as the user set it, the queue as it was left.
pub async fn start(store: &Store) {
    let Some(mut engine) = new_engine() else {
        return;
    };
    let saved: Vec<QueuedBatch> = store
        .meta_json(QUEUE_META)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let _ = engine.restore_queue(saved);
    // Error groups and counters go on counting where the last instance
    // left them.
    let errors = store.telemetry_rows("error", RESTORED_ERROR_ROWS).await;
    engine.restore_errors(&errors.unwrap_or_default());
    let metrics = store.telemetry_rows("metric", RESTORED_ERROR_ROWS).await;
    engine.restore_counters(&metrics.unwrap_or_default());
    let (span_ms, span_rows) = RESTORED_SPANS;
    let spans = store.telemetry_between("span", now() - span_ms, f64::INFINITY, span_rows);
    engine.restore_spans(&spans.await.unwrap_or_default());
    let targets = match store.meta_json::<Targets>(TARGETS_META).await {
        Ok(Some(targets)) => targets,
        _ => Targets {
            otlp_url: store.meta_json(OLD_EXPORT_META).await.ok().flatten(),
            ..Targets::default()
        },
    };
    TARGETS.with(|t| *t.borrow_mut() = targets);
    ENGINE.with(|e| *e.borrow_mut() = Some(engine));
    refresh(store).await;
    PERSISTED.with(|p| p.set(now()));
    listen_online();
    wake();
}

/// A fresh engine, with the ask funnel: asked → an answer started → the
/// answer completed, per message id.
fn new_engine() -> Option<Engine> {
    let funnels = paperclip_core::telemetry::funnel::FunnelDef::new(
        "ask",
        ["ask.started", "answer.started", "answer.completed"],
        "ask",
    )
    .into_iter()
    .collect();
    let config = EngineConfig {
        service_version: paperclip_platform::version(),
        funnels,
        ..EngineConfig::default()
    };
    Engine::new(config, now()).ok()
}

/// Replaces the engine by a fresh one: its metrics, events, error groups,
/// spans and export queue are gone (and, with `forget_targets`, where
/// telemetry is exported). Returns how many batches waited for export.
/// The caller then saves the (empty) queue or deletes it with everything.
pub fn reset(forget_targets: bool) -> u64 {
    let waiting = with(|e, _| e.queued_batches().count() as u64).unwrap_or_default();
    if let Some(engine) = new_engine() {
        ENGINE.with(|e| {
            if let Ok(mut slot) = e.try_borrow_mut() {
                *slot = Some(engine);
            }
        });
    }
    if forget_targets {
        TARGETS.with(|t| *t.borrow_mut() = Targets::default());
    }
    PERSISTED.with(|p| p.set(now()));
    waiting
}

/// After [`reset`]: stores the empty queue when `save` (else only drops
/// its alarm: the caller deleted the record) and applies the opt-in as it
/// now stands.
pub async fn after_reset(store: &Store, save: bool) {
    if save {
        save_queue(store).await;
    } else {
        set_alarm(false);
    }
    refresh(store).await;
}

/// Re-reads the opt-in (after a preference changed).
pub async fn refresh(store: &Store) {
    let remote = store.preferences().telemetry_remote && consent_given(&TELEMETRY_EXPORT).await;
    let targets = TARGETS.with(|t| t.borrow().clone());
    let mut removed =
        with(|e, _| e.set_export(RemoteQueue::Otlp.on(&targets, remote))).unwrap_or_default();
    if !RemoteQueue::Json.on(&targets, remote) {
        removed.extend(with(|e, _| e.stop_json_export()).unwrap_or_default());
    }
    if !removed.is_empty() {
        save_queue(store).await;
    }
    wake();
}

/// Adds `value` to counter `name`.
pub fn count(name: &str, labels: &[(&str, &str)], value: u64) {
    with(|e, _| {
        if let Ok(c) = e.metrics_mut().counter(name, "1", "") {
            e.metrics_mut().add_with(c, labels, value);
        }
    });
}

/// Records `ms` in histogram `name`.
pub fn timing(name: &str, labels: &[(&str, &str)], ms: f64) {
    with(|e, _| {
        if let Ok(h) = e.metrics_mut().histogram(name, "ms", "") {
            e.metrics_mut().record_with(h, labels, ms);
        }
    });
}

/// Sets gauge `name`.
pub fn gauge(name: &str, labels: &[(&str, &str)], value: f64) {
    with(|e, _| {
        if let Ok(g) = e.metrics_mut().gauge(name, "1", "") {
            e.metrics_mut().set_with(g, labels, value);
        }
    });
}

/// The worker's memory sampler ([`crate::budget::sample`], set by
/// `start`), called on each tick, `Metrics` query and live-port update.
pub fn on_sample(sampler: fn()) {
    SAMPLER.with(|s| s.set(Some(sampler)));
}

pub fn sample_memory() {
    if let Some(sample) = SAMPLER.with(Cell::get) {
        sample();
    }
}

/// Records event `name`.
pub fn event(name: &str, properties: &[(&str, &str)]) {
    let props: Vec<(&str, AttrValue)> = properties
        .iter()
        .map(|(k, v)| (*k, AttrValue::from(*v)))
        .collect();
    with(|e, now| e.event(name, &props, now, random()));
}

/// Records what the storage engine reports (see [`crate::store::observe`]).
pub fn observed(observation: &crate::store::Observation) {
    use crate::store::Observation;
    match *observation {
        Observation::Operation { op, ok, ms } => {
            timing(
                "storage.operation",
                &[("op", op), ("ok", if ok { "true" } else { "false" })],
                ms,
            );
        }
        Observation::CacheLookup { tier, ms } => {
            count("context_cache.lookups", &[("result", tier)], 1);
            timing("storage.operation", &[("op", "cache_get")], ms);
        }
        Observation::Quarantined { store, .. } => {
            count("storage.quarantined", &[("store", store)], 1);
        }
        Observation::Maintenance {
            removed,
            still_over_budget,
        } => {
            count("storage.maintenance.removed", &[], u64::from(removed));
            let over = if still_over_budget { "true" } else { "false" };
            event("storage.maintenance", &[("still_over_budget", over)]);
        }
        // Counted by kind (never the site in the key); what changed goes
        // to live updates (`crate::changes`).
        Observation::MetaWritten { key } => {
            count("storage.meta_writes", &[("kind", meta_kind(key))], 1);
        }
        Observation::Changed(_) => {}
    }
}

/// Records a finished span.
pub fn span(span: Span) {
    with(|e, now| e.span(span, now));
}

/// Takes a page's batch.
pub fn accept(batch: &RecordTelemetry) -> TelemetryRecorded {
    with(|e, now| e.accept_page(batch, now, random())).unwrap_or(TelemetryRecorded {
        accepted: 0,
        dropped: batch.records.len() as u32,
    })
}

/// Answers the devtools panel (the metrics with the memory as it is now).
pub fn query(query: &PanelQuery) -> Result<PanelAnswer, ProtocolError> {
    if matches!(query, PanelQuery::Metrics) {
        sample_memory();
    }
    with(|e, _| e.query(query)).ok_or_else(|| ProtocolError::failed("telemetry is not running"))
}

/// The export settings and queue.
pub fn export_status(store: &Store) -> TelemetryExport {
    let targets = TARGETS.with(|t| t.borrow().clone());
    TelemetryExport {
        otlp_url: targets.otlp_url,
        json_url: targets.json_url,
        console: targets.console,
        enabled: store.preferences().telemetry_remote,
        queued: with(|e, _| e.query(&PanelQuery::Export))
            .and_then(|a| match a {
                PanelAnswer::Export(status) => Some(status.queued_batches),
                _ => None,
            })
            .unwrap_or(0),
    }
}

/// Validates `url` for `endpoint` (`what` names it in the error); empty
/// is none.
fn target_url(
    url: Option<&str>,
    endpoint: Endpoint,
    what: &str,
) -> Result<Option<String>, ProtocolError> {
    match url.map(str::trim) {
        None | Some("") => Ok(None),
        Some(url) => {
            collector_url(url, endpoint).map_err(|e| {
                ProtocolError::new(
                    paperclip_core::protocol::ErrorKind::Malformed,
                    format!("{what}: {e}"),
                )
            })?;
            Ok(Some(match endpoint {
                Endpoint::Json => url.to_string(),
                _ => url.trim_end_matches('/').to_string(),
            }))
        }
    }
}

/// Validates and stores the export targets (nothing changes when one is
/// refused).
pub async fn set_export(
    store: &Store,
    settings: SetTelemetryExport,
) -> Result<TelemetryExport, ProtocolError> {
    let targets = Targets {
        otlp_url: target_url(
            settings.otlp_url.as_deref(),
            Endpoint::Metrics,
            "collector URL",
        )?,
        json_url: target_url(
            settings.json_url.as_deref(),
            Endpoint::Json,
            "JSON endpoint URL",
        )?,
        console: settings.console,
    };
    store.set_meta_json(TARGETS_META, &targets).await?;
    TARGETS.with(|t| *t.borrow_mut() = targets);
    refresh(store).await;
    Ok(export_status(store))
}

async fn save_queue(store: &Store) {
    let batches: Vec<QueuedBatch> =
        with(|e, _| e.queued_batches().cloned().collect()).unwrap_or_default();
    let _ = store.set_meta_json(QUEUE_META, &batches).await;
    set_alarm(!batches.is_empty());
}

/// Schedules the next tick at the engine's next wake-up (at most
/// [`MAX_SLEEP_MS`] away).
fn wake() {
    let Some(at) = with(|e, now| e.next_wake(now).min(now + MAX_SLEEP_MS).max(now)) else {
        return;
    };
    let sooner = TIMER.with(|t| t.borrow().as_ref().is_none_or(|(when, _)| at < *when));
    if !sooner {
        return;
    }
    let tick = Closure::<dyn FnMut()>::new(|| {
        TIMER.with(|t| {
            if let Ok(mut t) = t.try_borrow_mut() {
                let old = t.take();
                wasm_bindgen_futures::spawn_local(async move { drop(old) });
            }
        });
        wasm_bindgen_futures::spawn_local(tick());
    });
    paperclip_platform::set_timeout(tick.as_ref(), (at - now()).max(0.0) as i32);
    TIMER.with(|t| *t.borrow_mut() = Some((at, tick)));
}

/// Collects and batches what is due, writes to IndexedDB when due, then
/// sends what the queue allows.
pub async fn tick() {
    sample_memory();
    let report = with(|e, now| e.tick(now, random()));
    if let (Some(report), Ok(store)) = (report, crate::store()) {
        if now() - PERSISTED.with(Cell::get) >= PERSIST_MS {
            write_window(&store).await;
        }
        if !report.enqueued.is_empty() || !report.removed.is_empty() {
            save_queue(&store).await;
        }
        pump(&store).await;
    }
    wake();
}

// ----- sinks and remote queues --------------------------------------------

/// What the engine learned in the window `(from, to]` (metric series as
/// they stand, events, error groups, spans), as rows.
pub struct Window {
    pub from: f64,
    pub to: f64,
    pub rows: Vec<Row>,
}

/// What [`Sink::write`] returns: how many rows it took, or why it failed.
pub type Written<'a> = futures::future::LocalBoxFuture<'a, Result<u32, String>>;

/// A place on this machine that takes each window of rows as it is cut
/// (each minute, and on "Send now"). Sinks are the only writers of
/// telemetry rows.
pub trait Sink {
    /// Its name (the `sink` label of `telemetry.sink.failures`).
    fn name(&self) -> &'static str;
    /// Whether it is on with `targets`.
    fn on(&self, targets: &Targets) -> bool;
    /// Stores or logs the window; returns how many rows it took.
    fn write<'a>(&'a self, store: &'a Store, window: &'a Window) -> Written<'a>;
}

/// The default: the `telemetry` store, with its retention and size bound.
pub struct IndexedDbSink;
/// Each row as one line in the worker's console (development).
pub struct ConsoleSink;

/// Every sink, in the order they take a window.
pub const SINKS: [&dyn Sink; 2] = [&IndexedDbSink, &ConsoleSink];

impl Sink for IndexedDbSink {
    fn name(&self) -> &'static str {
        "indexeddb"
    }
    fn on(&self, _: &Targets) -> bool {
        true
    }
    fn write<'a>(&'a self, store: &'a Store, window: &'a Window) -> Written<'a> {
        Box::pin(async move {
            let added = store.telemetry_add(&window.rows).await;
            let _ = store.telemetry_trim(window.to).await;
            added.map_err(|e| e.message)?;
            Ok(window.rows.len() as u32)
        })
    }
}

impl Sink for ConsoleSink {
    fn name(&self) -> &'static str {
        "console"
    }
    fn on(&self, targets: &Targets) -> bool {
        targets.console
    }
    fn write<'a>(&'a self, _: &'a Store, window: &'a Window) -> Written<'a> {
        Box::pin(async move {
            for row in &window.rows {
                web_sys::console::debug_1(&console_line(row).into());
            }
            Ok(window.rows.len() as u32)
        })
    }
}

/// A remote endpoint, fed through the engine's offline export queue (sent
/// by [`pump`]); on only when the user opted in (`remote`) and gave its
/// URL.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RemoteQueue {
    /// An OpenTelemetry collector: the engine batches each signal as OTLP
    /// itself in [`tick`] (metrics as deltas).
    Otlp,
    /// The user's own endpoint: each window as one JSON document.
    Json,
}

impl RemoteQueue {
    /// Whether it is on with `targets`; `remote` is the user's opt-in.
    pub fn on(self, targets: &Targets, remote: bool) -> bool {
        remote
            && match self {
                Self::Otlp => targets.otlp_url.is_some(),
                Self::Json => targets.json_url.is_some(),
            }
    }
}

/// Cuts the window since the last one, gives it to each sink that is on,
/// and queues it for the JSON endpoint when that is on; returns how many
/// rows the window held.
pub async fn write_window(store: &Store) -> u32 {
    let from = PERSISTED.with(Cell::get);
    let Some((rows, to)) = with(|e, now| (e.rows(from, now), now)) else {
        return 0;
    };
    PERSISTED.with(|p| p.set(to));
    let window = Window { from, to, rows };
    let written = window.rows.len() as u32;
    let targets = TARGETS.with(|t| t.borrow().clone());
    for sink in SINKS {
        if sink.on(&targets) && sink.write(store, &window).await.is_err() {
            count("telemetry.sink.failures", &[("sink", sink.name())], 1);
        }
    }
    if RemoteQueue::Json.on(&targets, store.preferences().telemetry_remote) {
        let report =
            with(|e, _| e.queue_json(window.rows, window.from, window.to)).unwrap_or_default();
        if !report.enqueued.is_empty() || !report.removed.is_empty() {
            save_queue(store).await;
        }
    }
    written
}

/// Collects and batches everything now, then sends.
pub async fn flush_now(store: &Store) -> TelemetryExport {
    write_window(store).await;
    if with(|e, now| e.flush(now, random())).is_some() {
        save_queue(store).await;
        pump(store).await;
    }
    wake();
    export_status(store)
}

/// The network came back, or the alarm rang: batches waiting on a backoff
/// are due now.
pub async fn resume() {
    with(|e, now| e.online(now));
    tick().await;
}

/// What is told how an export went.
type ExportListener = fn(bool, &str);

thread_local! {
    static ON_EXPORT: Cell<Option<ExportListener>> = const { Cell::new(None) };
}

/// Tells `f` how each export went (accepted, or why not).
pub fn on_export(f: ExportListener) {
    ON_EXPORT.with(|o| o.set(Some(f)));
}

fn exported(ok: bool, why: &str) {
    if let Some(f) = ON_EXPORT.with(Cell::get) {
        f(ok, why);
    }
}

/// Sends queued batches one at a time while the queue has one due.
async fn pump(store: &Store) {
    if !consent_given(&TELEMETRY_EXPORT).await || PUMPING.with(|p| p.replace(true)) {
        return;
    }
    while let Some(poll) = with(|e, now| e.poll(now)) {
        let Some(id) = poll.send else {
            if !poll.expired.is_empty() {
                save_queue(store).await;
            }
            break;
        };
        let Some((url, body)) = with(|e, _| {
            let batch = e.batch(id)?;
            let base = TARGETS.with(|t| {
                let t = t.borrow();
                match batch.endpoint {
                    Endpoint::Json => t.json_url.clone(),
                    _ => t.otlp_url.clone(),
                }
            })?;
            Some((
                collector_url(&base, batch.endpoint).ok()?,
                batch.body.clone(),
            ))
        })
        .flatten() else {
            with(|e, now| e.on_network_error(id, now, random()));
            break;
        };
        match post(&url, &body).await {
            Ok((status, retry_after, text)) => {
                exported((200..300).contains(&status), &format!("http {status}"));
                with(|e, now| {
                    e.on_response(id, status, retry_after.as_deref(), &text, now, random())
                });
                count(
                    "telemetry.export.requests",
                    &[("status", &status.to_string())],
                    1,
                );
            }
            Err(_) => {
                exported(false, "network");
                with(|e, now| e.on_network_error(id, now, random()));
                count("telemetry.export.requests", &[("status", "network")], 1);
            }
        }
        save_queue(store).await;
    }
    PUMPING.with(|p| p.set(false));
}

/// POSTs `body` as JSON to `url`: status, `Retry-After` and body.
async fn post(url: &str, body: &str) -> Result<(u16, Option<String>, String), JsValue> {
    let init = Object::new();
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&init, &k.into(), v);
    };
    set("method", &"POST".into());
    let headers = Object::new();
    let _ = Reflect::set(&headers, &"content-type".into(), &"application/json".into());
    set("headers", &headers);
    set("body", &body.into());
    if let Ok(controller) = web_sys::AbortController::new() {
        set("signal", &controller.signal());
        let abort = Closure::once_into_js(move || controller.abort());
        paperclip_platform::set_timeout(&abort, EXPORT_TIMEOUT_MS);
    }
    let response = paperclip_platform::net::fetch(url, &init).await?;
    let status = Reflect::get(&response, &"status".into())?
        .as_f64()
        .unwrap_or(0.0) as u16;
    let headers = Reflect::get(&response, &"headers".into())?;
    let get: js_sys::Function = Reflect::get(&headers, &"get".into())?.dyn_into()?;
    let retry_after = get.call1(&headers, &"retry-after".into())?.as_string();
    // The collector's answer matters only for its partial-success counts.
    let text = paperclip_platform::net::text_capped(&response, MAX_RESPONSE_BYTES).await?;
    Ok((status, retry_after, text))
}

fn listen_online() {
    let online = Closure::<dyn Fn()>::new(|| wasm_bindgen_futures::spawn_local(resume()));
    if let Ok(add) = Reflect::get(&js_sys::global(), &"addEventListener".into()) {
        if let Some(add) = add.dyn_ref::<js_sys::Function>() {
            let _ = add.call2(&js_sys::global(), &"online".into(), online.as_ref());
        }
    }
    online.forget();
}

/// Keeps the alarm while batches wait (it wakes a stopped worker, which
/// then restores the queue and sends).
fn set_alarm(on: bool) {
    if on {
        paperclip_platform::alarms::create(ALARM, None, 1.0);
    } else {
        paperclip_platform::alarms::clear(ALARM);
    }
}

// ----- spans ---------------------------------------------------------------

use paperclip_core::telemetry::span::{OpenSpan, SpanContext, SpanKind, SpanStatus};

thread_local! {
    /// The span of the ask being answered: provider attempts become its
    /// children (one ask runs per tab; overlapping asks in two tabs may
    /// attribute an attempt to the newer one).
    static CURRENT: RefCell<Option<SpanContext>> = const { RefCell::new(None) };
}

/// Now, in ns since the epoch (sub-millisecond from `performance`).
pub fn now_ns() -> u64 {
    paperclip_platform::clock::now_ns()
}

fn random_u64() -> u64 {
    let hi = (random() * 4_294_967_296.0) as u64;
    let lo = (random() * 4_294_967_296.0) as u64;
    (hi << 32) | lo
}

/// Starts the root span of a new trace.
pub fn root(name: &str) -> OpenSpan {
    OpenSpan::root(
        name,
        SpanKind::Server,
        (random_u64(), random_u64()),
        random_u64(),
        now_ns(),
    )
}

/// Starts a child of `parent`.
pub fn child(parent: &OpenSpan, name: &str, kind: SpanKind) -> OpenSpan {
    parent.child(name, kind, random_u64(), now_ns())
}

/// Starts a child of the current ask's span, if there is one.
pub fn child_of_current(name: &str, kind: SpanKind) -> Option<OpenSpan> {
    let parent = CURRENT.with(|c| *c.borrow())?;
    Some(OpenSpan::child_of(
        parent,
        name,
        kind,
        random_u64(),
        now_ns(),
    ))
}

/// Makes `span` the current ask's span (`None`: no ask).
pub fn set_current(span: Option<&OpenSpan>) {
    CURRENT.with(|c| *c.borrow_mut() = span.map(OpenSpan::context));
}

/// Ends `span` now, with `ok` or the error `failed`.
pub fn end(mut span: OpenSpan, failed: Option<&str>) {
    span.set_status(match failed {
        None => SpanStatus::Ok,
        Some(message) => SpanStatus::Error {
            message: message.to_string(),
        },
    });
    let finished = span.finish(now_ns());
    self::span(finished);
}
