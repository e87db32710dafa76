//! Paperclip's background: the Chrome service worker / Firefox event page
//! that owns all state.
//!
//! `bg.js` registers every browser listener synchronously at top level and
//! hands each event to the exports here once [`start`] has opened the
//! [`store::Store`]. [`on_message`] serves the one-shot
//! [`paperclip_core::protocol::Request`]s of the extension pages,
//! [`on_connect`] the agent's streaming port (see [`agent`]), and the
//! `on_command` / `on_menu` entry points show the agent in a
//! tab ([`activate`]).
//!
//! Every decision (who may ask what, what to answer) is made by
//! `paperclip-core`; this crate is the shell that does the I/O.
#![forbid(unsafe_code)]

pub mod agent;
#[cfg(feature = "bench")]
pub mod bench;
pub mod budget;
pub mod cancel;
pub mod changes;
pub mod context_cache;
pub mod data;
pub mod errors;
pub mod export_all;
pub mod history;
pub mod import;
pub mod live;
pub mod page;
pub mod pdf;
pub mod popup;
pub mod providers;
pub mod resilient;
pub mod store;
pub mod sync;
pub mod telemetry;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Promise, Reflect};
use paperclip_core::protocol::{
    self, Activated, CacheInvalidated, ConnectionTested, ConversationDetail, ConversationList,
    Deleted, ErrorKind, ExportedMarkdown, Pong, PreferenceList, PreferenceSet, PriceList,
    PricesSaved, ProtocolError, ProviderDeleted, ProviderList, ProviderSaved, ProvidersOrdered,
    QuickAction, Reply, Request, ResilienceSaved, ResilienceStatus, Response, TagsSet,
    TelemetryAnswer, TelemetryExportSaved, TelemetryFlushed, ToContent, PROTOCOL_VERSION,
};
use paperclip_core::quick::CustomAction;
use paperclip_core::sender::{self, Caller, Channel, SenderInfo};
use paperclip_core::{activation, export};
use paperclip_platform as platform;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_extensions_sys::{MessageSender, Port};

use crate::store::{Budget, Store};

/// The cleanup job's alarm.
pub const MAINTENANCE_ALARM: &str = "paperclip-maintenance";
/// How often the cleanup job runs.
const MAINTENANCE_PERIOD_MINUTES: f64 = 60.0;

/// The path of the content script that shows the agent in a page.
pub const LOADER: &str = "content/loader.js";
/// The page reading, injected just before [`LOADER`].
pub const EXTRACT: &str = "content/extract.js";

/// The context-menu entries on a selection: id, title and quick action.
pub const MENUS: [(&str, &str, QuickAction); 3] = [
    (
        "paperclip-ask-selection",
        "Ask Clippy about selection",
        QuickAction::AskAboutSelection,
    ),
    (
        "paperclip-explain-selection",
        "Explain selection with Clippy",
        QuickAction::ExplainSelection,
    ),
    (
        "paperclip-translate-selection",
        "Translate selection with Clippy",
        QuickAction::TranslateSelection,
    ),
];

thread_local! {
    static STARTED_MS: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
    static READY_MS: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
    static STORE: RefCell<Option<Rc<Store>>> = const { RefCell::new(None) };
}

