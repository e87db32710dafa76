//! The options page's AI providers: the configured list (with *Test
//! connection* and *Remove*) and a form to add one. Host access to the
//! provider's origin is requested here, on the user's click, before the
//! provider is saved (`optional_host_permissions`).

use js_sys::Promise;
use paperclip_core::protocol::{
    DeleteProvider, KeyUpdate, ListProviders, SaveProvider, SetProviderOrder, TestConnection,
};
use paperclip_core::provider::{ProviderKind, ProviderSettings};
use paperclip_platform as platform;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Asks, in one prompt, for access to the provider's origin and (in
/// Firefox) for consent to send what asking it sends
/// (`core::consent::for_provider`); must run inside the click.
fn request_access(settings: &ProviderSettings) -> Option<Result<Promise, String>> {
    let origins = match settings.kind.is_http() {
        true => match web_sys::Url::new(&settings.base_url) {
            Ok(url) => vec![format!("{}/*", url.origin())],
            Err(_) => return Some(Err(format!("{:?} is not a URL", settings.base_url))),
        },
        false => Vec::new(),
    };
    platform::consent::request(&origins, &paperclip_core::consent::for_provider(settings))
}

fn value(node: &NodeRef) -> String {
    node.cast::<HtmlInputElement>()
        .map(|i| i.value())
        .unwrap_or_default()
}

