//! What the user sees is true everywhere at once: the look chosen on the
//! options page (theme, font scale, reduced motion) applies to every open
//! surface without a reload; an answer goes on when the agent closes or
//! the tab navigates, and is there whole when the agent opens again; two
//! tabs of one site show each other's messages; open pages refresh when
//! the data they show changes.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::fake_provider::{Fault, Route};
use paperclip_e2e::scenario::{
    agent_with_fake_provider, click_button, latest_conversation, set_option, wait_last, Pref,
};
use paperclip_e2e::{server::Server, Browser};
use serde_json::{json, Value};

in_both_browsers!(
    the_look_applies_to_every_open_surface,
    an_answer_finishes_after_the_agent_closes,
    an_answer_finishes_after_the_tab_navigates,
    two_tabs_of_one_site_see_each_others_messages,
    open_pages_refresh_when_data_changes,
);

/// The computed look of the current frame: background colour, root font
/// size and the character's animation.
async fn look(b: &Browser) -> Result<Value> {
    Ok(b.client
        .execute(
            "const c = document.querySelector('.clippy');
             const root = getComputedStyle(document.documentElement);
             return {bg: getComputedStyle(document.body).backgroundColor,
                     font: parseFloat(root.fontSize),
                     animation: c ? getComputedStyle(c).animationName : null,
                     clippette: !!document.querySelector('.clippy.clippette')};",
            vec![],
        )
        .await?)
}

/// Waits until the current frame's look satisfies `check`.
async fn wait_look(b: &Browser, what: &str, check: impl Fn(&Value) -> bool) -> Result<Value> {
    let seen = std::sync::Mutex::new(Value::Null);
    b.poll(Duration::from_secs(5), what, || async {
        let v = look(b).await?;
        *seen.lock().unwrap() = v.clone();
        Ok(check(&v).then_some(v))
    })
    .await
    .map_err(|e| e.context(format!("last seen: {}", seen.lock().unwrap())))
}

const DARK_BG: &str = "rgb(31, 31, 34)";
const LIGHT_BG: &str = "rgb(255, 254, 248)";

/// Theme, font scale, reduced motion and the character set on the options
/// page change the agent already open on a page, the popup page and the options page
/// itself, without a reload.
async fn the_look_applies_to_every_open_surface(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let before = look(&b).await?;
    ensure!(
        before["bg"] == LIGHT_BG && before["font"] == 14.0 && before["animation"] != "none",
        "the default look (headless browsers prefer light, full motion): {before}"
    );
    // The popup page, open in its own tab, watches too.
    let demo = b.open_tab("popup.html").await?;
    let popup_tab = b.client.window().await?;
    b.client.switch_to_window(demo.clone()).await?;

    // The options page's own controls.
    let options = b.open_tab("options.html").await?;
    let dark = b
        .client
        .wait()
        .for_element(fantoccini::Locator::Css(
            "#pref-ui-theme option[value=dark]",
        ))
        .await?;
    dark.click().await?;
    wait_look(&b, "the options page to turn dark", |v| v["bg"] == DARK_BG).await?;
    let motion = b
        .client
        .find(fantoccini::Locator::Css(
            "#pref-ui-reduced_motion option[value=always]",
        ))
        .await?;
    motion.click().await?;
    b.close_tab(options).await?;
    set_option(&b, "ui.font_scale", Pref::Type("1.5")).await?;
    set_option(&b, "agent.character", Pref::Choose("clippette")).await?;
    let options_look = {
        let back = b.open_tab("options.html").await?;
        let v = wait_look(&b, "a new options page in the chosen look", |v| {
            v["bg"] == DARK_BG && v["font"] == 21.0
        })
        .await;
        b.close_tab(back).await?;
        v?
    };

    // The agent, open all along.
    b.client.switch_to_window(demo).await?;
    b.enter_agent_now().await?;
    let agent = wait_look(&b, "the open agent to follow", |v| {
        v["bg"] == DARK_BG
            && v["font"] == 21.0
            && v["animation"] == "none"
            && v["clippette"] == true
    })
    .await?;
    // The popup page, open all along.
    b.client.switch_to_window(popup_tab).await?;
    let popup_look = wait_look(&b, "the open popup page to follow", |v| {
        v["bg"] == DARK_BG && v["font"] == 21.0
    })
    .await?;

    // Back to the browser's choice: light again (headless prefers light).
    b.client.goto(&format!("{}options.html", b.base)).await?;
    let system = b
        .client
        .wait()
        .for_element(fantoccini::Locator::Css(
            "#pref-ui-theme option[value=system]",
        ))
        .await?;
    system.click().await?;
    wait_look(&b, "the browser's scheme again", |v| v["bg"] == LIGHT_BG).await?;
    eprintln!("look: options {options_look} agent {agent} popup {popup_look}");
    Ok(b)
}

/// A slow answer from the fake provider: a piece every 300 ms.
fn slow(fake: &paperclip_e2e::fake_provider::FakeProvider) {
    fake.script(
        Route::ChatCompletions,
        vec![Fault::SlowTrickle {
            delay_ms: 300,
            piece_bytes: None,
        }],
    );
}

/// Waits until the stored conversation's last answer is complete, and
/// returns its text.
async fn stored_answer(b: &Browser) -> Result<String> {
    b.poll(
        Duration::from_secs(30),
        "the answer to be stored whole",
        || async {
            let c = latest_conversation(b).await?;
            let last = c["conversation"]["messages"]
                .as_array()
                .and_then(|m| m.last().cloned())
                .unwrap_or_default();
            Ok(
                (last["role"] == "assistant" && last["status"] == "complete")
                    .then(|| last["text"].as_str().unwrap_or_default().to_string()),
            )
        },
    )
    .await
}

