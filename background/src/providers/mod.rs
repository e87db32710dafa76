//! AI provider settings and the HTTP calls to providers.
//!
//! Settings live in the store's `meta` record `providers`, as
//! [`StoredProviderConfig`]s: the only place a key is kept. Pages get
//! [`PublicProviderConfig`]s (settings and whether a key is set), exports
//! never include providers, and keys are never logged. The requests and
//! their parsing come from [`paperclip_core::provider`]; this module only
//! does the `fetch`. Chrome's built-in AI, the one provider without HTTP,
//! is [`builtin`].

pub mod builtin;
pub mod local;

use futures::future::{select, Either};
use js_sys::{Object, Promise, Reflect};
use paperclip_core::protocol::{KeyUpdate, ProtocolError, SaveProvider};
use paperclip_core::provider::{
    self, price::PriceTable, ConnectionReport, ProviderConfig, PublicProviderConfig, Secret,
    StoredProviderConfig,
};
use paperclip_core::resilience::limits::{TimeoutKind, TimeoutWatch, Timeouts, Watch};
use paperclip_core::resilience::{retry, FailureKind};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::cancel::Cancel;
use crate::store::Store;

/// The `meta` record holding the providers.
pub(crate) const META_PROVIDERS: &str = "providers";
/// Most providers one may configure.
pub const MAX_PROVIDERS: usize = 20;
/// How long a connection test may take.
const TEST_TIMEOUT_MS: u64 = 15_000;

/// The stored providers, in the user's order (a record that cannot be
/// read at all is an error, reported to the page that asked).
pub async fn stored(store: &Store) -> Result<Vec<StoredProviderConfig>, ProtocolError> {
    Ok(store
        .meta_json::<Vec<StoredProviderConfig>>(META_PROVIDERS)
        .await?
        .unwrap_or_default())
}

/// How many providers are stored (also those that no longer validate;
/// 0 when the record is unreadable).
pub async fn stored_count(store: &Store) -> u64 {
    store
        .meta_json::<Vec<serde_json::Value>>(META_PROVIDERS)
        .await
        .ok()
        .flatten()
        .map_or(0, |all| all.len() as u64)
}

/// The providers as the pages see them: one that no longer validates is
/// listed with its `problem` (and skipped by [`chain`]).
pub async fn public(store: &Store) -> Result<Vec<PublicProviderConfig>, ProtocolError> {
    Ok(stored(store)
        .await?
        .iter()
        .map(StoredProviderConfig::public)
        .collect())
}

fn invalid(e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::new(
        paperclip_core::protocol::ErrorKind::Malformed,
        e.to_string(),
    )
}

/// Validates and stores `request`; nothing changes on error.
pub async fn save(
    store: &Store,
    request: SaveProvider,
) -> Result<PublicProviderConfig, ProtocolError> {
    let settings = request.settings.validate().map_err(invalid)?;
    let mut all = stored(store).await?;
    let existing = all.iter().position(|s| s.settings.id == settings.id);
    let key = match request.key {
        // A saved key never follows its provider to a new address (a bug or
        // a hostile page script could otherwise re-point it elsewhere).
        KeyUpdate::Keep => match existing.map(|i| &all[i]) {
            Some(old) if old.api_key.is_some() && old.settings.base_url != settings.base_url => {
                return Err(invalid(format!(
                    "{}: the address changed, so enter the API key again (a saved key is never \
                     sent to a new address)",
                    settings.label
                )))
            }
            Some(old) => old.api_key.clone(),
            None => None,
        },
        KeyUpdate::Clear => None,
        KeyUpdate::Set { key } => Some(Secret::new(&key).map_err(invalid)?),
    };
    let config = ProviderConfig::with_secret(settings, key).map_err(invalid)?;
    match existing {
        Some(i) => all[i] = config.to_stored(),
        None if all.len() >= MAX_PROVIDERS => {
            return Err(invalid(format!("at most {MAX_PROVIDERS} providers")))
        }
        None => all.push(config.to_stored()),
    }
    store.set_meta_json(META_PROVIDERS, &all).await?;
    Ok(config.public())
}

