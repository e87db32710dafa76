//! The toolbar popup: a one-line "Ask Clippy" field (the question is asked
//! in the agent on the page), "Ask Clippy on this page", who answers now
//! (provider, breaker, last latency; or offline answers only), "Clippy on
//! this site" (on / never), a storage warning, and the recent
//! conversations, each opening in its site's tab.

use paperclip_core::activation::{self, Access, TabInfo};
use paperclip_core::protocol::{
    ActivateTab, Arrival, ConversationList, GetPopupStatus, ListConversations, PopupStatus,
    SetSiteAccess, Topic, MAX_QUESTION_CHARS,
};
use paperclip_platform as platform;
use paperclip_ui::{Animation, Character, ConversationTable, ErrorBoundary};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The tab "Ask Clippy on this page" means, and this page's own tab when it
/// is in one (a popup page opened in a window of its own, not the toolbar
/// popup). A page the browser keeps extensions off is refused here, with
/// the reason, when its URL is known.
async fn target_tab() -> Result<(TabInfo, Option<TabInfo>), String> {
    let own = platform::tabs::current().await?;
    let candidates = match own {
        None => {
            platform::tabs::query(&[("active", true.into()), ("currentWindow", true.into())])
                .await?
        }
        Some(_) => {
            platform::tabs::query(&[("active", true.into()), ("windowType", "normal".into())])
                .await?
        }
    };
    let tab = activation::target(own.as_ref(), &candidates).map_err(|e| e.to_string())?;
    if let Some(url) = tab.url.as_deref() {
        if let Access::Restricted(_) = activation::page_access(url) {
            return Err(activation::refusal(Some(url), ""));
        }
    }
    Ok((tab, own))
}

/// Shows the agent on the page the user means (asking `then`'s question or
/// opening its conversation there), then closes the popup (or the popup
/// page's own tab).
async fn show_agent(then: Option<Arrival>) -> Result<(), String> {
    let (tab, own) = target_tab().await?;
    platform::call(ActivateTab {
        tab_id: tab.id,
        then,
    })
    .await
    .map_err(|e| e.message)?;
    close_popup(own).await
}

/// Closes the toolbar popup, or the popup page's own tab `own`.
async fn close_popup(own: Option<TabInfo>) -> Result<(), String> {
    match own {
        Some(own) => platform::tabs::remove(own.id).await?,
        None => {
            if let Some(w) = web_sys::window() {
                let _ = w.close();
            }
        }
    }
    Ok(())
}

/// Opens the agent for PDF `url` in an extension page of its own (the
/// browsers' PDF viewers let no extension script in), after the user
/// allowed access to its site (`asked`: the request made inside the
/// click); then closes the popup (or the popup page's own tab).
async fn open_pdf(
    url: String,
    asked: Option<Result<js_sys::Promise, String>>,
) -> Result<(), String> {
    if !platform::consent::granted_after(asked).await? {
        return Err(
            "Clippy needs access to the PDF's site to read it: allow it when the browser asks."
                .into(),
        );
    }
    let (tab, own) = target_tab().await?;
    let mut page = format!(
        "{}{}?src={}",
        platform::base_url(),
        paperclip_core::pdf::PDF_PAGE,
        String::from(js_sys::encode_uri_component(&url))
    );
    if tab.incognito {
        // Chrome cannot show an extension's page in a private window (the
        // extension spans both): the page opens in a normal one, and says
        // it is private, so that nothing of it is kept.
        page.push_str("&private=1");
        platform::tabs::create(&page).await?;
    } else {
        platform::tabs::create_next_to(&page, &tab).await?;
    }
    close_popup(own).await
}

/// The PDF the tab the popup is over shows, when it does.
async fn target_pdf() -> Option<String> {
    let (tab, _) = target_tab().await.ok()?;
    let url = tab.url?;
    paperclip_core::pdf::looks_like_pdf(&url)
        .then(|| paperclip_core::pdf::document_url(&url).ok())
        .flatten()
}

/// The site (origin) of the tab the popup is over, when it is a web page.
async fn target_site() -> Option<String> {
    let (tab, _) = target_tab().await.ok()?;
    let origin = web_sys::Url::new(tab.url.as_deref()?).ok()?.origin();
    (origin.starts_with("http://") || origin.starts_with("https://")).then_some(origin)
}

/// What the status line says about who answers.
fn answering_text(status: &PopupStatus) -> String {
    match &status.answering {
        None => "Offline answers only: no provider answers now. Set one up in Options.".into(),
        Some(a) => {
            let breaker = match a.breaker.as_str() {
                "closed" => "working",
                "half_open" => "being tested again after failures",
                other => other,
            };
            let latency = a.last_latency_ms.map_or(String::new(), |ms| {
                format!(" · last answer started in {ms} ms")
            });
            format!("{} answers now · {breaker}{latency}", a.provider)
        }
    }
}

