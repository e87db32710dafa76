//! The options page's "Telemetry export" section: the OpenTelemetry
//! collector URL, a custom JSON endpoint, whether remote export is on (the
//! `privacy.telemetry_remote` preference, in the Privacy preferences), the
//! console sink, the offline queue, and "Send now".

use paperclip_core::protocol::{
    FlushTelemetry, GetTelemetryExport, SetTelemetryExport, TelemetryExport, Topic,
};
use paperclip_platform as platform;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The collector settings.
#[function_component(TelemetrySection)]
pub fn telemetry_section() -> Html {
    let export = use_state(|| None::<TelemetryExport>);
    // Firefox's data collection consent, taken back in about:addons.
    let consent_off = use_state(|| false);
    let message = use_state(|| None::<(bool, String)>);
    let input = use_node_ref();
    let json_input = use_node_ref();
    let console_input = use_node_ref();
    {
        // Loaded now and again when the settings or the opt-in (a
        // preference) change, here or in another page.
        let (export, consent_off) = (export.clone(), consent_off.clone());
        let load: paperclip_ui::Reload = std::rc::Rc::new(move || {
            let (export, consent_off) = (export.clone(), consent_off.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let kinds = paperclip_core::consent::TELEMETRY_EXPORT;
                consent_off.set(!platform::consent::allowed(&kinds).await);
                if let Ok(e) = platform::call(GetTelemetryExport {}).await {
                    export.set(Some(e));
                }
            });
        });
        paperclip_ui::use_changes(&[Topic::Telemetry, Topic::Preferences], load.clone());
        use_effect_with((), move |_| load());
    }
    let save = {
        let (export, message) = (export.clone(), message.clone());
        let (input, json_input, console_input) =
            (input.clone(), json_input.clone(), console_input.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let url = |input: &NodeRef| {
                let url = input
                    .cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default();
                (!url.trim().is_empty()).then(|| url.trim().to_string())
            };
            let settings = SetTelemetryExport {
                otlp_url: url(&input),
                json_url: url(&json_input),
                console: console_input
                    .cast::<HtmlInputElement>()
                    .is_some_and(|i| i.checked()),
            };
            let (export, message) = (export.clone(), message.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match platform::call(settings).await {
                    Ok(saved) => {
                        export.set(Some(saved.export));
                        message.set(Some((true, "Saved.".into())));
                    }
                    Err(e) => message.set(Some((false, e.message))),
                }
            });
        })
    };
    let send_now = {
        let (export, message) = (export.clone(), message.clone());
        Callback::from(move |_| {
            let (export, message) = (export.clone(), message.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match platform::call(FlushTelemetry {}).await {
                    Ok(f) => {
                        message.set(Some((
                            true,
                            format!("{} batches still queued.", f.export.queued),
                        )));
                        export.set(Some(f.export));
                    }
                    Err(e) => message.set(Some((false, e.message))),
                }
            });
        })
    };
    let current = (*export).clone().unwrap_or_default();
    let remote = current.otlp_url.is_some() || current.json_url.is_some();
    let on = current.enabled && remote && !*consent_off;
    html! {
        <section class="telemetry-export" aria-label="Telemetry export">
            <h2>{ "Telemetry export" }</h2>
            <p>{ "Telemetry (timings, errors, health; never page text, full URLs, questions or keys) stays in this browser. To send it to your own OpenTelemetry collector (OTLP/HTTP JSON) or to an endpoint of yours that takes Paperclip's JSON document, give its URL and turn on \"Export telemetry to a remote endpoint\" under Privacy." }</p>
            <form onsubmit={save}>
                <label for="otlp-url">{ "Collector URL" }</label>
                <input id="otlp-url" ref={input} type="url" placeholder="https://collector.example:4318"
                    value={current.otlp_url.clone().unwrap_or_default()} />
                <label for="json-url">{ "JSON endpoint URL" }</label>
                <input id="json-url" ref={json_input} type="url" placeholder="https://example.com/telemetry"
                    value={current.json_url.clone().unwrap_or_default()} />
                <input id="telemetry-console" ref={console_input} type="checkbox" checked={current.console} />
                <label for="telemetry-console">{ "Log telemetry in the background's console (for development)" }</label>
                <button type="submit">{ "Save export settings" }</button>
                <button type="button" onclick={send_now} disabled={!on}>{ "Send now" }</button>
            </form>
            <p class="meta">{ format!("Remote export is {} · {} batches waiting",
                if on { "on" } else { "off" }, current.queued) }</p>
            if current.enabled && *consent_off {
                <p class="notice" role="status">{ paperclip_core::consent::not_allowed(&paperclip_core::consent::TELEMETRY_EXPORT) }</p>
            }
            if let Some((ok, text)) = &*message {
                <p class={if *ok { "meta" } else { "error" }} role={if *ok { "status" } else { "alert" }}>{ text.clone() }</p>
            }
        </section>
    }
}