/// Removes provider `id`; false when there was none.
pub async fn delete(store: &Store, id: &str) -> Result<bool, ProtocolError> {
    let mut all = stored(store).await?;
    let before = all.len();
    all.retain(|s| s.settings.id != id);
    if all.len() == before {
        return Ok(false);
    }
    store.set_meta_json(META_PROVIDERS, &all).await?;
    Ok(true)
}

/// Puts the providers in the order of `ids` (each configured id exactly
/// once); nothing changes on error.
pub async fn set_order(
    store: &Store,
    ids: &[String],
) -> Result<Vec<PublicProviderConfig>, ProtocolError> {
    let mut all = stored(store).await?;
    let mut sorted: Vec<String> = ids.to_vec();
    sorted.sort();
    let mut known: Vec<String> = all.iter().map(|s| s.settings.id.clone()).collect();
    known.sort();
    if sorted != known {
        return Err(invalid(
            "the order must name every configured provider exactly once",
        ));
    }
    all.sort_by_key(|s| ids.iter().position(|id| *id == s.settings.id));
    store.set_meta_json(META_PROVIDERS, &all).await?;
    public(store).await
}

/// The `meta` record holding the user's price table.
pub(crate) const META_PRICES: &str = "prices";

/// The price table in force: the user's, else the built-in one.
pub async fn prices(store: &Store) -> PriceTable {
    store
        .meta_json::<PriceTable>(META_PRICES)
        .await
        .ok()
        .flatten()
        .and_then(|t| t.validate().ok())
        .unwrap_or_default()
}

/// Validates and stores `table` (`None`: back to the built-in table);
/// nothing changes on error.
pub async fn set_prices(
    store: &Store,
    table: Option<PriceTable>,
) -> Result<PriceTable, ProtocolError> {
    match table {
        Some(table) => {
            let table = table.validate().map_err(invalid)?;
            store.set_meta_json(META_PRICES, &table).await?;
            Ok(table)
        }
        None => {
            store
                .set_meta_json(META_PRICES, &PriceTable::defaults())
                .await?;
            Ok(PriceTable::defaults())
        }
    }
}

/// Provider `id`, ready to use.
pub async fn config(store: &Store, id: &str) -> Result<ProviderConfig, ProtocolError> {
    stored(store)
        .await?
        .into_iter()
        .find(|s| s.settings.id == id)
        .ok_or_else(|| ProtocolError::failed(format!("no provider {id:?}")))?
        .into_config()
        .map_err(invalid)
}

/// Lists the models of provider `id`, timing the call.
pub async fn test_connection(store: &Store, id: &str) -> Result<ConnectionReport, ProtocolError> {
    let config = config(store, id).await?;
    if config.settings().kind == provider::ProviderKind::ChromeBuiltIn {
        return builtin::test_connection().await;
    }
    if !config.settings().kind.is_http() {
        return Err(ProtocolError::failed(format!(
            "{} needs no connection test",
            config.settings().kind.as_str()
        )));
    }
    let request = provider::models_request(&config).map_err(invalid)?;
    let started = paperclip_platform::clock::now_ms();
    let label = config.settings().label.clone();
    // A local server that is not running, or refuses the extension, is
    // told apart (and how to allow the extension is said).
    let (status, body) = match fetch_text(&request, TEST_TIMEOUT_MS).await {
        Ok(answer) => answer,
        Err(e) if local::is_redirect_error(&e.message) => return Err(e),
        Err(e) => {
            let why = local::explain(&config, None).await;
            return Err(why.map_or(e, |w| ProtocolError::failed(format!("{label}: {w}"))));
        }
    };
    if matches!(status, 401 | 403) {
        if let Some(why) = local::explain(&config, Some(status)).await {
            return Err(ProtocolError::failed(format!("{label}: {why}")));
        }
    }
    let latency_ms = (paperclip_platform::clock::now_ms() - started).max(0.0) as u64;
    provider::connection_report(&config, status, &body, latency_ms)
        .map_err(|e| ProtocolError::failed(format!("{label}: {e}")))
}

