//! The toolbar popup, used as a user does: its "Ask Clippy" field asks on
//! the page; its status line says who answers (offline only, then the
//! provider with its breaker and latency); "Clippy on this site" turns the
//! agent off there (and activation says how to turn it back on); a recent
//! conversation opens in the agent, on this site's tab or in a tab of its
//! own site.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{add_fake_provider, click_button};
use paperclip_e2e::{server::Server, Browser};
use serde_json::json;

in_both_browsers!(
    the_popup_ask_field_asks_on_the_page,
    the_popup_says_who_answers,
    clippy_can_be_turned_off_on_a_site,
    a_recent_conversation_opens_from_the_popup,
);

/// Waits for the popup window `popup` to close itself; back on `page`.
async fn popup_closes(
    b: &Browser,
    popup: fantoccini::wd::WindowHandle,
    page: fantoccini::wd::WindowHandle,
) -> Result<()> {
    b.poll(Duration::from_secs(10), "the popup to close", || async {
        Ok((!b.client.windows().await?.contains(&popup)).then_some(()))
    })
    .await?;
    b.client.switch_to_window(page).await?;
    Ok(())
}

/// The status line's text, once it shows.
async fn status_line(b: &Browser) -> Result<String> {
    b.poll(Duration::from_secs(10), "the status line", || async {
        b.text_of(".provider-status").await
    })
    .await
}

/// Typing a question in the popup and pressing Enter shows the agent on
/// the page, which asks it and answers.
async fn the_popup_ask_field_asks_on_the_page(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    let tab = b.client.window().await?;
    let popup = b.open_popup().await?;
    let field = b.control("input", "Ask Clippy").await?;
    field
        .send_keys(&format!(
            "Who invented the paper clip?{}",
            char::from(fantoccini::key::Key::Enter)
        ))
        .await?;
    popup_closes(&b, popup, tab.clone()).await?;
    b.enter_agent().await?;
    let (answer, _) = b.wait_answer(0).await?;
    let messages = b.messages().await?;
    ensure!(
        messages[0] == ("user".into(), "Who invented the paper clip?".into()) && !answer.is_empty(),
        "{messages:?}"
    );
    // An empty question is not sent; the popup says so and stays.
    b.top().await?;
    let popup = b.open_popup().await?;
    click_button(&b, "Ask").await?;
    let said = b
        .poll(Duration::from_secs(5), "the popup's message", || async {
            b.text_of("main.popup > [role=alert]").await
        })
        .await?;
    ensure!(said == "Type a question first.", "{said}");
    b.client.close_window().await?;
    b.client.switch_to_window(tab).await?;
    let _ = popup;
    Ok(b)
}

/// Without a provider the popup says offline answers only; with one that
/// answered, it names it, says its breaker is working and how fast the
/// last answer started.
async fn the_popup_says_who_answers(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    let tab = b.client.window().await?;
    b.open_popup().await?;
    let offline = status_line(&b).await?;
    ensure!(offline.starts_with("Offline answers only"), "{offline}");
    b.client.close_window().await?;
    b.client.switch_to_window(tab.clone()).await?;

    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    add_fake_provider(&b, "Fake", &fake).await?;
    b.ask_on(&page, "Are you there?").await?;
    b.top().await?;
    b.open_popup().await?;
    let line = b
        .poll(Duration::from_secs(10), "the provider's line", || async {
            Ok(b.text_of(".provider-status")
                .await?
                .filter(|t| t.contains("last answer started in")))
        })
        .await?;
    ensure!(
        line.starts_with("Fake answers now · working · last answer started in "),
        "{line}"
    );
    b.client.close_window().await?;
    b.client.switch_to_window(tab).await?;
    Ok(b)
}

