//! The devtools panel (`panel.html`, created by `devtools.js` with
//! `devtools.panels.create`): the stored conversations, from the background,
//! and the messages of the one selected.
#![forbid(unsafe_code)]

use paperclip_core::conversation::{Conversation, Role};
use paperclip_core::protocol::{
    ConversationList, ExportMarkdown, GetConversation, ListConversations,
};
use paperclip_platform as platform;
use paperclip_ui::{format_time, ConversationTable};
use wasm_bindgen::prelude::*;
use yew::prelude::*;

fn markdown(id: String) -> Callback<MouseEvent> {
    Callback::from(move |_| {
        let id = id.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match platform::call(ExportMarkdown { id }).await {
                Ok(m) => {
                    let _ = paperclip_ui::download(&m.filename, &m.markdown, "text/markdown");
                }
                Err(e) => web_sys::console::error_1(&e.message.into()),
            }
        });
    })
}

#[function_component(Panel)]
fn panel() -> Html {
    let list = use_state(|| None::<Result<ConversationList, String>>);
    let selected = use_state(|| None::<Conversation>);
    let refresh = {
        let list = list.clone();
        Callback::from(move |_: ()| {
            let list = list.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let r = platform::call(ListConversations {
                    limit: 200,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.message);
                list.set(Some(r));
            });
        })
    };
    {
        let refresh = refresh.clone();
        use_effect_with((), move |_| refresh.emit(()));
    }
    let on_select = {
        let selected = selected.clone();
        Callback::from(move |id: String| {
            let selected = selected.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(d) = platform::call(GetConversation { id }).await {
                    selected.set(d.conversation);
                }
            });
        })
    };
    html! {
        <main class="panel">
            <header>
                <h1>{ "Paperclip · Storage" }</h1>
                <button onclick={refresh.reform(|_| ())}>{ "Refresh" }</button>
            </header>
            { match &*list {
                None => html! { <p aria-busy="true">{ "Loading…" }</p> },
                Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
                Some(Ok(l)) => html! {
                    <>
                        <p class="meta">{ format!("{} conversations · {}", l.items.len(),
                            if l.persistent { "IndexedDB" } else { "memory only (IndexedDB unavailable)" }) }</p>
                        <ConversationTable items={l.items.clone()} on_select={on_select} />
                    </>
                },
            } }
            if let Some(c) = &*selected {
                <section class="detail" aria-label="Conversation detail">
                    <h2>{ c.title.clone() }</h2>
                    <button onclick={markdown(c.id.clone())}>{ "Export as Markdown" }</button>
                    <p class="meta">{ format!("{} · created {}", c.site, format_time(c.created_ms)) }</p>
                    <ol>
                    { for c.messages.iter().map(|m| html! {
                        <li class={if m.role == Role::User { "user" } else { "assistant" }}>
                            <span class="who">{ if m.role == Role::User { "User" } else { "Clippy" } }</span>
                            <pre>{ m.text.clone() }</pre>
                        </li>
                    }) }
                    </ol>
                </section>
            }
        </main>
    }
}

/// Mounts the panel.
#[wasm_bindgen(start)]
pub fn main() {
    console_error_panic_hook::set_once();
    yew::Renderer::<Panel>::new().render();
}
