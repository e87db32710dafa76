//! Showing Clippy through the controls a user touches: the toolbar popup's
//! "Ask Clippy on this page" (clicked in the popup page, opened in a
//! popup window over the page's window: see `Browser::open_popup`), the
//! shortcut and the context menu (their listeners called as the browser
//! calls them: see `Browser::fire_listener`), and the README's "Using it"
//! walked through step by step.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::click_button;
use paperclip_e2e::{server::Server, Browser, Kind};
use serde_json::json;

in_both_browsers!(
    the_popup_shows_clippy_on_the_page_and_after_it_navigates,
    a_browser_page_gets_a_clear_message_in_the_popup,
    the_shortcut_and_the_context_menu_show_clippy,
    the_readme_walkthrough,
);

/// How many agents the current tab's page holds.
async fn agents(b: &Browser) -> Result<u64> {
    b.top().await?;
    let n = b
        .client
        .execute(
            "return document.querySelectorAll('paperclip-agent').length;",
            vec![],
        )
        .await?;
    Ok(n.as_u64().unwrap_or_default())
}

/// The popup's button shows the agent on the page and the popup closes;
/// the same on the next page after the tab navigated.
async fn the_popup_shows_clippy_on_the_page_and_after_it_navigates(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    ensure!(agents(&b).await? == 0, "an agent before activation");
    let refusal = b.ask_clippy_from_popup().await?;
    ensure!(refusal.is_none(), "the popup refused: {refusal:?}");
    b.enter_agent().await?;
    b.top().await?;
    ensure!(agents(&b).await? == 1, "not one agent");
    // The tab navigates (a strict-CSP page of the same site): the popup
    // shows Clippy there too.
    let next = server.url("/strict/");
    b.client.goto(&next).await?;
    ensure!(agents(&b).await? == 0, "the agent outlived the navigation");
    let refusal = b.ask_clippy_from_popup().await?;
    ensure!(refusal.is_none(), "the popup refused: {refusal:?}");
    b.enter_agent().await?;
    b.top().await?;
    ensure!(
        b.client.current_url().await?.as_str() == next,
        "the tab left {next}"
    );
    Ok(b)
}

/// A page where no extension may run gets the reason in the popup, which
/// stays open to show it; nothing is injected.
async fn a_browser_page_gets_a_clear_message_in_the_popup(
    b: Browser,
    _server: Server,
) -> Result<Browser> {
    let browser_page = match b.kind {
        Kind::Chromium => "chrome://version/",
        // Firefox "succeeds" in injecting into none of its frames there.
        Kind::Firefox => "about:support",
    };
    b.client.goto(browser_page).await?;
    let at = b.client.current_url().await?.to_string();
    ensure!(at == browser_page, "the tab is at {at}");
    let refusal = b.ask_clippy_from_popup().await?;
    let text = refusal.unwrap_or_default();
    ensure!(
        text.starts_with("Clippy can't run on this page: the browser keeps extensions off")
            && text.ends_with("Open a web page and try again."),
        "the popup said {text:?}"
    );
    ensure!(!text.contains("no active tab"), "{text}");
    Ok(b)
}

/// In a private window (with the add-on allowed there, as a user allows
/// it), Clippy answers and says that it keeps the conversation in memory
/// only; shown again, it still has it; nothing reaches the profile's
/// database (no conversation, no page context). Firefox only: the harness
/// cannot allow an unpacked extension in Chromium's incognito windows.
#[tokio::test(flavor = "multi_thread")]
async fn firefox_a_private_window_stores_nothing() -> Result<()> {
    crate::with_browser_prefs(
        Kind::Firefox,
        json!({"browser.privatebrowsing.autostart": true}),
        private_window,
    )
    .await
}

async fn private_window(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    let said = b.ask_clippy_from_popup().await?;
    ensure!(said.is_none(), "the popup said {said:?}");
    b.enter_agent().await?;
    let notice = b.text_of(".notice.private").await?.unwrap_or_default();
    ensure!(
        notice.contains("kept in memory only")
            && notice.contains("Nothing from this window is saved"),
        "the agent does not say that it keeps nothing: {notice:?}"
    );
    // It answers (offline here), reading the page as anywhere else.
    b.ask("What is this page about?").await?;
    let (answer, _) = b.wait_answer(0).await?;
    ensure!(!answer.is_empty(), "no answer");
    // Closed and shown again, it still has the conversation: in memory.
    click_button(&b, "Close Clippy").await?;
    b.wait_until(Duration::from_secs(10), "the agent to close", || async {
        Ok(agents(&b).await? == 0)
    })
    .await?;
    let said = b.ask_clippy_from_popup().await?;
    ensure!(said.is_none(), "the popup said {said:?}");
    b.enter_agent().await?;
    b.wait_until(Duration::from_secs(10), "the kept conversation", || async {
        Ok(b.messages().await?.len() == 2)
    })
    .await?;
    // Nothing reached the profile: no conversation, no page context.
    b.top().await?;
    let listed =
        paperclip_e2e::scenario::ok(&b, json!({"type": "ListConversations", "limit": 10})).await?;
    ensure!(
        listed["items"] == json!([]),
        "a conversation was stored: {listed}"
    );
    let status = paperclip_e2e::scenario::ok(&b, json!({"type": "GetStorageStatus"})).await?;
    ensure!(
        status["conversations"] == 0 && status["cache_entries"] == 0,
        "something was stored: {status}"
    );
    Ok(b)
}