/// Sends `request` and reads the whole answer as text, aborting after
/// `timeout_ms`.
async fn fetch_text(
    request: &provider::HttpRequest,
    timeout_ms: u64,
) -> Result<(u16, String), ProtocolError> {
    let controller = web_sys::AbortController::new().map_err(|_| invalid("no AbortController"))?;
    let call = async {
        let response = send(request, &controller).await?;
        let body = paperclip_platform::net::text_capped(&response, provider::MAX_TEST_BODY_BYTES)
            .await
            .map_err(|e| network(&e).message)?;
        Ok((status_of(&response), body))
    };
    let limit = Timeouts {
        first_byte_ms: timeout_ms,
        idle_ms: timeout_ms,
        total_ms: timeout_ms,
    };
    let watch = TimeoutWatch::start(limit, now_ms());
    guarded(call, &watch, &Cancel::default(), &controller)
        .await
        .map_err(|e| match e {
            Interrupt::Failed(e) => ProtocolError::failed(e),
            Interrupt::TimedOut(kind) => ProtocolError::failed(timeout_text(kind, &limit)),
            Interrupt::Stopped => ProtocolError::failed("stopped"),
        })
}

/// Starts `fetch` for `http` (abortable through `controller`) and waits for
/// the response headers.
async fn send(
    http: &provider::HttpRequest,
    controller: &web_sys::AbortController,
) -> Result<JsValue, String> {
    paperclip_platform::net::fetch(http.url.as_str(), &request_init(http, controller))
        .await
        .map_err(|e| network(&e).message)
}

fn status_of(response: &JsValue) -> u16 {
    Reflect::get(response, &"status".into())
        .ok()
        .and_then(|s| s.as_f64())
        .unwrap_or(0.0) as u16
}

fn network(e: &JsValue) -> ProtocolError {
    ProtocolError::failed(format!(
        "could not reach the provider: {}",
        paperclip_platform::error_text(e)
    ))
}

/// The providers that answer, in order: the primary (the first configured
/// one that speaks HTTP or is Chrome's built-in AI) and the fallback (the
/// second). The offline answer follows them.
pub async fn chain(store: &Store) -> Result<Vec<ProviderConfig>, ProtocolError> {
    Ok(stored(store)
        .await?
        .into_iter()
        .filter_map(|s| s.into_config().ok())
        .filter(|c| {
            c.settings().kind.is_http()
                || c.settings().kind == provider::ProviderKind::ChromeBuiltIn
        })
        .take(2)
        .collect())
}

/// What a finished stream gave.
pub struct Streamed {
    /// Prompt and completion tokens, when the provider said.
    pub usage: Option<(u64, u64)>,
}

/// Why a stream failed, and whether text had reached the user by then.
pub struct StreamFailure {
    /// A message for the user (the key is never in it).
    pub error: String,
    /// Text had been passed to `on_text` before the failure.
    pub streamed: bool,
    /// The failure as the resilience machines classify it
    /// ([`FailureKind::Cancelled`] for a stop, [`FailureKind::Refused`] for
    /// a request the extension's own guards refused before sending).
    pub kind: FailureKind,
    /// For a request refused because its breaker is open: the failure
    /// that last went through the breaker (what opened it), when known.
    pub paused_after: Option<FailureKind>,
}

impl StreamFailure {
    /// The failure as far as waiting for the network is concerned: a
    /// breaker open after unreachable attempts counts as unreachable.
    pub fn cause(&self) -> FailureKind {
        self.paused_after.unwrap_or(self.kind)
    }

    /// The failure of a request the user stopped.
    pub fn stopped(streamed: bool) -> Self {
        Self {
            error: "stopped".into(),
            streamed,
            kind: FailureKind::Cancelled,
            paused_after: None,
        }
    }
}

/// Why a guarded wait ended early.
pub(crate) enum Interrupt {
    Failed(String),
    TimedOut(TimeoutKind),
    Stopped,
}

pub(crate) fn now_ms() -> u64 {
    paperclip_platform::clock::now_ms() as u64
}

