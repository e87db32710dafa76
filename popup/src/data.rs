//! The options page's "Delete data" section: delete one site's data,
//! clear telemetry, and delete everything behind a confirmation step on
//! the page (the button becomes "Delete everything — this cannot be
//! undone" and "Cancel"; focus moves to Cancel, and back when cancelled).
//! Each reports what was deleted, in the words of
//! [`paperclip_core::data`].

use paperclip_core::data;
use paperclip_core::protocol::{ClearTelemetry, DeleteAllData, DeleteSiteData};
use paperclip_platform as platform;
use web_sys::{HtmlElement, HtmlInputElement};
use yew::prelude::*;

/// Properties of [`DataControl`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// Called after data was deleted, so the other sections load again.
    pub on_deleted: Callback<()>,
}

fn focus(node: &NodeRef) {
    if let Some(el) = node.cast::<HtmlElement>() {
        let _ = el.focus();
    }
}

/// Deleting data.
#[function_component(DataControl)]
pub fn data_control(props: &Props) -> Html {
    let report = use_state(|| None::<Result<String, String>>);
    let confirming = use_state(|| false);
    let busy = use_state(|| false);
    let site_input = use_node_ref();
    let delete_all_button = use_node_ref();
    let cancel_button = use_node_ref();
    let was_confirming = use_mut_ref(|| false);
    {
        // Focus follows the confirmation step: to Cancel when it appears,
        // back to "Delete all data" when it goes.
        let (cancel_button, delete_all_button) = (cancel_button.clone(), delete_all_button.clone());
        use_effect_with(*confirming, move |confirming| {
            if *confirming {
                focus(&cancel_button);
            } else if was_confirming.replace(false) {
                focus(&delete_all_button);
            }
            if *confirming {
                *was_confirming.borrow_mut() = true;
            }
        });
    }
    let run = {
        let (report, busy, on_deleted) = (report.clone(), busy.clone(), props.on_deleted.clone());
        move |work: std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>>>>| {
            let (report, busy, on_deleted) = (report.clone(), busy.clone(), on_deleted.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let r = work.await;
                if r.is_ok() {
                    on_deleted.emit(());
                }
                report.set(Some(r));
                busy.set(false);
            });
        }
    };
    let delete_site = {
        let (run, site_input, report) = (run.clone(), site_input.clone(), report.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let typed = site_input
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            // The background validates too; this says it before asking.
            let site = match data::site(&typed) {
                Ok(site) => site,
                Err(e) => {
                    report.set(Some(Err(format!("Nothing was deleted: {e}."))));
                    return;
                }
            };
            run(Box::pin(async move {
                platform::call(DeleteSiteData { site })
                    .await
                    .map(|r| data::site_deleted_report(&r))
                    .map_err(|e| format!("Nothing was deleted: {}", e.message))
            }));
        })
    };
    let clear_telemetry = {
        let run = run.clone();
        Callback::from(move |_| {
            run(Box::pin(async move {
                platform::call(ClearTelemetry {})
                    .await
                    .map(|r| data::telemetry_cleared_report(&r))
                    .map_err(|e| e.message)
            }));
        })
    };
    let ask = {
        let (confirming, report) = (confirming.clone(), report.clone());
        Callback::from(move |_| {
            report.set(None);
            confirming.set(true);
        })
    };
    let cancel = {
        let confirming = confirming.clone();
        Callback::from(move |_| confirming.set(false))
    };
    let delete_all = {
        let (run, confirming) = (run.clone(), confirming.clone());
        Callback::from(move |_| {
            confirming.set(false);
            run(Box::pin(async move {
                platform::call(DeleteAllData { confirm: true })
                    .await
                    .map(|r| data::all_deleted_report(&r))
                    .map_err(|e| e.message)
            }));
        })
    };
    html! {
        <section class="delete-data" aria-label="Delete data">
            <h2>{ "Delete data" }</h2>
            <form class="delete-site" onsubmit={delete_site}>
                <label for="delete-site">{ "Delete a site's data (its conversations, cached pages and answers, and where Clippy sits there):" }</label>
                <input id="delete-site" ref={site_input} type="text" inputmode="url"
                    placeholder="https://example.com" autocomplete="off" />
                <button type="submit" disabled={*busy}>{ "Delete this site's data" }</button>
            </form>
            <p>
                <button type="button" onclick={clear_telemetry} disabled={*busy}>{ "Clear telemetry" }</button>
                { " Deletes stored telemetry and telemetry waiting to be sent; the export settings stay." }
            </p>
            if *confirming {
                <div class="confirm-delete" role="group" aria-label="Confirm deleting all data">
                    <p>{ "This deletes every conversation, cached page and answer, provider and its API key, preference and setting, and all telemetry. Paperclip will be as freshly installed." }</p>
                    <button type="button" class="danger" onclick={delete_all}>{ "Delete everything — this cannot be undone" }</button>
                    { " " }
                    <button type="button" ref={cancel_button} onclick={cancel}>{ "Cancel" }</button>
                </div>
            } else {
                <p>
                    <button type="button" class="danger" ref={delete_all_button} onclick={ask} disabled={*busy}>{ "Delete all data" }</button>
                </p>
            }
            { paperclip_ui::status_line(&report) }
        </section>
    }
}