/// Alt+Shift+K (`commands.onCommand` with the active tab) shows the agent;
/// "Explain selection with Clippy" (`contextMenus.onClicked`) shows it and
/// explains the selection; "Ask Clippy about selection" opens it ready for
/// a question about the selection.
async fn the_shortcut_and_the_context_menu_show_clippy(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    b.fire_listener("onCommand", json!(["activate-agent"]), &page)
        .await?;
    b.enter_agent().await?;
    click_button(&b, "Close Clippy").await?;
    b.wait_until(Duration::from_secs(10), "the agent to close", || async {
        Ok(agents(&b).await? == 0)
    })
    .await?;

    let selected = b.select_paragraph("springy").await?;
    let click = |item: &str| {
        json!([{
            "menuItemId": item,
            "selectionText": selected,
            "pageUrl": page,
            "frameId": 0,
            "editable": false,
        }])
    };
    b.fire_listener("onMenuClicked", click("paperclip-explain-selection"), &page)
        .await?;
    b.enter_agent().await?;
    let (answer, _) = b.wait_answer(0).await?;
    let first_words: String = selected.chars().take(30).collect();
    ensure!(
        answer.starts_with("You selected “") && answer.contains(&first_words),
        "{answer}"
    );
    let users: Vec<String> = b
        .messages()
        .await?
        .into_iter()
        .filter(|(role, _)| role == "user")
        .map(|(_, t)| t)
        .collect();
    ensure!(
        users.len() == 1 && users[0].starts_with("Explain the selection"),
        "{users:?}"
    );

    b.top().await?;
    b.client.goto(&page).await?;
    b.select_paragraph("springy").await?;
    b.fire_listener("onMenuClicked", click("paperclip-ask-selection"), &page)
        .await?;
    b.enter_agent().await?;
    b.control("button", "Cancel asking about the selection")
        .await?;
    Ok(b)
}