/// Runs `work` until it ends, `watch` fires or `cancel` is set; the last two
/// abort the request. (One step; a stream's reads share one [`Guard`].)
pub(crate) async fn guarded<T>(
    work: impl std::future::Future<Output = Result<T, String>>,
    watch: &TimeoutWatch,
    cancel: &Cancel,
    controller: &web_sys::AbortController,
) -> Result<T, Interrupt> {
    Guard::new(cancel).run(work, watch, controller).await
}

/// The timer and the stop signal of a request's waits, kept from one wait
/// to the next: a stream's reads share one timer, set for the watch's
/// next deadline and set again only when it fires or an earlier deadline
/// comes (not a timer and a stop waiter per read).
pub(crate) struct Guard<'a> {
    cancel: &'a Cancel,
    stop: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>,
    /// When the timer fires (ms since the epoch), and the timer.
    timer: Option<(u64, paperclip_platform::timer::TimeoutFuture)>,
}

impl<'a> Guard<'a> {
    pub(crate) fn new(cancel: &'a Cancel) -> Self {
        Self {
            cancel,
            stop: Box::pin(cancel.stopped()),
            timer: None,
        }
    }

    /// [`guarded`], with this guard's timer and stop signal.
    pub(crate) async fn run<T>(
        &mut self,
        work: impl std::future::Future<Output = Result<T, String>>,
        watch: &TimeoutWatch,
        controller: &web_sys::AbortController,
    ) -> Result<T, Interrupt> {
        let mut work = std::pin::pin!(work);
        loop {
            if self.cancel.is_stopped() {
                controller.abort();
                return Err(Interrupt::Stopped);
            }
            let now = now_ms();
            let at = match watch.check(now) {
                Watch::Fired(kind) => {
                    controller.abort();
                    return Err(Interrupt::TimedOut(kind));
                }
                Watch::WakeAt(at) => at,
            };
            if self.timer.as_ref().is_none_or(|(set, _)| at < *set) {
                let ms = at.saturating_sub(now).clamp(1, u64::from(u32::MAX));
                self.timer = Some((at, paperclip_platform::timer::sleep(ms as u32)));
            }
            let (_, timer) = self.timer.as_mut().expect("set above");
            match select(work.as_mut(), select(timer, self.stop.as_mut())).await {
                Either::Left((result, _)) => return result.map_err(Interrupt::Failed),
                // The timer: check the watch again.
                Either::Right((Either::Left(_), _)) => self.timer = None,
                Either::Right((Either::Right(_), _)) => {
                    self.stop = Box::pin(std::future::pending());
                    controller.abort();
                    return Err(Interrupt::Stopped);
                }
            }
        }
    }
}

pub(crate) fn timeout_text(kind: TimeoutKind, timeouts: &Timeouts) -> String {
    match kind {
        TimeoutKind::FirstByte => format!(
            "no answer within {} s",
            timeouts.first_byte_ms.div_ceil(1000)
        ),
        TimeoutKind::Idle => format!(
            "the answer stalled for {} s",
            timeouts.idle_ms.div_ceil(1000)
        ),
        TimeoutKind::Total => format!(
            "the answer took longer than {} s",
            timeouts.total_ms.div_ceil(1000)
        ),
    }
}

