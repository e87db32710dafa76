//! The devtools panel (`panel.html`, created by `devtools.js` with
//! `devtools.panels.create`): the storage inspector and the live telemetry
//! dashboard ([`telemetry`]). Stored conversations
//! (searchable, filtered by site and tag, paged with the background's
//! cursors), the messages of the one selected, and storage health with the
//! quarantine.
#![forbid(unsafe_code)]

mod asks;
mod bundle;
mod dashboard;
mod errors;
mod inspect;
mod notes;
mod saved;
mod telemetry;
mod timeline;

use paperclip_core::conversation::{Conversation, ConversationSummary, Role};
use paperclip_core::protocol::{
    ConversationList, ExportMarkdown, GetConversation, ListConversations,
};
use paperclip_core::query::Filter;
use paperclip_platform as platform;
use paperclip_ui::{format_time, ConversationTable, ErrorBoundary, StorageSection};
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

/// Page size of the conversation list.
const PAGE: u32 = 50;

/// What the list shows: the filter, the items loaded so far, and the cursor
/// of the next page.
#[derive(Clone, PartialEq, Default)]
struct Listing {
    filter: Filter,
    items: Vec<ConversationSummary>,
    next: Option<String>,
    persistent: bool,
}

async fn fetch(filter: Filter, cursor: Option<String>) -> Result<ConversationList, String> {
    platform::call(ListConversations {
        limit: PAGE,
        filter,
        cursor,
    })
    .await
    .map_err(|e| e.message)
}

fn text_of(e: &InputEvent) -> Option<String> {
    let input: web_sys::HtmlInputElement = e.target_unchecked_into();
    let v = input.value();
    (!v.trim().is_empty()).then(|| v.trim().to_string())
}

/// The panel's tabs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tab {
    Asks,
    Dashboard,
    Errors,
    Timeline,
    Storage,
}

impl Tab {
    const ALL: [Tab; 5] = [
        Tab::Asks,
        Tab::Dashboard,
        Tab::Errors,
        Tab::Timeline,
        Tab::Storage,
    ];

    fn name(self) -> &'static str {
        match self {
            Tab::Asks => "Asks",
            Tab::Dashboard => "Dashboard",
            Tab::Errors => "Errors",
            Tab::Timeline => "Timeline",
            Tab::Storage => "Storage",
        }
    }

    fn id(self) -> String {
        format!("tab-{}", self.name().to_lowercase())
    }
}

/// Where the panel keeps the tab last chosen (in this extension's
/// `localStorage`), so that it opens there again.
const TAB_KEY: &str = "paperclip.panel.tab";

fn saved_tab() -> Tab {
    let saved = saved::get(TAB_KEY);
    Tab::ALL
        .into_iter()
        .find(|t| Some(t.name()) == saved.as_deref())
        .unwrap_or(Tab::Storage)
}

/// The tab list: click a tab, or move with ←/→, Home and End.
#[derive(Properties, PartialEq)]
struct TabsProps {
    tab: Tab,
    on_choose: Callback<Tab>,
}

#[function_component(Tabs)]
fn tabs(props: &TabsProps) -> Html {
    let tab = props.tab;
    {
        // The chosen tab takes the focus when the keys moved it.
        use_effect_with(tab, move |tab| {
            let document = web_sys::window().and_then(|w| w.document());
            let on_a_tab = document
                .as_ref()
                .and_then(|d| d.active_element())
                .is_some_and(|e| e.get_attribute("role").as_deref() == Some("tab"));
            if on_a_tab {
                if let Some(el) = document.and_then(|d| d.get_element_by_id(&tab.id())) {
                    let _ = el.unchecked_into::<web_sys::HtmlElement>().focus();
                }
            }
        });
    }
    let on_key = {
        let on_choose = props.on_choose.clone();
        Callback::from(move |e: KeyboardEvent| {
            let at = Tab::ALL.iter().position(|t| *t == tab).unwrap_or(0);
            let n = Tab::ALL.len();
            let next = match e.key().as_str() {
                "ArrowRight" => (at + 1) % n,
                "ArrowLeft" => (at + n - 1) % n,
                "Home" => 0,
                "End" => n - 1,
                _ => return,
            };
            e.prevent_default();
            on_choose.emit(Tab::ALL[next]);
        })
    };
    html! {
        <nav class="tabs" role="tablist" aria-label="Panel" onkeydown={on_key}>
            { for Tab::ALL.into_iter().map(|t| {
                let on_choose = props.on_choose.clone();
                html! {
                    <button type="button" role="tab" id={t.id()} aria-selected={(t == tab).to_string()}
                        aria-controls="panel-tab" tabindex={if t == tab { "0" } else { "-1" }}
                        onclick={Callback::from(move |_| on_choose.emit(t))}>{ t.name() }</button>
                }
            }) }
        </nav>
    }
}