const LONG_QUESTION: &str = "Please keep answering after I close you, all the way";

/// Closing the agent mid-answer does not stop it: it completes, is stored
/// whole, and is shown when the agent is opened again.
async fn an_answer_finishes_after_the_agent_closes(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    let fake = agent_with_fake_provider(&b, &page).await?;
    slow(&fake);
    b.ask(LONG_QUESTION).await?;
    wait_last(&b, "the answer to start", |v| {
        v["status"] == "streaming" && v["text"].as_str().is_some_and(|t| !t.is_empty())
    })
    .await?;
    click_button(&b, "Close Clippy").await?;
    b.top().await?;
    let full = stored_answer(&b).await?;
    ensure!(full == format!("Echo: {LONG_QUESTION}"), "{full}");
    b.activate(&page).await?;
    b.enter_agent().await?;
    let shown = wait_last(&b, "the whole answer on screen", |v| {
        v["status"] == "complete"
    })
    .await?;
    ensure!(
        shown["text"] == full.as_str() && shown["alert"].is_null(),
        "{shown}"
    );
    Ok(b)
}

/// Navigating the tab away mid-answer does not stop it either; opening the
/// agent on that site again shows it whole.
async fn an_answer_finishes_after_the_tab_navigates(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    let fake = agent_with_fake_provider(&b, &page).await?;
    slow(&fake);
    b.ask(LONG_QUESTION).await?;
    wait_last(&b, "the answer to start", |v| v["status"] == "streaming").await?;
    b.top().await?;
    b.client.goto(&server.url("/pages/editor.html")).await?;
    let full = stored_answer(&b).await?;
    ensure!(full == format!("Echo: {LONG_QUESTION}"), "{full}");
    let editor = server.url("/pages/editor.html");
    b.activate(&editor).await?;
    b.enter_agent().await?;
    let shown = wait_last(&b, "the whole answer on screen", |v| {
        v["status"] == "complete"
    })
    .await?;
    ensure!(shown["text"] == full.as_str(), "{shown}");
    Ok(b)
}

/// The same site open in two tabs: a question asked in one appears in the
/// other with its answer (streamed there too), and the other way round.
async fn two_tabs_of_one_site_see_each_others_messages(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let first = b.client.window().await?;
    let second = b.client.new_window(true).await?.handle;
    b.client.switch_to_window(second.clone()).await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;

    b.client.switch_to_window(first.clone()).await?;
    b.enter_agent().await?;
    b.ask("Asked in the first tab?").await?;
    b.wait_answer(0).await?;

    b.client.switch_to_window(second.clone()).await?;
    b.enter_agent_now().await?;
    let seen = b
        .poll(
            Duration::from_secs(10),
            "the first tab's exchange",
            || async {
                let m = b.messages().await?;
                Ok((m.len() == 2 && m[1].0 == "assistant" && !m[1].1.is_empty()).then_some(m))
            },
        )
        .await?;
    ensure!(seen[0].1.contains("Asked in the first tab?"), "{seen:?}");
    b.ask("And in the second?").await?;
    b.wait_answer(1).await?;

    b.client.switch_to_window(first).await?;
    b.enter_agent_now().await?;
    let both = b
        .poll(
            Duration::from_secs(10),
            "the second tab's exchange",
            || async {
                let m = b.messages().await?;
                Ok((m.len() == 4 && m[3].0 == "assistant" && !m[3].1.is_empty()).then_some(m))
            },
        )
        .await?;
    let texts: Vec<&str> = both.iter().map(|(_, t)| t.as_str()).collect();
    ensure!(
        texts[0].contains("first tab") && texts[2].contains("second"),
        "in order: {texts:?}"
    );
    let stored = latest_conversation(&b).await?;
    ensure!(
        stored["conversation"]["messages"].as_array().map(Vec::len) == Some(4),
        "one conversation holds both tabs' messages: {stored}"
    );
    Ok(b)
}

/// The popup page and the devtools panel, open in tabs, list a
/// conversation as soon as it is stored, and drop it when it is deleted,
/// without a reload.
async fn open_pages_refresh_when_data_changes(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    let demo = b.client.window().await?;
    b.open_tab("popup.html").await?;
    let popup = b.client.window().await?;
    b.client.switch_to_window(demo.clone()).await?;
    b.open_tab("panel.html").await?;
    let panel = b.client.window().await?;
    b.client.switch_to_window(demo.clone()).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    b.ask("Will the popup list me?").await?;
    b.wait_answer(0).await?;

    let listed = |css: &'static str| {
        let b = &b;
        async move {
            b.poll(Duration::from_secs(5), css, || async {
                let rows = b.texts(css).await?;
                Ok(rows
                    .iter()
                    .any(|r| r.contains("Will the popup list me?"))
                    .then_some(rows))
            })
            .await
        }
    };
    b.client.switch_to_window(popup.clone()).await?;
    listed("table.conversations tbody tr").await?;
    b.client.switch_to_window(panel.clone()).await?;
    listed("table.conversations tbody tr").await?;

    // Deleted elsewhere (here: through the protocol, as setup), gone here.
    let c = latest_conversation(&b).await?;
    let id = c["conversation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    b.request(json!({"type": "DeleteConversation", "id": id}))
        .await?;
    b.poll(Duration::from_secs(5), "the row to go", || async {
        let rows = b.texts("table.conversations tbody tr").await?;
        Ok((!rows.iter().any(|r| r.contains("Will the popup list me?"))).then_some(()))
    })
    .await?;
    Ok(b)
}