/// Streams the answer to `request` from `config` within `timeouts`, calling
/// `on_text` with each piece of text; `on_text` returns false to stop (the
/// request is aborted), and so does `cancel`.
pub async fn stream_chat(
    config: &ProviderConfig,
    request: &provider::ChatRequest,
    timeouts: Timeouts,
    cancel: &Cancel,
    on_text: &mut dyn FnMut(&str) -> bool,
) -> Result<Streamed, StreamFailure> {
    use paperclip_core::telemetry::span::SpanKind;
    let kind = config.settings().kind.as_str();
    let started = paperclip_platform::clock::now_ms();
    let headers_at = std::cell::Cell::new(None::<f64>);
    let first_at = std::cell::Cell::new(None::<f64>);
    let chars = std::cell::Cell::new(0usize);
    let mut counting = |text: &str| {
        if first_at.get().is_none() {
            first_at.set(Some(paperclip_platform::clock::now_ms()));
        }
        chars.set(chars.get() + text.chars().count());
        on_text(text)
    };
    let span = crate::telemetry::child_of_current(
        paperclip_core::telemetry::span::names::PROVIDER_REQUEST,
        SpanKind::Client,
    );
    let result = if config.settings().kind == provider::ProviderKind::ChromeBuiltIn {
        builtin::stream(config, request, timeouts, cancel, &mut counting).await
    } else {
        stream_http(
            config,
            request,
            timeouts,
            cancel,
            &mut counting,
            &headers_at,
        )
        .await
    };
    let end = paperclip_platform::clock::now_ms();
    let outcome = match &result {
        Ok(_) => "ok",
        Err(f) => f.kind.as_str(),
    };
    let labels = [("provider", kind), ("outcome", outcome)];
    crate::telemetry::timing("provider.total", &labels, end - started);
    if let Some(at) = headers_at.get() {
        crate::telemetry::timing("provider.time_to_first_byte", &labels, at - started);
    }
    if let Some(at) = first_at.get() {
        crate::telemetry::timing("provider.time_to_first_token", &labels, at - started);
        let tokens = match &result {
            Ok(Streamed {
                usage: Some((_, out)),
            }) => *out as f64,
            _ => chars.get() as f64 / 4.0,
        };
        let seconds = (end - at) / 1000.0;
        if seconds > 0.0 {
            crate::telemetry::timing(
                "provider.tokens_per_s",
                &[("provider", kind)],
                tokens / seconds,
            );
        }
    }
    if let Some(mut span) = span {
        span.set_attribute("provider.kind", kind);
        span.set_attribute("outcome", outcome);
        if let Some(at) = headers_at.get() {
            span.set_attribute("ttfb_ms", at - started);
        }
        if let Some(at) = first_at.get() {
            span.set_attribute("first_text_ms", at - started);
        }
        if let Ok(Streamed {
            usage: Some((tokens_in, tokens_out)),
        }) = &result
        {
            span.set_attribute("tokens.in", *tokens_in as i64);
            span.set_attribute("tokens.out", *tokens_out as i64);
        }
        crate::telemetry::end(span, result.as_ref().err().map(|f| f.error.as_str()));
    }
    result
}

