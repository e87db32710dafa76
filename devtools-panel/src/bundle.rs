//! The session bundle in the panel: "Export session bundle" saves one file
//! with the asks, errors, metrics, spans, health and environment of the
//! time range chosen (made by the background, scrubbed like every export:
//! `core::telemetry::bundle`); "Open a session bundle" shows such a file
//! in the telemetry tabs, read-only, until "Back to live".

use std::rc::Rc;

use paperclip_core::protocol::GetSessionBundle;
use paperclip_core::telemetry::bundle::{self, SessionBundle, MAX_BUNDLE_BYTES};
use paperclip_platform as platform;
use paperclip_ui::format_time;
use yew::prelude::*;

/// Props: the range to export, the bundle open and how to change it.
#[derive(Properties, PartialEq)]
pub struct BundleProps {
    /// How far back an export goes, ms.
    pub range_ms: f64,
    /// The bundle shown instead of the live telemetry.
    pub open: Option<Rc<SessionBundle>>,
    /// Opens a bundle, or (`None`) goes back to live.
    pub on_open: Callback<Option<Rc<SessionBundle>>>,
}

/// The bundle's controls, and the banner while one is open.
#[function_component(BundleBar)]
pub fn bundle_bar(props: &BundleProps) -> Html {
    let message = use_state(|| None::<Result<String, String>>);
    let export = {
        let (message, range_ms) = (message.clone(), props.range_ms);
        Callback::from(move |_: MouseEvent| {
            let message = message.clone();
            message.set(Some(Ok("Making the session bundle…".into())));
            wasm_bindgen_futures::spawn_local(async move {
                let r = match platform::call(GetSessionBundle { range_ms }).await {
                    Ok(made) => {
                        paperclip_ui::download(&made.filename, &made.json, "application/json")
                            .map(|_| format!("Saved {}.", made.filename))
                    }
                    Err(e) => Err(e.message),
                };
                message.set(Some(r));
            });
        })
    };
    let on_file = {
        let (message, on_open) = (message.clone(), props.on_open.clone());
        Callback::from(move |e: Event| {
            let Some(file) = paperclip_ui::take_chosen_file(&e) else {
                return;
            };
            let (message, on_open) = (message.clone(), on_open.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let name = file.name();
                let read = paperclip_ui::read_text_within(file, MAX_BUNDLE_BYTES)
                    .await
                    .and_then(|text| bundle::parse(&text).map_err(|e| format!("{name}: {e}")));
                match read {
                    Ok(b) => {
                        message.set(Some(Ok(format!("Opened {name}."))));
                        on_open.emit(Some(Rc::new(b)));
                    }
                    // What was shown stays as it was.
                    Err(e) => message.set(Some(Err(e))),
                }
            });
        })
    };
    let back = {
        let (message, on_open) = (message.clone(), props.on_open.clone());
        Callback::from(move |_: MouseEvent| {
            message.set(None);
            on_open.emit(None);
        })
    };
    html! {
        <div class="bundle-bar">
            <button type="button" onclick={export}>{ "Export session bundle" }</button>
            <label for="bundle-file">{ " Open a session bundle " }</label>
            <input id="bundle-file" type="file" accept=".json,application/json" onchange={on_file} />
            { paperclip_ui::status_line(&message) }
            if let Some(b) = &props.open {
                <p class="bundle-open" role="status">
                    { format!("Viewing a session bundle (read-only): made {} by Paperclip {} · {} asks, {} error groups, {} spans · {}",
                        format_time(b.created_ms), b.environment.extension_version, b.asks.len(),
                        b.errors.len(), b.spans.len(), b.environment.browser) }
                    { " " }<button type="button" onclick={back}>{ "Back to live" }</button>
                </p>
            }
        </div>
    }
}