#[function_component(Panel)]
fn panel() -> Html {
    let tab = use_state(saved_tab);
    let on_choose = {
        let tab = tab.clone();
        Callback::from(move |t: Tab| {
            saved::set(TAB_KEY, t.name());
            tab.set(t);
        })
    };
    let listing = use_state(|| None::<Result<Listing, String>>);
    let filter = use_state(Filter::default);
    let selected = use_state(|| None::<Conversation>);
    let refresh = {
        let listing = listing.clone();
        let filter = filter.clone();
        Callback::from(move |_: ()| {
            let listing = listing.clone();
            let filter = (*filter).clone();
            wasm_bindgen_futures::spawn_local(async move {
                let r = fetch(filter.clone(), None).await.map(|l| Listing {
                    filter,
                    items: l.items,
                    next: l.next,
                    persistent: l.persistent,
                });
                listing.set(Some(r));
            });
        })
    };
    {
        let refresh = refresh.clone();
        use_effect_with((*filter).clone(), move |_| refresh.emit(()));
    }
    {
        let refresh = refresh.clone();
        paperclip_ui::use_changes(
            &[paperclip_core::protocol::Topic::Conversations],
            std::rc::Rc::new(move || refresh.emit(())),
        );
    }
    let more = {
        let listing = listing.clone();
        Callback::from(move |_: MouseEvent| {
            let Some(Ok(current)) = (*listing).clone() else {
                return;
            };
            let listing = listing.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let r = fetch(current.filter.clone(), current.next.clone())
                    .await
                    .map(|l| {
                        let mut items = current.items.clone();
                        items.extend(l.items);
                        Listing {
                            items,
                            next: l.next,
                            ..current
                        }
                    });
                listing.set(Some(r));
            });
        })
    };
    let on_search = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            filter.set(Filter {
                text: text_of(&e),
                ..(*filter).clone()
            })
        })
    };
    let on_site = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            filter.set(Filter {
                site: text_of(&e),
                ..(*filter).clone()
            })
        })
    };
    let on_tag = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            filter.set(Filter {
                tag: text_of(&e).map(|t| t.to_lowercase()),
                ..(*filter).clone()
            })
        })
    };
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
                <h1>{ "Paperclip · Storage and telemetry" }</h1>
                <Tabs tab={*tab} {on_choose} />
            </header>
            <div id="panel-tab" role="tabpanel" aria-labelledby={tab.id()}>
            if *tab == Tab::Storage {
            <button onclick={refresh.reform(|_| ())}>{ "Refresh" }</button>
            <ErrorBoundary name="panel.conversations">
            <div class="filters" role="search">
                <input type="search" aria-label="Search conversations" placeholder="Search titles and messages" oninput={on_search} />
                <input type="text" aria-label="Site" placeholder="https://site" oninput={on_site} />
                <input type="text" aria-label="Tag" placeholder="tag" oninput={on_tag} />
            </div>
            { match &*listing {
                None => html! { <p aria-busy="true">{ "Loading…" }</p> },
                Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
                Some(Ok(l)) => html! {
                    <>
                        <p class="meta">{ format!("{} conversations shown{} · {}", l.items.len(),
                            if l.next.is_some() { " (more available)" } else { "" },
                            if l.persistent { "IndexedDB" } else { "memory only (IndexedDB unavailable)" }) }</p>
                        <ConversationTable items={l.items.clone()} on_select={on_select} usage=true />
                        if l.next.is_some() {
                            <p><button onclick={more}>{ "Load more" }</button></p>
                        }
                    </>
                },
            } }
            </ErrorBoundary>
            <ErrorBoundary name="panel.storage"><StorageSection /></ErrorBoundary>
            <ErrorBoundary name="panel.stores"><inspect::StoreChart /></ErrorBoundary>
            <ErrorBoundary name="panel.prefs"><inspect::PrefsInspector /></ErrorBoundary>
            <ErrorBoundary name="panel.cache"><inspect::CacheInspector /></ErrorBoundary>
            }
            { match *tab {
                Tab::Storage => html! {},
                other => {
                    let view = match other {
                        Tab::Asks => telemetry::View::Asks,
                        Tab::Dashboard => telemetry::View::Dashboard,
                        Tab::Errors => telemetry::View::Errors,
                        _ => telemetry::View::Timeline,
                    };
                    html! { <ErrorBoundary name="panel.telemetry"><telemetry::TelemetrySection {view} /></ErrorBoundary> }
                }
            } }
            if *tab == Tab::Storage {
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
            }
            </div>
        </main>
    }
}

/// Mounts the panel.
#[wasm_bindgen(start)]
pub fn main() {
    // Panics become error records in the background's telemetry.
    paperclip_ui::install_panic_hook("devtools");
    paperclip_ui::live::start();
    yew::Renderer::<Panel>::new().render();
}
