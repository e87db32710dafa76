//! The options page's *Find local models*: asks for access to exactly the
//! local servers' addresses (Ollama, LM Studio, llama.cpp) on the click,
//! then lists what each one says: its models (one added as an
//! OpenAI-compatible provider with *Add*), that it is not running, or
//! that it refuses the extension and how to allow it.

use paperclip_core::protocol::{FindLocalModels, KeyUpdate, SaveProvider};
use paperclip_core::provider::local::{Found, Server, ServerState};
use paperclip_core::provider::{ProviderKind, ProviderSettings};
use paperclip_platform as platform;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// A provider label for `model` of `server`, within the label's limit.
fn label(server: Server, model: &str) -> String {
    let full = format!("{} {model}", server.name());
    full.chars().take(60).collect()
}

#[derive(Properties, PartialEq)]
struct RowProps {
    found: Found,
    on_add: Callback<(Server, String)>,
}

#[function_component(ServerRow)]
fn server_row(p: &RowProps) -> Html {
    let f = &p.found;
    let select = use_node_ref();
    let id = format!(
        "local-model-{}",
        serde_json::to_value(f.server)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    let state = match &f.state {
        ServerState::Running { .. } => "running",
        ServerState::NotRunning => "not-running",
        ServerState::Refused { .. } => "refused",
        ServerState::Unreadable => "unreadable",
    };
    let add = match &f.state {
        ServerState::Running { models } if !models.is_empty() => {
            let (server, select2, on_add) = (f.server, select.clone(), p.on_add.clone());
            let onclick = Callback::from(move |_| {
                if let Some(s) = select2.cast::<HtmlSelectElement>() {
                    on_add.emit((server, s.value()));
                }
            });
            html! {
                <div class="pref">
                    <label for={id.clone()}>{ format!("{} model", f.server.name()) }</label>
                    <select id={id.clone()} ref={select}>
                        { for models.iter().map(|m| html! { <option value={m.clone()}>{ m.clone() }</option> }) }
                    </select>
                    <button type="button" aria-label={format!("Add the {} model", f.server.name())} {onclick}>{ "Add" }</button>
                </div>
            }
        }
        _ => html! {},
    };
    html! {
        <li data-server={id} data-state={state}>
            <p class={if state == "refused" { "problem" } else { "" }}>{ f.message.clone() }</p>
            { add }
        </li>
    }
}

/// The section.
#[function_component(LocalModelsSection)]
pub fn local_models_section() -> Html {
    let found = use_state(|| None::<Result<Vec<Found>, String>>);
    let busy = use_state(|| false);
    let status = use_state(|| None::<Result<String, String>>);
    let on_find = {
        let (found, busy) = (found.clone(), busy.clone());
        Callback::from(move |_| {
            // Asked inside the click: access to these three addresses only.
            let origins: Vec<String> = Server::ALL.iter().map(|s| s.origin_pattern()).collect();
            let asked = platform::consent::request(&origins, &[]);
            let (found, busy) = (found.clone(), busy.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let r = match platform::consent::granted_after(asked).await {
                    Ok(true) => platform::call(FindLocalModels {})
                        .await
                        .map(|f| f.servers)
                        .map_err(|e| e.message),
                    Ok(false) => Err("Paperclip needs access to the local servers' addresses (127.0.0.1 ports 11434, 1234 and 8080) to look for them; nothing was looked for.".into()),
                    Err(e) => Err(e),
                };
                found.set(Some(r));
                busy.set(false);
            });
        })
    };
    let on_add = {
        let status = status.clone();
        Callback::from(move |(server, model): (Server, String)| {
            let mut settings = ProviderSettings::new(
                &format!("p{}", platform::clock::now_ms() as u64),
                ProviderKind::OpenAiCompatible,
                server.base_url(),
                &model,
            );
            settings.label = label(server, &model);
            // Access to the address was granted by "Find local models";
            // asked again inside this click in case it was taken back.
            let asked = platform::consent::request(&[server.origin_pattern()], &[]);
            let status = status.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let r = match platform::consent::granted_after(asked).await {
                    Ok(true) => platform::call(SaveProvider {
                        settings,
                        key: KeyUpdate::Keep,
                    })
                    .await
                    .map(|s| format!("Added {}.", s.provider.settings.label))
                    .map_err(|e| e.message),
                    Ok(false) => Err(
                        "Paperclip needs access to the server's address; nothing was added.".into(),
                    ),
                    Err(e) => Err(e),
                };
                status.set(Some(r));
            });
        })
    };
    let body = match &*found {
        None => html! {},
        Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
        Some(Ok(list)) => html! {
            <ul class="local-servers" aria-label="Local model servers">
                { for list.iter().map(|f| html! { <ServerRow found={f.clone()} on_add={on_add.clone()} /> }) }
            </ul>
        },
    };
    html! {
        <section class="local-models">
            <h2>{ "Local models" }</h2>
            <p>{ "Models on this computer answer without anything leaving it. Paperclip looks for Ollama (port 11434), LM Studio (1234) and llama.cpp's server (8080) on 127.0.0.1, asking for access to exactly those addresses." }</p>
            <button type="button" onclick={on_find} disabled={*busy}>{ if *busy { "Looking…" } else { "Find local models" } }</button>
            { body }
            { paperclip_ui::status_line(&status) }
        </section>
    }
}