thread_local! {
    static FLUSH_SCHEDULED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Saves the cache statistics of the open store in a few seconds, once for
/// any number of calls meanwhile (the worker lives on for about 30 s after
/// its last event, so this runs before it stops).
pub(crate) fn flush_cache_stats_soon() {
    if FLUSH_SCHEDULED.with(|f| f.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async {
        paperclip_platform::timer::sleep(STATS_FLUSH_DELAY_MS).await;
        FLUSH_SCHEDULED.with(|f| f.set(false));
        if let Ok(store) = store() {
            if let Err(e) = store.flush_cache_stats().await {
                web_sys::console::warn_1(&format!("paperclip: {}", e.message).into());
            }
        }
    });
}

/// Delay of [`flush_cache_stats_soon`].
const STATS_FLUSH_DELAY_MS: u32 = 3_000;

/// The open store; `start` has run before any handler is called.
pub(crate) fn store() -> Result<Rc<Store>, ProtocolError> {
    STORE
        .with(|s| s.borrow().clone())
        .ok_or_else(|| ProtocolError::failed("storage is not open yet"))
}

/// Opens storage. `bg.js` awaits this before handing over any event.
#[wasm_bindgen]
pub async fn start() {
    errors::set_panic_hook();
    STARTED_MS.with(|t| t.set(paperclip_platform::clock::now_ms()));
    store::observe(changes::observed);
    telemetry::on_sample(budget::sample);
    let store = Rc::new(Store::open().await);
    telemetry::start(&store).await;
    errors::started(store.persistent(), store.notice());
    telemetry::on_export(errors::exported);
    STORE.with(|s| *s.borrow_mut() = Some(store.clone()));
    // Questions that waited for the network, asked again if it is back.
    agent::queued::start(&store).await;
    READY_MS.with(|t| t.set(platform::clock::monotonic_ms()));
    wasm_bindgen_futures::spawn_local(ensure_maintenance_alarm());
    // Settings changed on other devices while this worker was stopped.
    sync::soon();
}

/// Creates the cleanup alarm unless it exists; alarms outlive the worker, so
/// the job runs after restarts too.
async fn ensure_maintenance_alarm() {
    if !platform::alarms::exists(MAINTENANCE_ALARM).await {
        platform::alarms::create(MAINTENANCE_ALARM, Some(1.0), MAINTENANCE_PERIOD_MINUTES);
    }
}

/// `alarms.onAlarm`: runs the cleanup job.
#[wasm_bindgen]
pub fn on_alarm(alarm: JsValue) {
    let name = Reflect::get(&alarm, &"name".into())
        .ok()
        .and_then(|v| v.as_string());
    if name.as_deref() == Some(agent::queued::ALARM) {
        agent::queued::soon();
        return;
    }
    if name.as_deref() == Some(telemetry::ALARM) {
        wasm_bindgen_futures::spawn_local(telemetry::resume());
        return;
    }
    if name.as_deref() != Some(MAINTENANCE_ALARM) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async {
        let result = match store() {
            Ok(store) => {
                let budget = Budget::from_preferences(&store.preferences());
                store
                    .maintain(paperclip_platform::clock::now_ms(), budget)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            web_sys::console::warn_1(&format!("paperclip: cleanup failed: {}", e.message).into());
        }
    });
}

/// Who sent a message or opened a port (`sender::identify` on the fields
/// the core reads); every entry point then asks `sender::check` (the core's
/// capability table) what that caller may do.
pub(crate) fn caller_of(sender: &MessageSender) -> Result<Caller, ProtocolError> {
    let info = SenderInfo {
        id: sender.id(),
        url: sender.url(),
        tab_id: sender.tab().and_then(|t| t.id()),
        frame_id: sender.frame_id().map(|f| f as i32),
    };
    sender::identify(&platform::extension_id(), &platform::base_url(), &info)
}

/// `runtime.onMessage`: one enveloped [`Request`] in, one enveloped
/// [`Reply`] out. Never rejects: every failure is an error reply.
#[wasm_bindgen]
pub fn on_message(message: JsValue, sender: MessageSender) -> Promise {
    future_to_promise(async move {
        let handled = handle(&message, &sender).await;
        if let Err(error) = &handled {
            let from = match caller_of(&sender) {
                Ok(sender::Caller::ExtensionPage { page, .. }) => page,
                Ok(sender::Caller::ContentScript { .. }) => "content script".into(),
                Err(_) => "unknown sender".into(),
            };
            errors::refused(&from, error);
        }
        let reply: Reply<Response> = handled.into();
        Ok(platform::to_js(&protocol::encode(&reply)))
    })
}

/// `runtime.onMessageExternal` and web pages: always refused.
#[wasm_bindgen]
pub fn on_message_external(_message: JsValue, _sender: JsValue) -> JsValue {
    let error = ProtocolError::new(
        ErrorKind::Forbidden,
        "messages from other extensions or web pages are not accepted",
    );
    errors::refused("another extension or a web page", &error);
    let reply = Reply::<Response>::Err(error);
    platform::to_js(&protocol::encode(&reply))
}

async fn handle(message: &JsValue, sender: &MessageSender) -> Result<Response, ProtocolError> {
    let caller = caller_of(sender)?;
    let request: Request = platform::decode_js(message)?;
    sender::check(&caller, Channel::Request(&request))?;
    let store = store()?;
    Ok(match request {
        Request::Ping(_) => Pong {
            version: platform::version(),
            protocol: PROTOCOL_VERSION,
            started_ms: STARTED_MS.with(|t| t.get()),
            ready_ms: READY_MS.with(|t| t.get()),
        }
        .into(),
        Request::ListConversations(r) => {
            let (items, next) = store.list(&r).await?;
            let (usage, quota) = store::estimate().await;
            let quota_percent = match paperclip_core::maintenance::quota_level(usage, quota) {
                paperclip_core::maintenance::QuotaLevel::Near { percent } => Some(percent),
                paperclip_core::maintenance::QuotaLevel::Ok => None,
            };
            ConversationList {
                items,
                persistent: store.persistent(),
                next,
                quota_percent,
            }
            .into()
        }
        Request::GetConversation(r) => ConversationDetail {
            conversation: store.get(&r.id).await?,
        }
        .into(),
        Request::DeleteConversation(r) => Deleted {
            existed: store.delete(&r.id).await?,
        }
        .into(),
        Request::ActivateTab(r) => {
            let then = r.then.map(protocol::Arrival::validate).transpose()?;
            agent::arrival::show_agent(&store, r.tab_id, then).await?;
            Activated {}.into()
        }
        Request::ExportBegin(_) => export_all::begin(&store).await?.into(),
        Request::ExportPart(r) => export_all::part(&store, r).await?.into(),
        Request::ExportMarkdown(r) => {
            let c = store
                .get(&r.id)
                .await?
                .ok_or_else(|| ProtocolError::failed(format!("no conversation {:?}", r.id)))?;
            ExportedMarkdown {
                markdown: export::to_markdown(&c),
                filename: export::markdown_filename(&c),
            }
            .into()
        }
        Request::ImportBegin(r) => import::begin(r)?.into(),
        Request::ImportPart(r) => import::part(&store, r).await?.into(),
        Request::SetTags(r) => TagsSet {
            tags: store.set_tags(&r.id, &r.tags).await?,
        }
        .into(),
        Request::GetPreferences(r) => PreferenceList {
            entries: store.preference_entries(r.category),
        }
        .into(),
        Request::GetAppearance(_) => store.preferences().appearance().into(),
        Request::GetPopupStatus(r) => popup::status(&store, r).await?.into(),
        Request::SetSiteAccess(r) => popup::set_site_access(&store, r).await?.into(),
        Request::SetPreference(r) => {
            let value = store.set_preference(&r.key, &r.value).await?;
            if r.key == "privacy.telemetry_remote" {
                telemetry::refresh(&store).await;
            }
            PreferenceSet { value, key: r.key }.into()
        }
        Request::GetStorageStatus(_) => store.status().await?.into(),
        Request::RunMaintenance(_) => {
            let budget = Budget::from_preferences(&store.preferences());
            store
                .maintain(paperclip_platform::clock::now_ms(), budget)
                .await?
                .into()
        }
        Request::InvalidateCache(r) => CacheInvalidated {
            removed: store.cache_invalidate(&r.prefix).await?,
        }
        .into(),
        Request::ListCacheEntries(r) => protocol::CacheEntryList {
            entries: store
                .cache_list(r.limit.min(protocol::MAX_CACHE_LISTED))
                .await?
                .iter()
                .map(Into::into)
                .collect(),
            total: store.cache_total().await?,
        }
        .into(),
        Request::DeleteCacheEntry(r) => {
            store.cache_remove(&r.key).await?;
            changes::note(protocol::Topic::Storage);
            protocol::CacheEntryDeleted { key: r.key }.into()
        }
        Request::ListProviders(_) => ProviderList {
            providers: providers::public(&store).await?,
        }
        .into(),
        Request::SaveProvider(r) => ProviderSaved {
            provider: providers::save(&store, r).await?,
        }
        .into(),
        Request::DeleteProvider(r) => ProviderDeleted {
            existed: providers::delete(&store, &r.id).await?,
        }
        .into(),
        Request::TestConnection(r) => ConnectionTested {
            report: providers::test_connection(&store, &r.id).await?,
        }
        .into(),
        Request::GetSyncStatus(_) => sync::status().await?.into(),
        Request::FindLocalModels(_) => protocol::LocalModelsFound {
            servers: providers::local::find().await,
        }
        .into(),
        Request::SetProviderOrder(r) => ProvidersOrdered {
            providers: providers::set_order(&store, &r.ids).await?,
        }
        .into(),
        Request::GetResilience(_) => {
            let ids: Vec<String> = providers::chain(&store)
                .await?
                .iter()
                .map(|c| c.settings().id.clone())
                .collect();
            ResilienceStatus {
                settings: resilient::settings(&store).await,
                breakers: resilient::breakers(&store, &ids).await,
                degradation: agent::degradation(),
            }
            .into()
        }
        Request::SetResilience(r) => ResilienceSaved {
            settings: resilient::set_settings(&store, r.settings).await?,
        }
        .into(),
        Request::GetPrices(_) => {
            let table = providers::prices(&store).await;
            PriceList {
                defaults: table == paperclip_core::provider::price::PriceTable::defaults(),
                table,
            }
            .into()
        }
        Request::SetPrices(r) => PricesSaved {
            table: providers::set_prices(&store, r.table).await?,
        }
        .into(),
        Request::RecordTelemetry(batch) => telemetry::accept(&batch).into(),
        Request::QueryTelemetry(q) => TelemetryAnswer {
            answer: history::query(&store, &q.query).await?,
        }
        .into(),
        Request::GetTelemetryExport(_) => telemetry::export_status(&store).into(),
        Request::FlushTelemetry(_) => TelemetryFlushed {
            export: telemetry::flush_now(&store).await,
        }
        .into(),
        Request::SetTelemetryExport(settings) => TelemetryExportSaved {
            export: telemetry::set_export(&store, settings).await?,
        }
        .into(),
        Request::DeleteAllData(r) => data::delete_all(&store, r).await?.into(),
        Request::DeleteSiteData(r) => data::delete_site(&store, &r.site).await?.into(),
        Request::ClearTelemetry(_) => data::clear_telemetry(&store).await?.into(),
        Request::GetUsage(r) => store
            .usage_report(
                r.now_ms.unwrap_or_else(paperclip_platform::clock::now_ms),
                r.tz_offset_min,
            )
            .await?
            .into(),
        Request::GetSessionBundle(r) => {
            let bundle = history::bundle(&store, r.range_ms).await?;
            protocol::SessionBundleMade {
                filename: bundle.filename(),
                json: serde_json::to_string_pretty(&bundle)
                    .map_err(|e| ProtocolError::failed(e.to_string()))?,
            }
            .into()
        }
        Request::GetErrorTriage(_) => protocol::ErrorTriage {
            book: errors::triage(&store).await,
        }
        .into(),
        Request::SetErrorTriage(r) => protocol::ErrorTriageSet {
            book: {
                let book = errors::set_triage(&store, r).await?;
                changes::note(protocol::Topic::Telemetry);
                book
            },
        }
        .into(),
    })
}

/// `runtime.onConnect`: the agent's port.
#[wasm_bindgen]
pub fn on_connect(port: Port) {
    if paperclip_core::protocol::split_port_name(&port.name()).0
        == paperclip_core::protocol::TELEMETRY_PORT
    {
        live::subscribe(port);
    } else {
        agent::serve(port);
    }
}

/// Injects the agent's loader into tab `tab_id` (it is idempotent: a
/// second call only brings the agent back into view).
pub async fn activate(tab_id: i32) -> Result<(), ProtocolError> {
    let tab = platform::tabs::get(tab_id).await.ok();
    // A site the user set to "never" (the popup's "Clippy on this site").
    let url = tab.and_then(|t| t.url);
    if let Some(never) = store()
        .ok()
        .and_then(|s| popup::refusal(&s, url.as_deref()))
    {
        return Err(ProtocolError::failed(never));
    }
    let target = Object::new();
    Reflect::set(&target, &"tabId".into(), &tab_id.into()).expect("plain object");
    let files = js_sys::Array::of2(&EXTRACT.into(), &LOADER.into());
    let options = Object::new();
    Reflect::set(&options, &"target".into(), &target).expect("plain object");
    Reflect::set(&options, &"files".into(), &files).expect("plain object");
    let outcome = match platform::api().scripting().execute_script(&options).await {
        Ok(results) => platform::from_js(&results)
            .map_err(|e| e.message)
            .and_then(|json| activation::injected(&json)),
        Err(e) => Err(platform::error_text(&e)),
    };
    let Err(error) = outcome else {
        return Ok(());
    };
    // With `activeTab` (the user's click) the URL is visible and names the
    // kind of page; without it the browser's error has to do.
    Err(ProtocolError::failed(activation::refusal(
        url.as_deref(),
        &error,
    )))
}

/// Shows the agent in the tab a browser listener passed (read field by
/// field: a `tabs.Tab` has no JS class to check against).
fn activate_tab(tab: &JsValue) {
    let id = match platform::tabs::read(tab) {
        Ok(Some(t)) => t.id,
        Ok(None) => return,
        Err(e) => {
            web_sys::console::warn_1(&format!("paperclip: {e}").into());
            return;
        }
    };
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = activate(id).await {
            web_sys::console::warn_1(&e.message.into());
        }
    });
}