/// The providers section.
#[function_component(ProvidersSection)]
pub fn providers_section() -> Html {
    let (list, reload) = paperclip_ui::use_rpc_live(
        ListProviders {},
        |l: paperclip_core::protocol::ProviderList| l.providers,
        &[paperclip_core::protocol::Topic::Providers],
    );
    let status = use_state(|| None::<Result<String, String>>);
    let kind = use_state(|| ProviderKind::OpenAiCompatible);
    let (label, base, model, key) = (
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
    );

    let on_kind = {
        let kind = kind.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            kind.set(match select.value().as_str() {
                "anthropic" => ProviderKind::Anthropic,
                "chrome_built_in" => ProviderKind::ChromeBuiltIn,
                _ => ProviderKind::OpenAiCompatible,
            });
        })
    };
    let on_save = {
        let (status, reload, kind) = (status.clone(), reload.clone(), *kind);
        let (label, base, model, key) = (label.clone(), base.clone(), model.clone(), key.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let http = kind.is_http();
            let base_url = if http { value(&base) } else { String::new() };
            let model_id = if http { value(&model) } else { String::new() };
            let mut settings = ProviderSettings::new(
                &format!("p{}", paperclip_platform::clock::now_ms() as u64),
                kind,
                &base_url,
                &model_id,
            );
            settings.label = value(&label);
            let key_text = if http { value(&key) } else { String::new() };
            let key = if key_text.trim().is_empty() {
                KeyUpdate::Keep
            } else {
                KeyUpdate::Set { key: key_text }
            };
            // Asked synchronously, inside the click: browsers require it.
            // The built-in model needs no host access.
            let access = request_access(&settings);
            let host_only = platform::consent::declared().is_empty()
                || paperclip_core::consent::for_provider(&settings).is_empty();
            let (status, reload) = (status.clone(), reload.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match platform::consent::granted_after(access).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let what = if host_only {
                            "access to the provider's address to talk to it"
                        } else {
                            "access to the provider's address, and Firefox's consent to send it the page's content and address (website content, browsing activity), to ask it"
                        };
                        status.set(Some(Err(format!(
                            "Paperclip needs {what}; nothing was saved."
                        ))));
                        return;
                    }
                    Err(e) => {
                        status.set(Some(Err(e)));
                        return;
                    }
                }
                let r = platform::call(SaveProvider { settings, key })
                    .await
                    .map(|s| format!("Saved {}.", s.provider.settings.label))
                    .map_err(|e| e.message);
                status.set(Some(r));
                reload();
            });
        })
    };
    let test = {
        let status = status.clone();
        Callback::from(move |id: String| {
            let status = status.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let r = platform::call(TestConnection { id })
                    .await
                    .map(|t| {
                        let r = t.report;
                        format!(
                            "Connected in {} ms. Models: {}{}",
                            r.latency_ms,
                            r.models.join(", "),
                            if r.model_listed {
                                ""
                            } else {
                                " (the configured model is not among them)"
                            }
                        )
                    })
                    .map_err(|e| e.message);
                status.set(Some(r));
            });
        })
    };
    let remove = {
        let (status, reload) = (status.clone(), reload.clone());
        Callback::from(move |id: String| {
            let (status, reload) = (status.clone(), reload.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = platform::call(DeleteProvider { id })
                    .await
                    .map(|_| "Removed.".to_string())
                    .map_err(|e| e.message);
                status.set(Some(r));
                reload();
            });
        })
    };
    let move_up = {
        let (status, reload, list) = (status.clone(), reload.clone(), list.clone());
        Callback::from(move |index: usize| {
            let Some(Ok(l)) = &*list else { return };
            let mut ids: Vec<String> = l.iter().map(|p| p.settings.id.clone()).collect();
            if index == 0 || index >= ids.len() {
                return;
            }
            ids.swap(index - 1, index);
            let (status, reload) = (status.clone(), reload.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let r = platform::call(SetProviderOrder { ids })
                    .await
                    .map(|_| "Order saved.".to_string())
                    .map_err(|e| e.message);
                status.set(Some(r));
                reload();
            });
        })
    };
    let rows = match &*list {
        None => html! { <p aria-busy="true">{ "Loading…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Some(Ok(l)) if l.is_empty() => html! {
            <p>{ "None yet: Clippy answers with the built-in offline provider, from the page itself." }</p>
        },
        Some(Ok(l)) => html! {
            <div class="table-scroll">
            <table class="providers" aria-label="Providers">
                <thead><tr><th>{ "Role" }</th><th>{ "Name" }</th><th>{ "Kind" }</th><th>{ "Address" }</th><th>{ "Model" }</th><th>{ "Key" }</th><th></th></tr></thead>
                <tbody>
                { for l.iter().enumerate().map(|(i, p)| {
                    let s = &p.settings;
                    let (id1, id2) = (s.id.clone(), s.id.clone());
                    let (test, remove, move_up) = (test.clone(), remove.clone(), move_up.clone());
                    let role = match i {
                        0 => "primary",
                        1 => "fallback",
                        _ => "unused",
                    };
                    html! {
                        <tr data-role={role}>
                            <td>{ role }</td>
                            <td>
                                { s.label.clone() }
                                if let Some(problem) = &p.problem {
                                    <span class="problem" role="note">{ format!(" — not used: {problem}") }</span>
                                }
                            </td>
                            <td>{ s.kind.as_str() }</td>
                            <td class="long">{ s.base_url.clone() }</td>
                            <td class="long">{ s.model.clone() }</td>
                            <td>{ if p.has_key { "set" } else { "none" } }</td>
                            <td>
                                <button onclick={Callback::from(move |_| test.emit(id1.clone()))}>{ "Test connection" }</button>
                                <button onclick={Callback::from(move |_| remove.emit(id2.clone()))}>{ "Remove" }</button>
                                if i > 0 {
                                    <button aria-label={format!("Move {} up", s.label)} onclick={Callback::from(move |_| move_up.emit(i))}>{ "↑" }</button>
                                }
                            </td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            </div>
        },
    };
    html! {
        <section class="providers">
            <h2>{ "AI providers" }</h2>
            { rows }
            <form class="add-provider" onsubmit={on_save}>
                <fieldset>
                    <legend>{ "Add a provider" }</legend>
                    <div class="pref">
                        <label for="provider-kind">{ "Kind" }</label>
                        <select id="provider-kind" onchange={on_kind}>
                            <option value="openai_compatible" selected=true>{ "OpenAI-compatible (OpenAI, Ollama, LM Studio, llama.cpp, OpenRouter)" }</option>
                            <option value="anthropic">{ "Anthropic" }</option>
                            <option value="chrome_built_in">{ "Chrome built-in AI (Gemini Nano, on this device)" }</option>
                        </select>
                    </div>
                    <div class="pref"><label for="provider-label">{ "Name" }</label><input id="provider-label" ref={label} required=true placeholder="My Ollama" /></div>
                    if kind.is_http() {
                        <div class="pref"><label for="provider-url">{ "Address" }</label><input id="provider-url" ref={base} type="url" required=true placeholder="http://localhost:11434" /></div>
                        <div class="pref"><label for="provider-model">{ "Model" }</label><input id="provider-model" ref={model} required=true placeholder="llama3.2" /></div>
                        <div class="pref"><label for="provider-key">{ "API key (stored in this browser only)" }</label><input id="provider-key" ref={key} type="password" autocomplete="off" /></div>
                    } else {
                        <p class="meta">{ "Runs on this device: nothing leaves the browser. Needs Chrome 138 or later on a supported computer; \"Test connection\" says whether it is available here." }</p>
                    }
                    <button type="submit">{ "Save provider" }</button>
                </fieldset>
            </form>
            { paperclip_ui::status_line(&status) }
        </section>
    }
}