#[function_component(Popup)]
pub fn popup() -> Html {
    let (list, _) = paperclip_ui::use_rpc_live(
        ListConversations {
            limit: 20,
            ..Default::default()
        },
        |l: ConversationList| l,
        &[Topic::Conversations],
    );
    let status = use_state(|| None::<PopupStatus>);
    let pdf = use_state(|| None::<String>);
    let error = use_state(String::new);
    let question = use_node_ref();
    let load_status: paperclip_ui::Reload = {
        let status = status.clone();
        std::rc::Rc::new(move || {
            let status = status.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let site = target_site().await;
                if let Ok(s) = platform::call(GetPopupStatus { site }).await {
                    status.set(Some(s));
                }
            });
        })
    };
    paperclip_ui::use_changes(
        &[
            Topic::Providers,
            Topic::Preferences,
            Topic::Storage,
            Topic::Conversations,
        ],
        load_status.clone(),
    );
    {
        let load_status = load_status.clone();
        let pdf = pdf.clone();
        use_effect_with((), move |_| {
            load_status();
            wasm_bindgen_futures::spawn_local(async move {
                // A PDF viewer's tab may not have its address yet while the
                // viewer starts: look again for a moment.
                for _ in 0..10 {
                    if let Some(url) = target_pdf().await {
                        pdf.set(Some(url));
                        return;
                    }
                    platform::timer::sleep(300).await;
                }
            });
        });
    }
    let ask_pdf = {
        let (pdf, error) = (pdf.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(url) = (*pdf).clone() else {
                return;
            };
            // Asked inside the click: the browser shows its prompt only then.
            let origin = web_sys::Url::new(&url)
                .map(|u| u.origin())
                .unwrap_or_default();
            let asked = platform::consent::request(&[format!("{origin}/*")], &[]);
            let error = error.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = open_pdf(url, asked).await {
                    error.set(e);
                }
            });
        })
    };
    let go = {
        let error = error.clone();
        Callback::from(move |then: Option<Arrival>| {
            let error = error.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = show_agent(then).await {
                    error.set(e);
                }
            });
        })
    };
    let ask = {
        let (go, question, error) = (go.clone(), question.clone(), error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let text = question
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            if text.trim().is_empty() {
                error.set("Type a question first.".into());
                return;
            }
            go.emit(Some(Arrival::Ask { question: text }));
        })
    };
    let activate = go.reform(|_: MouseEvent| None);
    let open = go.reform(|conversation_id: String| Some(Arrival::Open { conversation_id }));
    let set_site = {
        let (status, error, load_status) = (status.clone(), error.clone(), load_status.clone());
        Callback::from(move |never: bool| {
            let Some(site) = status.as_ref().and_then(|s| s.site.clone()) else {
                return;
            };
            let (error, load_status) = (error.clone(), load_status.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match platform::call(SetSiteAccess { site, never }).await {
                    Ok(_) => load_status(),
                    Err(e) => error.set(e.message),
                }
            });
        })
    };
    let allowed = status.as_ref().is_none_or(|s| s.site_allowed);
    html! {
        <main class="popup">
            <header>
                <Character animation={Animation::Idle(paperclip_core::character::IdleVariant::Bob)} />
                <h1>{ "Paperclip" }</h1>
            </header>
            <form class="popup-ask" onsubmit={ask}>
                <label for="popup-question">{ "Ask Clippy" }</label>
                <div class="row">
                    <input id="popup-question" ref={question} type="text" autocomplete="off"
                        maxlength={MAX_QUESTION_CHARS.to_string()} disabled={!allowed}
                        placeholder="A question about this page" />
                    <button type="submit" disabled={!allowed}>{ "Ask" }</button>
                </div>
            </form>
            if pdf.is_some() {
                <button class="primary ask-pdf" onclick={ask_pdf} disabled={!allowed}>{ "Ask about this PDF" }</button>
                <p class="notice pdf-hint">{ "The browser's PDF viewer lets no extension in: Clippy opens in a tab next to it and reads the document's text." }</p>
            } else {
                <button class="primary" onclick={activate} disabled={!allowed}>{ "Ask Clippy on this page" }</button>
            }
            if !error.is_empty() {
                <p class="error" role="alert">{ (*error).clone() }</p>
            }
            <ErrorBoundary name="popup.status">
            if let Some(s) = &*status {
                <p class="provider-status" role="status">{ answering_text(s) }</p>
                if let Some(site) = &s.site {
                    <fieldset class="site-access">
                        <legend>{ format!("Clippy on this site ({site})") }</legend>
                        <label>
                            <input type="radio" name="site-access" value="on" checked={s.site_allowed}
                                onchange={set_site.reform(|_| false)} />
                            { "On" }
                        </label>
                        <label>
                            <input type="radio" name="site-access" value="never" checked={!s.site_allowed}
                                onchange={set_site.reform(|_| true)} />
                            { "Never" }
                        </label>
                    </fieldset>
                }
                if !s.site_allowed {
                    <p class="notice" role="status">{ "Clippy is off on this site. Set it to On above to use it here." }</p>
                }
                if let Some(warning) = &s.storage_warning {
                    <p class="notice storage-warning" role="status">{ warning.clone() }</p>
                }
                if let Some(warning) = &s.budget_warning {
                    <p class="notice budget-warning" role="status">{ warning.clone() }</p>
                }
            }
            </ErrorBoundary>
            <h2>{ "Recent conversations" }</h2>
            <ErrorBoundary name="popup.recent">
            { match &*list {
                None => html! { <p aria-busy="true">{ "Loading…" }</p> },
                Some(Err(e)) => html! { <p class="error" role="alert">{ e.clone() }</p> },
                Some(Ok(l)) => html! { <ConversationTable items={l.items.clone()} on_select={open} /> },
            } }
            </ErrorBoundary>
            <ErrorBoundary name="popup.usage"><crate::usage::PopupUsage /></ErrorBoundary>
        </main>
    }
}