/// `commands.onCommand`.
#[wasm_bindgen]
pub fn on_command(command: String, tab: JsValue) {
    if command == "activate-agent" {
        activate_tab(&tab);
    }
}

/// `contextMenus.onClicked`: shows the agent and starts the entry's quick
/// action on the selection (or the user's own action of that name).
#[wasm_bindgen]
pub fn on_menu(info: JsValue, tab: JsValue) {
    let item = Reflect::get(&info, &"menuItemId".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    let pending = if let Some(&(_, _, action)) = MENUS.iter().find(|(id, ..)| *id == item) {
        agent::arrival::Pending::Action(action)
    } else if let Some(name) = item.strip_prefix(CUSTOM_MENU) {
        agent::arrival::Pending::Custom(name.to_string())
    } else {
        return;
    };
    if let Ok(Some(t)) = platform::tabs::read(&tab) {
        // Started in the agent open there, or when it connects.
        agent::arrival::hold(t.id, pending);
    }
    activate_tab(&tab);
}

/// The context-menu id of a user's own quick action: this, then its name.
pub const CUSTOM_MENU: &str = "paperclip-custom:";

thread_local! {
    /// The user's actions the context menu was last built with.
    static MENU_ACTIONS: RefCell<Option<Vec<CustomAction>>> = const { RefCell::new(None) };
}

/// `storage.onChanged`: another device's settings may have arrived.
#[wasm_bindgen]
pub fn on_storage_changed(_changes: JsValue, area: String) {
    sync::area_changed(&area);
}

/// `runtime.onInstalled`: creates the context-menu entries.
#[wasm_bindgen]
pub fn on_installed() {
    MENU_ACTIONS.with(|m| m.borrow_mut().take());
    menus_changed();
}

/// Builds the context menu again when the user's quick actions changed
/// since it was built: the built-in entries on a selection, then one
/// "Clippy: <name>" entry per action (on a selection only when it needs
/// one).
pub(crate) fn menus_changed() {
    let actions = store()
        .map(|s| s.preferences().quick_actions)
        .unwrap_or_default();
    if MENU_ACTIONS.with(|m| m.borrow().as_ref() == Some(&actions)) {
        return;
    }
    MENU_ACTIONS.with(|m| *m.borrow_mut() = Some(actions.clone()));
    let menus = platform::api().context_menus();
    let create = Closure::once_into_js(move || {
        let entry = |id: &str, title: &str, on_page: bool| {
            let props = Object::new();
            let set = |k: &str, v: &JsValue| {
                Reflect::set(&props, &k.into(), v).expect("plain object");
            };
            set("id", &id.into());
            set("title", &title.into());
            let contexts = js_sys::Array::of1(&"selection".into());
            if on_page {
                contexts.push(&"page".into());
            }
            set("contexts", &contexts);
            platform::api().context_menus().create(&props, None);
        };
        for (id, title, _) in MENUS {
            entry(id, title, false);
        }
        for a in actions {
            entry(
                &format!("{CUSTOM_MENU}{}", a.name),
                &format!("Clippy: {}", a.name),
                !a.needs_selection,
            );
        }
    });
    // onInstalled also fires on update, when the entries already exist.
    menus.remove_all(Some(create.unchecked_ref()));
}

/// Sends `message` to the content script in the top frame of `tab_id`.
pub(crate) async fn to_content(tab_id: i32, message: &ToContent) -> Result<String, ProtocolError> {
    let options = Object::new();
    Reflect::set(&options, &"frameId".into(), &0.into()).expect("plain object");
    let reply = platform::api()
        .tabs()
        .send_message(
            tab_id,
            &platform::to_js(&protocol::encode(message)),
            Some(&options),
        )
        .await
        .map_err(|e| {
            ProtocolError::failed(format!(
                "the page did not answer: {}",
                platform::error_text(&e)
            ))
        })?;
    platform::from_js(&reply)
}