/// README.md, "Using it", walked as a new user would, each step through
/// the control it names and checked for what it promises. (Providers,
/// telemetry, hints, moving Clippy and import have scenarios of their own.)
async fn the_readme_walkthrough(b: Browser, server: Server) -> Result<Browser> {
    use fantoccini::key::Key;
    let page = server.url("/");
    b.client.goto(&page).await?;
    // "The extension has no access to any page until you do one of these
    // … and adds nothing to pages before that."
    ensure!(agents(&b).await? == 0, "the page holds an agent already");

    // Show Clippy: "the toolbar popup's *Ask Clippy on this page*".
    b.activate(&page).await?;
    b.enter_agent().await?;

    // Ask: "type and press Enter" — the answer is the offline provider's,
    // quoting the page.
    b.type_keys(&format!("What is the Gem clip?{}", char::from(Key::Enter)))
        .await?;
    let (answer, _) = b.wait_answer(0).await?;
    ensure!(answer.contains("Gem"), "{answer}");
    // "Shift+Enter for a new line" (Firefox: WebDriver's keys reach the
    // focused textarea; Chromium's key actions are checked by
    // `keyboard_only`).
    let input = b.control("textarea", "Ask Clippy").await?;
    if b.kind == Kind::Firefox {
        let (shift, enter, release) = (
            char::from(Key::Shift),
            char::from(Key::Enter),
            char::from(Key::Null),
        );
        input.send_keys("one").await?;
        // Modifiers are released at the end of each call.
        input.send_keys(&format!("{shift}{enter}{release}")).await?;
        input.send_keys("two").await?;
        let value = input.prop("value").await?.unwrap_or_default();
        ensure!(value == "one\ntwo", "Shift+Enter gave {value:?}");
        b.client
            .execute(
                "arguments[0].value = '';",
                vec![serde_json::to_value(&input)?],
            )
            .await?;
    }
    // "or use the quick actions *Summarize this page*".
    click_button(&b, "Summarize this page").await?;
    let (summary, _) = b.wait_answer(1).await?;
    ensure!(!summary.is_empty(), "an empty summary");
    // "*Preview* shows exactly what would be sent to the provider and lets
    // you edit it first".
    let input = b.control("textarea", "Ask Clippy").await?;
    b.client
        .execute("arguments[0].focus();", vec![serde_json::to_value(&input)?])
        .await?;
    b.type_keys("Who made it?").await?;
    click_button(&b, "Preview what will be sent").await?;
    // With the offline provider nothing is sent, and the preview says so
    // (`the_preview_shows_exactly_what_is_sent` covers a provider's).
    let preview = b.control("section", "What will be sent").await?;
    let said = preview.text().await?;
    ensure!(
        said.contains(
            "Nothing leaves your browser: the offline provider answers from the page itself."
        ),
        "{said}"
    );
    click_button(&b, "Cancel").await?;

    // Conversations: "☰ lists this site's conversations … + starts a new
    // one".
    b.top().await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    // History: "reload or come back and it is restored".
    let restored = b.messages().await?;
    ensure!(
        restored.first().map(|(_, t)| t.as_str()) == Some("What is the Gem clip?")
            && restored.len() == 4,
        "{restored:?}"
    );
    click_button(&b, "Conversations on this site").await?;
    let listed = b
        .poll(Duration::from_secs(10), "the site's conversations", || async {
            let v = b
                .client
                .execute(
                    "return [...document.querySelectorAll('.site-conversations li .open')].map(o => o.firstChild.textContent);",
                    vec![],
                )
                .await?;
            let v: Vec<String> = serde_json::from_value(v)?;
            Ok((!v.is_empty()).then_some(v))
        })
        .await?;
    ensure!(
        listed == vec!["What is the Gem clip?".to_string()],
        "{listed:?}"
    );
    click_button(&b, "New conversation").await?;
    b.wait_until(Duration::from_secs(10), "an empty log", || async {
        Ok(b.messages().await?.is_empty())
    })
    .await?;
    // "Escape stops an answer in progress, and otherwise closes the agent."
    let input = b.control("textarea", "Ask Clippy").await?;
    b.client
        .execute("arguments[0].focus();", vec![serde_json::to_value(&input)?])
        .await?;
    b.type_keys(&char::from(Key::Escape).to_string()).await?;
    b.wait_until(
        Duration::from_secs(10),
        "Escape to close the agent",
        || async { Ok(agents(&b).await? == 0) },
    )
    .await?;

    // Show Clippy: "the shortcut Alt+Shift+K".
    b.fire_listener("onCommand", json!(["activate-agent"]), &page)
        .await?;
    b.enter_agent().await?;
    // Show Clippy: "*Ask Clippy about selection* in the context menu".
    let selected = b.select_paragraph("springy").await?;
    b.fire_listener(
        "onMenuClicked",
        json!([{"menuItemId": "paperclip-ask-selection", "selectionText": selected, "pageUrl": page, "frameId": 0, "editable": false}]),
        &page,
    )
    .await?;
    b.enter_agent().await?;
    b.control("button", "Cancel asking about the selection")
        .await?;

    // History: "The popup lists recent conversations".
    b.top().await?;
    let popup = b.open_popup().await?;
    let rows = b
        .poll(Duration::from_secs(10), "the popup's list", || async {
            let v = b.texts("tr.conversation .title").await?;
            Ok((!v.is_empty()).then_some(v))
        })
        .await?;
    b.client.close_window().await?;
    let _ = popup;
    let windows = b.client.windows().await?;
    b.client.switch_to_window(windows[0].clone()).await?;
    ensure!(
        rows.contains(&"What is the Gem clip?".to_string()),
        "{rows:?}"
    );

    // "the devtools panel (*Paperclip* tab in DevTools) is a storage
    // inspector: search titles and messages".
    let back = b.open_tab("panel.html").await?;
    b.control("input", "Search conversations")
        .await?
        .send_keys("Gem clip")
        .await?;
    let found = b
        .poll(Duration::from_secs(10), "the search's rows", || async {
            let v = b.texts("tr.conversation .title").await?;
            Ok((!v.is_empty()).then_some(v))
        })
        .await?;
    ensure!(
        found == vec!["What is the Gem clip?".to_string()],
        "{found:?}"
    );
    b.close_tab(back).await?;

    // Character: "Clippy or Clippette (options)" — chosen on the options
    // page, shown by the agent.
    let back = b.open_tab("options.html").await?;
    let character = b
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(fantoccini::Locator::Css("select#pref-agent-character"))
        .await?;
    character.select_by_value("clippette").await?;
    b.wait_until(Duration::from_secs(10), "the choice to be saved", || async {
        let v = b
            .client
            .execute(
                "return [...document.querySelectorAll('[role=status]')].map(s => s.textContent).join(' ');",
                vec![],
            )
            .await?;
        Ok(v.as_str()
            .is_some_and(|t| t.contains("Saved agent.character = \"clippette\"")))
    })
    .await?;
    b.close_tab(back).await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    b.wait_until(Duration::from_secs(10), "Clippette", || async {
        let v = b
            .client
            .execute(
                "const c = document.querySelector('svg.clippy'); return !!c && c.classList.contains('clippette');",
                vec![],
            )
            .await?;
        Ok(v == json!(true))
    })
    .await?;
    Ok(b)
}
