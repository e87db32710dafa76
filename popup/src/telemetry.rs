//! The options page's "Telemetry export" section: the OpenTelemetry
//! collector URL, whether export is on (the `privacy.telemetry_remote`
//! preference, in the Privacy preferences), the offline queue, and "Send
//! now".

use paperclip_core::protocol::{
    FlushTelemetry, GetTelemetryExport, SetTelemetryExport, TelemetryExport,
};
use paperclip_platform as platform;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The collector settings.
#[function_component(TelemetrySection)]
pub fn telemetry_section() -> Html {
    let export = use_state(|| None::<TelemetryExport>);
    let message = use_state(|| None::<(bool, String)>);
    let input = use_node_ref();
    {
        let export = export.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(e) = platform::call(GetTelemetryExport {}).await {
                    export.set(Some(e));
                }
            });
        });
    }
    let save = {
        let (export, message, input) = (export.clone(), message.clone(), input.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let url = input
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            let (export, message) = (export.clone(), message.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let otlp_url = (!url.trim().is_empty()).then(|| url.trim().to_string());
                match platform::call(SetTelemetryExport { otlp_url }).await {
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
    html! {
        <section class="telemetry-export" aria-label="Telemetry export">
            <h2>{ "Telemetry export" }</h2>
            <p>{ "Telemetry (timings, errors, health; never page text, full URLs, questions or keys) stays in this browser. To send it to your own OpenTelemetry collector (OTLP/HTTP JSON), give its URL and turn on \"Export telemetry to a remote endpoint\" under Privacy." }</p>
            <form onsubmit={save}>
                <label for="otlp-url">{ "Collector URL" }</label>
                <input id="otlp-url" ref={input} type="url" placeholder="https://collector.example:4318"
                    value={current.otlp_url.clone().unwrap_or_default()} />
                <button type="submit">{ "Save collector" }</button>
                <button type="button" onclick={send_now} disabled={!current.enabled || current.otlp_url.is_none()}>{ "Send now" }</button>
            </form>
            <p class="meta">{ format!("Export is {} · {} batches waiting",
                if current.enabled && current.otlp_url.is_some() { "on" } else { "off" }, current.queued) }</p>
            if let Some((ok, text)) = &*message {
                <p class={if *ok { "meta" } else { "error" }} role={if *ok { "status" } else { "alert" }}>{ text.clone() }</p>
            }
        </section>
    }
}
