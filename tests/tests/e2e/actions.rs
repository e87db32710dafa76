//! The user's own quick actions: defined on the options page's form (bad
//! ones refused with their reason, nothing saved), shown as agent buttons
//! and context-menu entries, filled from the page and sent to the
//! provider; deleted, they are gone from both.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::fake_provider::FakeProvider;
use paperclip_e2e::scenario::{add_fake_provider, chat_requests, click_button, ok};
use paperclip_e2e::server::Server;
use paperclip_e2e::Browser;
use serde_json::{json, Value};

in_both_browsers!(your_own_quick_actions_from_the_form_to_the_provider);

/// Fills the options page's *Your quick actions* form and submits it;
/// returns the line the page then says (status or alert) once it
/// contains `expect`.
async fn add_action(
    b: &Browser,
    name: &str,
    template: &str,
    needs_selection: bool,
    expect: &str,
) -> Result<String> {
    let find = |css: &'static str| {
        b.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(fantoccini::Locator::Css(css))
    };
    let n = find("#action-name").await?;
    n.clear().await?;
    n.send_keys(name).await?;
    let t = find("#action-template").await?;
    t.clear().await?;
    t.send_keys(template).await?;
    let tick = find("#action-needs-selection").await?;
    if tick.is_selected().await? != needs_selection {
        b.click(&tick).await?;
    }
    let add = find(".action-form button[type=submit]").await?;
    b.click(&add).await?;
    b.poll(Duration::from_secs(10), expect, || async {
        let said = b
            .text_of(".quick-actions [role=status], .quick-actions [role=alert]")
            .await?
            .unwrap_or_default();
        Ok(said.contains(expect).then_some(said))
    })
    .await
}

/// The user's actions as stored.
async fn stored_actions(b: &Browser) -> Result<Vec<Value>> {
    let list = ok(b, json!({"type": "GetPreferences"})).await?;
    let entry = list["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["key"] == "agent.quick_actions")
        .cloned()
        .unwrap_or_default();
    Ok(entry["value"].as_array().cloned().unwrap_or_default())
}

/// Which of the context-menu entries `ids` exist (an update of a missing
/// entry fails).
async fn menus_exist(b: &Browser, ids: &[&str]) -> Result<Vec<bool>> {
    let found = b
        .in_extension_page(
            "options.html",
            "const [ids, done] = arguments;
             const api = globalThis.browser ?? chrome;
             Promise.all(ids.map((id) => api.contextMenus.update(id, {}).then(() => true, () => false))).then(done);",
            json!(ids),
        )
        .await?;
    Ok(serde_json::from_value(found)?)
}

/// The text of the messages in the last chat request.
fn last_body(fake: &FakeProvider) -> String {
    let body: Value = chat_requests(fake)
        .last()
        .and_then(|r| serde_json::from_str(&r.body).ok())
        .unwrap_or_default();
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn your_own_quick_actions_from_the_form_to_the_provider(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/");
    let fake = FakeProvider::start()?;
    b.client.goto(&page).await?;
    add_fake_provider(&b, "Fake", &fake).await?;

    // Defined as a user does; bad input is refused with its reason and
    // nothing is saved.
    let back = b.open_tab("options.html").await?;
    let defined = async {
        let tweet = "Write a tweet about {title}: {selection}";
        add_action(&b, "Tweet it", tweet, true, "Saved the action “Tweet it”.").await?;
        let gist = "Gist of {page} at {url}";
        add_action(
            &b,
            "<b>Gist</b>",
            gist,
            false,
            "Saved the action “<b>Gist</b>”.",
        )
        .await?;
        let said = add_action(&b, "Bad", "Use {body} here", false, "Not saved").await?;
        ensure!(said.contains("{body} is not a placeholder"), "{said}");
        let said = add_action(&b, "tweet IT", "again", false, "Not saved").await?;
        ensure!(said.contains("two actions are named"), "{said}");
        let said = add_action(&b, "  ", "x", false, "Not saved").await?;
        ensure!(said.contains("the name is empty"), "{said}");
        // The list shows the names as text.
        let names = b.texts(".quick-actions tbody td:first-child").await?;
        ensure!(names == ["Tweet it", "<b>Gist</b>"], "{names:?}");
        let bold = b
            .client
            .execute(
                "return document.querySelectorAll('.quick-actions b').length;",
                vec![],
            )
            .await?;
        ensure!(bold == json!(0), "a name became markup");
        Ok::<_, anyhow::Error>(())
    }
    .await;
    b.close_tab(back).await?;
    defined?;
    let stored = stored_actions(&b).await?;
    ensure!(stored.len() == 2, "{stored:?}");
    let menus = ["paperclip-custom:Tweet it", "paperclip-custom:<b>Gist</b>"];
    ensure!(
        menus_exist(&b, &menus).await? == [true, true],
        "menus missing"
    );

    // An agent button, filled from the page and sent to the provider.
    b.client.goto(&page).await?;
    let title = b.client.title().await?;
    let selected = b.select_paragraph("springy").await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let buttons = b.texts(".quick button.custom").await?;
    ensure!(buttons == ["Tweet it", "<b>Gist</b>"], "{buttons:?}");
    click_button(&b, "Tweet it").await?;
    b.wait_answer(0).await?;
    let start: String = selected.chars().take(30).collect();
    let body = last_body(&fake);
    let expected = format!("Write a tweet about {title}: {start}");
    ensure!(body.contains(&expected), "the provider got {body}");
    let users: Vec<String> = b
        .messages()
        .await?
        .into_iter()
        .filter(|(role, _)| role == "user")
        .map(|(_, t)| t)
        .collect();
    ensure!(
        users.len() == 1 && users[0].starts_with(&expected),
        "{users:?}"
    );

    // {page} and {url}: the page's text and its address (origin and path).
    click_button(&b, "<b>Gist</b>").await?;
    b.wait_answer(1).await?;
    let body = last_body(&fake);
    ensure!(
        body.contains("Gist of ") && body.contains("springy") && body.contains(&page),
        "the provider got {body}"
    );

    // The context menu's entry asks the same, in the agent.
    let requests = chat_requests(&fake).len();
    b.select_paragraph("springy").await?;
    b.fire_listener(
        "onMenuClicked",
        json!([{"menuItemId": menus[0], "selectionText": selected, "pageUrl": page, "frameId": 0, "editable": false}]),
        &page,
    )
    .await?;
    b.poll(Duration::from_secs(20), "the menu's ask", || async {
        Ok((chat_requests(&fake).len() > requests).then_some(()))
    })
    .await?;
    ensure!(
        last_body(&fake).contains("Write a tweet about"),
        "{}",
        last_body(&fake)
    );

    // Deleted on the options page: gone from the menu and the agent.
    let back = b.open_tab("options.html").await?;
    let deleted = async {
        click_button(&b, "Delete the action Tweet it").await?;
        b.poll(Duration::from_secs(10), "the deletion", || async {
            let said = b.text_of(".quick-actions [role=status]").await?;
            Ok(said.filter(|s| s.contains("Deleted the action “Tweet it”.")))
        })
        .await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    b.close_tab(back).await?;
    deleted?;
    b.poll(Duration::from_secs(10), "the menu entry to go", || async {
        Ok((menus_exist(&b, &menus).await? == [false, true]).then_some(()))
    })
    .await?;
    b.enter_agent().await?;
    b.poll(
        Duration::from_secs(10),
        "the agent's button to go",
        || async {
            let buttons = b.texts(".quick button.custom").await?;
            Ok((buttons == ["<b>Gist</b>"]).then_some(()))
        },
    )
    .await?;
    Ok(b)
}