/// "Never" on this site: the popup's buttons are off and say why, and
/// showing the agent there any other way is refused with how to undo it;
/// "On" brings it back.
async fn clippy_can_be_turned_off_on_a_site(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    let tab = b.client.window().await?;
    b.open_popup().await?;
    let never = b.control("input[type=radio]", "Never").await?;
    b.click(&never).await?;
    b.poll(
        Duration::from_secs(5),
        "the buttons to turn off",
        || async {
            let button = b.control("button", "Ask Clippy on this page").await?;
            Ok((!button.is_enabled().await?).then_some(()))
        },
    )
    .await?;
    let note = b.texts("main.popup .notice").await?;
    ensure!(
        note.iter()
            .any(|n| n.contains("Clippy is off on this site")),
        "{note:?}"
    );
    b.client.close_window().await?;
    b.client.switch_to_window(tab.clone()).await?;

    // The shortcut (played as the browser does) shows nothing there.
    b.fire_listener("onCommand", json!(["activate-agent"]), &page)
        .await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    b.top().await?;
    let agents = b
        .client
        .execute(
            "return document.querySelectorAll('paperclip-agent').length;",
            vec![],
        )
        .await?;
    ensure!(agents == 0, "an agent on a site set to never");
    // Any other way in (here the request itself, as setup) says how to undo it.
    let tabs = b
        .in_extension_page(
            "options.html",
            "const [url, done] = arguments; chrome.tabs.query({}).then(ts => done(ts.filter(t => (t.url || '').startsWith(url)).map(t => t.id)));",
            json!(page),
        )
        .await?;
    let tab_id = tabs[0].as_i64().unwrap_or_default();
    let refused = b
        .request(json!({"type": "ActivateTab", "tab_id": tab_id}))
        .await?;
    let message = refused["body"]["err"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(
        message.contains("Clippy is turned off on http://127.0.0.1")
            && message.contains("set \"Clippy on this site\" to On"),
        "{refused}"
    );

    // On again, from the popup.
    b.open_popup().await?;
    let on = b.control("input[type=radio]", "On").await?;
    b.click(&on).await?;
    b.poll(Duration::from_secs(5), "the buttons to turn on", || async {
        let button = b.control("button", "Ask Clippy on this page").await?;
        Ok(button.is_enabled().await?.then_some(()))
    })
    .await?;
    b.client.close_window().await?;
    b.client.switch_to_window(tab).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    Ok(b)
}

/// A recent conversation of this site opens in the agent on this tab; one
/// of another site opens a tab of that site, where it shows when Clippy is
/// shown.
async fn a_recent_conversation_opens_from_the_popup(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    b.ask("The first conversation?").await?;
    b.wait_answer(0).await?;
    click_button(&b, "New conversation").await?;
    b.ask("The second conversation?").await?;
    b.wait_answer(0).await?;
    // Another site (a second server: another port is another origin).
    let second = Server::start(&paperclip_e2e::root())?;
    let other = second.url("/");
    b.top().await?;
    b.client.goto(&other).await?;
    b.activate(&other).await?;
    b.enter_agent().await?;
    b.ask("On the other site?").await?;
    b.wait_answer(0).await?;

    // Back on the first site, open its first conversation from the popup.
    b.top().await?;
    b.client.goto(&page).await?;
    let tab = b.client.window().await?;
    let popup = b.open_popup().await?;
    click_button(&b, "The first conversation?").await?;
    popup_closes(&b, popup, tab.clone()).await?;
    b.enter_agent().await?;
    let shown = b
        .poll(
            Duration::from_secs(10),
            "the first conversation",
            || async {
                let m = b.messages().await?;
                Ok(
                    (m.first().map(|(_, t)| t.as_str()) == Some("The first conversation?"))
                        .then_some(m),
                )
            },
        )
        .await?;
    ensure!(shown.len() == 2, "{shown:?}");

    // The other site's conversation opens a tab of that site.
    b.top().await?;
    let before = b.client.windows().await?;
    let popup = b.open_popup().await?;
    click_button(&b, "On the other site?").await?;
    let opened = b
        .poll(
            Duration::from_secs(10),
            "a tab of the other site",
            || async {
                for handle in b.client.windows().await? {
                    if before.contains(&handle) || handle == popup {
                        continue;
                    }
                    b.client.switch_to_window(handle.clone()).await?;
                    if b.client.current_url().await?.as_str().starts_with(&other) {
                        return Ok(Some(handle));
                    }
                }
                Ok(None)
            },
        )
        .await?;
    b.client.switch_to_window(opened).await?;
    // The user shows Clippy there.
    b.activate(&other).await?;
    b.enter_agent().await?;
    let there = b.messages().await?;
    ensure!(
        there.first().map(|(_, t)| t.as_str()) == Some("On the other site?"),
        "{there:?}"
    );
    Ok(b)
}