async fn stream_http(
    config: &ProviderConfig,
    request: &provider::ChatRequest,
    timeouts: Timeouts,
    cancel: &Cancel,
    on_text: &mut dyn FnMut(&str) -> bool,
    headers_at: &std::cell::Cell<Option<f64>>,
) -> Result<Streamed, StreamFailure> {
    let label = &config.settings().label;
    let fail = |error: String, streamed: bool| StreamFailure {
        error: format!("{label}: {error}"),
        streamed,
        kind: FailureKind::Network,
        paused_after: None,
    };
    let bad = |error: String| StreamFailure {
        error: format!("{label}: {error}"),
        streamed: false,
        kind: FailureKind::Malformed,
        paused_after: None,
    };
    let interrupted = |why: Interrupt, streamed: bool| match why {
        // A redirect is an answer, not a network failure: asking again
        // gets the same one.
        Interrupt::Failed(error) if error.contains(paperclip_platform::net::REDIRECTED) => {
            bad(error)
        }
        Interrupt::Failed(error) => fail(error, streamed),
        Interrupt::TimedOut(kind) => StreamFailure {
            error: format!("{label}: {}", timeout_text(kind, &timeouts)),
            streamed,
            kind: FailureKind::Timeout(kind),
            paused_after: None,
        },
        Interrupt::Stopped => StreamFailure::stopped(streamed),
    };
    let http = provider::chat_request(config, request).map_err(|e| bad(e.to_string()))?;
    let mut parser = provider::ChatStream::new(config).map_err(|e| bad(e.to_string()))?;
    let controller =
        web_sys::AbortController::new().map_err(|_| bad("no AbortController".into()))?;
    let mut watch = TimeoutWatch::start(timeouts, now_ms());
    let response = guarded(send(&http, &controller), &watch, cancel, &controller)
        .await
        .map_err(|e| interrupted(e, false))?;
    watch.on_chunk(now_ms());
    headers_at.set(Some(paperclip_platform::clock::now_ms()));
    let status = status_of(&response);
    if !(200..300).contains(&status) {
        let body = guarded(
            async {
                paperclip_platform::net::text_capped(&response, provider::MAX_ERROR_BODY_BYTES)
                    .await
                    .map_err(|e| network(&e).message)
            },
            &watch,
            cancel,
            &controller,
        )
        .await
        .unwrap_or_default();
        let error = provider::parse_error_body(config, status, &body);
        let retry_after_ms =
            header(&response, "retry-after").and_then(|h| retry::parse_retry_after(&h, now_ms()));
        return Err(StreamFailure {
            error: format!("{label}: {error}"),
            streamed: false,
            kind: FailureKind::Http {
                status,
                retry_after_ms,
            },
            paused_after: None,
        });
    }
    let body =
        Reflect::get(&response, &"body".into()).map_err(|_| fail("no body".into(), false))?;
    let reader: JsValue = call_method(&body, "getReader")
        .map_err(|e| fail(e, false))?
        .into();
    let mut streamed = false;
    let mut usage = None;
    let mut guard = Guard::new(cancel);
    loop {
        let read = async {
            let p = call_method(&reader, "read")?;
            JsFuture::from(p).await.map_err(|e| network(&e).message)
        };
        let chunk = guard
            .run(read, &watch, &controller)
            .await
            .map_err(|e| interrupted(e, streamed))?;
        watch.on_chunk(now_ms());
        let done = Reflect::get(&chunk, &"done".into())
            .map(|d| d.is_truthy())
            .unwrap_or(true);
        let events = if done {
            parser.finish()
        } else {
            let bytes = Reflect::get(&chunk, &"value".into())
                .ok()
                .and_then(|v| v.dyn_into::<js_sys::Uint8Array>().ok())
                .map(|a| a.to_vec())
                .unwrap_or_default();
            parser.push(&bytes)
        };
        for event in events {
            match event {
                provider::StreamEvent::Delta(text) => {
                    streamed = true;
                    if !on_text(&text) || cancel.is_stopped() {
                        controller.abort();
                        return Err(StreamFailure::stopped(true));
                    }
                }
                provider::StreamEvent::Usage {
                    tokens_in,
                    tokens_out,
                } => {
                    usage = Some((tokens_in, tokens_out));
                }
                provider::StreamEvent::Finished { .. } => {
                    controller.abort();
                    return Ok(Streamed { usage });
                }
                provider::StreamEvent::Error(e) => {
                    controller.abort();
                    return Err(StreamFailure {
                        error: format!("{label}: {e}"),
                        streamed,
                        kind: e.failure_kind(),
                        paused_after: None,
                    });
                }
            }
        }
        if done {
            return Err(fail("the answer ended early".into(), streamed));
        }
    }
}

fn request_init(http: &provider::HttpRequest, controller: &web_sys::AbortController) -> Object {
    let init = Object::new();
    let set = |k: &str, v: &JsValue| {
        Reflect::set(&init, &k.into(), v).expect("plain object");
    };
    set("method", &http.method.as_str().into());
    let headers = Object::new();
    for (name, value) in &http.headers {
        Reflect::set(&headers, &name.as_str().into(), &value.as_str().into())
            .expect("plain object");
    }
    set("headers", &headers);
    if let Some(body) = &http.body {
        set("body", &body.as_str().into());
    }
    set("signal", &controller.signal());
    init
}

fn call_method(target: &JsValue, name: &str) -> Result<Promise, String> {
    Reflect::get(target, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| format!("{name} is unavailable"))?
        .call0(target)
        .map(Promise::from)
        .map_err(|e| network(&e).message)
}

/// Response header `name`, if present.
fn header(response: &JsValue, name: &str) -> Option<String> {
    let headers = Reflect::get(response, &"headers".into()).ok()?;
    let get = Reflect::get(&headers, &"get".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    get.call1(&headers, &name.into()).ok()?.as_string()
}
