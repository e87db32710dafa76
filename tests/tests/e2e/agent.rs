//! The agent itself: asking and the streamed answer, the history after a
//! reload, a page with a strict CSP, the conversation in the popup's and the
//! panel's lists and in the agent's own list, Markdown rendering that never
//! runs script, the character's animation states, moving the agent and
//! pointing at the selection, the quick actions, and the preview of what
//! is sent.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{
    add_fake_provider, agent_with_fake_provider, chat_requests, click_button, ok,
};
use paperclip_e2e::{root, server::Server, Browser};
use serde_json::json;

in_both_browsers!(
    ask_stream_reload_restore,
    strict_csp_page,
    popup_and_devtools_list_the_conversation,
    answers_render_markdown_and_never_run_script,
    the_preview_shows_exactly_what_is_sent,
    the_agent_lists_opens_starts_and_deletes_conversations,
    quick_actions_on_the_selection,
    every_animation_state_is_shown_and_saved,
    the_agent_is_moved_and_remembered_per_site,
    the_character_points_at_the_selection,
);

/// Activate → ask → streamed answer → reload → history restored → ask again.
async fn ask_stream_reload_restore(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    b.log().await?; // role=log named "Conversation"
    ensure!(b.messages().await?.is_empty(), "a new site starts empty");

    b.ask("Summarize this page").await?;
    let (answer, seen) = b.wait_answer(0).await?;
    ensure!(
        answer.starts_with("Summary of “The Paperclip: A Short History”"),
        "{answer}"
    );
    ensure!(
        answer.contains("Gem clip"),
        "the summary misses the main topic: {answer}"
    );
    for boilerplate in ["Subscribe", "Cookie settings", "Office History Quarterly"] {
        ensure!(
            !answer.contains(boilerplate),
            "navigation/footer text leaked: {answer}"
        );
    }
    ensure!(
        seen.len() >= 3,
        "the answer did not stream (saw {} states: {seen:?})",
        seen.len()
    );
    ensure!(
        seen.windows(2).all(|w| w[1].starts_with(&w[0])),
        "stream went backwards"
    );
    let before = b.messages().await?;
    ensure!(
        before
            == vec![
                ("user".to_string(), "Summarize this page".to_string()),
                ("assistant".to_string(), answer.clone())
            ],
        "{before:?}"
    );

    // Reload: the agent is gone; activate again and the history is back.
    b.top().await?;
    b.client.refresh().await?;
    let agents = b
        .client
        .execute(
            "return document.querySelectorAll('paperclip-agent').length",
            vec![],
        )
        .await?;
    ensure!(
        agents == json!(0),
        "the agent survived a reload without activation"
    );
    b.activate(&page).await?;
    b.enter_agent().await?;
    let restored = b
        .poll(
            Duration::from_secs(10),
            "the history to be restored",
            || async {
                let m = b.messages().await?;
                Ok((m.len() == before.len()).then_some(m))
            },
        )
        .await?;
    ensure!(
        restored == before,
        "restored {restored:?}, expected {before:?}"
    );

    b.ask("How many paperclips can one machine make?").await?;
    let (answer, _) = b.wait_answer(1).await?;
    ensure!(
        answer.contains("hundreds of paperclips every minute"),
        "{answer}"
    );

    // Close removes the agent from the page, leaving nothing behind.
    b.click(&b.control("button", "Close Clippy").await?).await?;
    b.top().await?;
    b.wait_until(
        Duration::from_secs(5),
        "Close to remove the agent",
        || async {
            let n = b
                .client
                .execute(
                    "return document.querySelectorAll('paperclip-agent').length",
                    vec![],
                )
                .await?;
            Ok(n == json!(0))
        },
    )
    .await?;
    Ok(b)
}

/// The agent works on a page whose CSP forbids everything but same-origin
/// scripts.
async fn strict_csp_page(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/strict/");
    b.client.goto(&page).await?;
    // The page's CSP is in force: it blocks the page's own inline <style>
    // (which sets body { max-width: 46rem } on the unrestricted page).
    let style = "return getComputedStyle(document.body).maxWidth";
    let strict_width = b.client.execute(style, vec![]).await?;
    ensure!(
        strict_width == json!("none"),
        "the strict CSP is not in force: {strict_width}"
    );
    b.activate(&page).await?;
    b.enter_agent().await?;
    b.ask("Who wore paperclips on their lapels?").await?;
    let (answer, _) = b.wait_answer(0).await?;
    ensure!(answer.contains("Norwegians"), "{answer}");
    Ok(b)
}

/// After a conversation, the popup and the devtools panel list it from the
/// background (real stored data).
async fn popup_and_devtools_list_the_conversation(b: Browser, server: Server) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    let row_script = "const [origin, done] = arguments;
        const started = Date.now();
        (function poll() {
          const rows = [...document.querySelectorAll('tr.conversation')].map((r) => ({
            title: r.querySelector('.title').textContent,
            site: r.querySelector('.site').textContent,
            count: r.querySelector('.count').textContent,
          })).filter((r) => r.site === origin);
          if (rows.length || Date.now() - started > 5000) done(rows); else setTimeout(poll, 50);
        })();";
    for page_name in ["popup.html", "panel.html"] {
        let rows = b
            .in_extension_page(page_name, row_script, json!(server.origin()))
            .await?;
        ensure!(
            rows == json!([{"title": "What is the Gem clip?", "site": server.origin(), "count": "2"}]),
            "{page_name} lists {rows}"
        );
    }
    Ok(b)
}

/// Model output is rendered from Markdown (headings, lists, code with a
/// Copy button, tables, links that open a new tab) and can never run
/// script, load a resource or navigate: the fake provider echoes a corpus
/// of XSS payloads back as the answer.
async fn answers_render_markdown_and_never_run_script(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let _fake = agent_with_fake_provider(&b, &server.url("/")).await?;
    let question = "Render this:\n\n# Heading\n\n- first item\n- **second** item\n\n\
        ```js\nlet answer = 42;\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\
        [safe](https://example.org/) [bad](javascript:window.__pwned=1) [rel](/relative)\n\n\
        <img src=x onerror=\"window.__pwned=1\">\n\n<script>window.__pwned=1</script>\n\n\
        <iframe src=\"javascript:window.__pwned=1\"></iframe>\n\n\
        ![tracker](http://127.0.0.1:9/track.png)\n\n<svg onload=\"window.__pwned=1\"></svg>\n\n\
        <a href=\"javascript:window.__pwned=1\">x</a> <style>*{display:none}</style>\n\n\
        <form action=\"https://example.org\"><input name=q></form>\n\n\
        <meta http-equiv=\"refresh\" content=\"0;url=https://example.org\">";
    // Multi-line text is typed from script in both browsers (a typed
    // newline would send).
    let input = b.control("textarea", "Ask Clippy").await?;
    let send = b.control("button", "Send").await?;
    b.client
        .execute(
            "const [input, send, text] = arguments; input.value = text; send.click();",
            vec![
                serde_json::to_value(&input)?,
                serde_json::to_value(&send)?,
                json!(question),
            ],
        )
        .await?;
    b.wait_answer(0).await?;
    let dom = b
        .client
        .execute(
            "const a = [...document.querySelectorAll('[role=log] .message.assistant')].pop();
             const q = (s) => [...a.querySelectorAll(s)];
             return {
               heading: q('h3').map(e => e.textContent),
               items: q('ul > li').map(e => e.textContent),
               code: q('pre code').map(e => e.textContent),
               cells: q('table td, table th').map(e => e.textContent),
               links: q('a').map(e => [e.getAttribute('href'), e.target, e.rel]),
               copy: q('button[aria-label=\"Copy code\"]').length,
               dangerous: [...document.querySelectorAll(
                 '[role=log] :is(script, img, iframe, svg, object, embed, form, input, meta, style, link, video, audio)')]
                 .map(e => e.tagName),
               srcs: [...document.querySelectorAll('[role=log] [src], [role=log] [srcset]')].length,
               pwned: window.__pwned === undefined ? null : window.__pwned,
               text: a.textContent,
             };",
            vec![],
        )
        .await?;
    ensure!(dom["heading"] == json!(["Heading"]), "{dom}");
    ensure!(
        dom["items"] == json!(["first item", "second item"]),
        "{dom}"
    );
    ensure!(dom["code"] == json!(["let answer = 42;\n"]), "{dom}");
    ensure!(dom["cells"] == json!(["a", "b", "1", "2"]), "{dom}");
    ensure!(
        dom["links"] == json!([["https://example.org/", "_blank", "noopener noreferrer"]]),
        "only the safe link is a link: {dom}"
    );
    ensure!(dom["copy"] == 1, "{dom}");
    ensure!(dom["dangerous"] == json!([]) && dom["srcs"] == 0, "{dom}");
    ensure!(dom["pwned"].is_null(), "script ran: {dom}");
    let text = dom["text"].as_str().unwrap_or_default();
    ensure!(
        text.contains("<script>window.__pwned=1</script>") && text.contains("[image: tracker]"),
        "payloads are shown as text: {text}"
    );
    b.top().await?;
    let shot = root().join(format!(
        "target/e2e-artifacts/markdown-{}.png",
        b.kind.name()
    ));
    b.screenshot(&shot).await?;
    // The page is where it was.
    let url = b.client.current_url().await?;
    ensure!(url.as_str() == server.url("/"), "the page navigated: {url}");
    Ok(b)
}

/// "Preview" shows the page context that would go to the provider; the
/// user edits it and sends; the provider receives exactly the edited text.
async fn the_preview_shows_exactly_what_is_sent(b: Browser, server: Server) -> Result<Browser> {
    let fake = agent_with_fake_provider(&b, &server.url("/")).await?;
    let input = b.control("textarea", "Ask Clippy").await?;
    b.client
        .execute(
            "arguments[0].value = 'Who designed it?';",
            vec![serde_json::to_value(&input)?],
        )
        .await?;
    click_button(&b, "Preview what will be sent").await?;
    let area = b.control("textarea", "Page context").await?;
    let shown = b
        .client
        .execute(
            "return arguments[0].value;",
            vec![serde_json::to_value(&area)?],
        )
        .await?;
    let shown = shown.as_str().unwrap_or_default().to_string();
    ensure!(
        shown.contains("Page title: The Paperclip") && shown.contains("Gem Manufacturing"),
        "{shown}"
    );
    // The user keeps the headings, drops what is on screen and the page
    // text, and adds a note.
    let edited = format!(
        "{}\nNote from the user: only the headings.",
        shown
            .split("On screen (")
            .next()
            .and_then(|s| s.split("Page text:").next())
            .unwrap_or_default()
            .trim_end()
    );
    b.client
        .execute(
            "arguments[0].value = arguments[1];
             arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            vec![serde_json::to_value(&area)?, json!(edited)],
        )
        .await?;
    click_button(&b, "Send with this context").await?;
    let (answer, _) = b.wait_answer(0).await?;
    ensure!(answer == "Echo: Who designed it?", "{answer}");
    let sent = chat_requests(&fake)
        .first()
        .and_then(|r| r.json())
        .ok_or_else(|| anyhow::anyhow!("no chat request"))?;
    let system = sent["messages"][0]["content"].as_str().unwrap_or_default();
    ensure!(
        system.ends_with(&format!("The user is reading this web page:\n{edited}")),
        "sent: {system}\nedited: {edited}"
    );
    ensure!(!system.contains("Gem Manufacturing"), "{system}");
    Ok(b)
}

/// The agent's conversation list for the site: start a new conversation,
/// switch between them, delete one; the history after a reload is the
/// newest remaining conversation.
async fn the_agent_lists_opens_starts_and_deletes_conversations(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/");
    b.ask_on(&page, "What is the Gem clip?").await?;
    b.enter_agent().await?;
    click_button(&b, "New conversation").await?;
    b.wait_until(Duration::from_secs(10), "an empty log", || async {
        Ok(b.messages().await?.is_empty())
    })
    .await?;
    b.ask("Who made paperclips?").await?;
    b.wait_answer(0).await?;
    click_button(&b, "Conversations on this site").await?;
    let list_items = || async {
        let v = b
            .client
            .execute(
                "return [...document.querySelectorAll('.site-conversations li')].map(li =>
                   [li.querySelector('.open').firstChild.textContent, li.hasAttribute('aria-current')]);",
                vec![],
            )
            .await?;
        anyhow::Ok(serde_json::from_value::<Vec<(String, bool)>>(v)?)
    };
    let listed = b
        .poll(Duration::from_secs(10), "the list", || async {
            let items = list_items().await?;
            Ok((items.len() == 2).then_some(items))
        })
        .await?;
    ensure!(
        listed
            == vec![
                ("Who made paperclips?".to_string(), true),
                ("What is the Gem clip?".to_string(), false)
            ],
        "{listed:?}"
    );
    // Open the first conversation.
    let first = b
        .client
        .find_all(fantoccini::Locator::Css(".site-conversations li .open"))
        .await?;
    b.click(&first[1]).await?;
    b.wait_until(
        Duration::from_secs(10),
        "the first conversation",
        || async {
            let m = b.messages().await?;
            Ok(m.first().map(|(_, t)| t.as_str()) == Some("What is the Gem clip?"))
        },
    )
    .await?;
    // Delete the second.
    click_button(&b, "Conversations on this site").await?;
    click_button(&b, "Delete conversation Who made paperclips?").await?;
    let left = b
        .poll(Duration::from_secs(10), "the deletion", || async {
            let items = list_items().await?;
            Ok((items.len() == 1).then_some(items))
        })
        .await?;
    ensure!(
        left == vec![("What is the Gem clip?".to_string(), true)],
        "{left:?}"
    );
    // After a reload, the remaining conversation is restored.
    b.top().await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let restored = b.messages().await?;
    ensure!(
        restored.first().map(|(_, t)| t.as_str()) == Some("What is the Gem clip?"),
        "{restored:?}"
    );
    Ok(b)
}

/// "Translate selection" and "Ask about selection" send the selection as
/// context with the action's question; Escape stops nothing when idle.
async fn quick_actions_on_the_selection(b: Browser, server: Server) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    let page = server.url("/");
    b.client.goto(&page).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    b.client.goto(&page).await?;
    let selected = b.select_paragraph("springy").await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    click_button(&b, "Translate selection").await?;
    let (translated, _) = b.wait_answer(0).await?;
    ensure!(
        translated.starts_with("Echo: Translate the selection into my language ("),
        "{translated}"
    );
    let system = |n: usize| {
        chat_requests(&fake)
            .get(n)
            .and_then(|r| r.json())
            .and_then(|j| j["messages"][0]["content"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    ensure!(
        system(0).contains(&format!("Selected text:\n{selected}")),
        "{}",
        system(0)
    );
    click_button(&b, "Ask about selection").await?;
    b.control("button", "Cancel asking about the selection")
        .await?;
    b.ask("Why does it hold?").await?;
    let (asked, _) = b.wait_answer(1).await?;
    ensure!(
        asked == "Echo: About the selection: Why does it hold?",
        "{asked}"
    );
    ensure!(system(1).contains("Selected text:"), "{}", system(1));
    let users: Vec<String> = b
        .messages()
        .await?
        .into_iter()
        .filter(|(role, _)| role == "user")
        .map(|(_, t)| t)
        .collect();
    ensure!(
        users.last().map(String::as_str) == Some("About the selection: Why does it hold?"),
        "{users:?}"
    );
    Ok(b)
}

/// Drives the character through its states — greeting, idle, thinking,
/// speaking, alert, hesitating (a fallback provider answers), goodbye — and
/// Clippette; checks each state's `data-animation` and saves a screenshot
/// of each in `target/e2e-artifacts/animation-<browser>-<state>.png`.
async fn every_animation_state_is_shown_and_saved(b: Browser, server: Server) -> Result<Browser> {
    use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
    let (primary, backup) = (FakeProvider::start()?, FakeProvider::start()?);
    let page = server.url("/");
    b.client.goto(&page).await?;
    add_fake_provider(&b, "primary", &primary).await?;
    add_fake_provider(&b, "backup", &backup).await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    let shot = |state: &'static str| {
        let b = &b;
        async move {
            let path = root().join(format!(
                "target/e2e-artifacts/animation-{}-{state}.png",
                b.kind.name()
            ));
            b.screenshot(&path).await?;
            b.enter_agent_now().await
        }
    };
    b.enter_agent_now().await?;
    let state = || async {
        let v = b
            .client
            .execute(
                "const c = document.querySelector('svg.clippy');
                 return c ? [c.dataset.animation, c.getAttribute('class')] : null;",
                vec![],
            )
            .await?;
        anyhow::Ok(v)
    };
    let reach = |want: &'static str| {
        let state = &state;
        let b = &b;
        async move {
            b.poll(Duration::from_secs(15), want, || async {
                let v = state().await?;
                Ok((v[0] == want).then_some(v))
            })
            .await
        }
    };
    reach("greeting").await?;
    shot("greeting").await?;
    reach("idle").await?;
    shot("idle").await?;

    primary.set_down_with(Fault::HangBeforeHeaders);
    b.ask("Think about it").await?;
    reach("thinking").await?;
    shot("thinking").await?;
    click_button(&b, "Stop").await?;
    reach("idle").await?;
    primary.set_down(false);

    primary.script(
        Route::ChatCompletions,
        vec![Fault::SlowTrickle {
            delay_ms: 400,
            piece_bytes: None,
        }],
    );
    b.ask("Speak slowly").await?;
    reach("speaking").await?;
    shot("speaking").await?;
    b.wait_answer(0).await?;

    primary.script(
        Route::ChatCompletions,
        vec![Fault::DropMidStream { after_chunks: 1 }],
    );
    b.ask("Break it").await?;
    reach("alert").await?;
    shot("alert").await?;

    primary.script(Route::ChatCompletions, vec![Fault::Status(401)]);
    b.ask("Ask the other one").await?;
    b.wait_answer(2).await?;
    reach("hesitating").await?;
    shot("hesitating").await?;

    click_button(&b, "Close Clippy").await?;
    reach("goodbye").await?;
    let path = root().join(format!(
        "target/e2e-artifacts/animation-{}-goodbye.png",
        b.kind.name()
    ));
    b.screenshot(&path).await?;

    // The other character.
    ok(
        &b,
        json!({"type": "SetPreference", "key": "agent.character", "value": "clippette"}),
    )
    .await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let look = reach("idle").await?;
    ensure!(
        look[1].as_str().unwrap_or_default().contains("clippette"),
        "{look}"
    );
    shot("clippette").await?;
    Ok(b)
}

/// The agent's offsets from the viewport's right and bottom edges, read
/// from its host element in the page.
async fn agent_place(b: &Browser) -> Result<(String, String)> {
    b.top().await?;
    let v = b
        .client
        .execute(
            "const h = document.querySelector('paperclip-agent');
             return [h.style.right, h.style.bottom];",
            vec![],
        )
        .await?;
    b.enter_agent_now().await?;
    Ok((
        v[0].as_str().unwrap_or_default().to_string(),
        v[1].as_str().unwrap_or_default().to_string(),
    ))
}

/// The agent is dragged by its handle and moved with arrow keys; the place
/// is remembered for the site (after a reload), and another site keeps the
/// default corner.
async fn the_agent_is_moved_and_remembered_per_site(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let handle = b.control("button", "Move Clippy").await?;
    // A drag 50 px left and 20 px up, then two steps up with the keyboard.
    b.client
        .execute(
            "const h = arguments[0];
             const at = (type, x, y) => h.dispatchEvent(new PointerEvent(type,
               { bubbles: true, button: 0, pointerId: 1, screenX: x, screenY: y }));
             at('pointerdown', 500, 500); at('pointermove', 470, 490); at('pointermove', 450, 480);
             at('pointerup', 450, 480);
             for (const key of ['ArrowUp', 'ArrowUp'])
               h.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));",
            vec![serde_json::to_value(&handle)?],
        )
        .await?;
    let moved = ("66px".to_string(), (16 + 20 + 48).to_string() + "px");
    b.poll(Duration::from_secs(5), "the agent to move", || async {
        let at = agent_place(&b).await?;
        Ok((at == moved).then_some(()))
    })
    .await?;
    // Remembered for this site…
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    b.poll(Duration::from_secs(5), "the remembered place", || async {
        let at = agent_place(&b).await?;
        Ok((at == moved).then_some(()))
    })
    .await?;
    // …and only for it (another port is another site); Home puts it back.
    let other_server = Server::start(&root())?;
    let other = other_server.url("/");
    b.client.goto(&other).await?;
    b.activate(&other).await?;
    b.enter_agent().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at = agent_place(&b).await?;
    ensure!(at == ("16px".into(), "16px".into()), "{at:?}");
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let handle = b.control("button", "Move Clippy").await?;
    b.client
        .execute(
            "arguments[0].dispatchEvent(new KeyboardEvent('keydown', { key: 'Home', bubbles: true }));",
            vec![serde_json::to_value(&handle)?],
        )
        .await?;
    b.poll(Duration::from_secs(5), "the default place", || async {
        let at = agent_place(&b).await?;
        Ok((at == ("16px".into(), "16px".into())).then_some(()))
    })
    .await?;
    Ok(b)
}

/// Selecting text on the page makes the character look and point toward
/// it for a moment, then it goes back to idling.
async fn the_character_points_at_the_selection(b: Browser, server: Server) -> Result<Browser> {
    let page = server.url("/");
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    // Past the greeting.
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    b.top().await?;
    b.client
        .execute(
            "const p = document.querySelector('h1');
             const r = document.createRange(); r.selectNodeContents(p);
             const s = getSelection(); s.removeAllRanges(); s.addRange(r);",
            vec![],
        )
        .await?;
    b.enter_agent_now().await?;
    let animation = || async {
        let v = b
            .client
            .execute(
                "const svg = document.querySelector('svg.clippy');
                 return [svg.dataset.animation, svg.getAttribute('class')];",
                vec![],
            )
            .await?;
        Ok::<_, anyhow::Error>((
            v[0].as_str().unwrap_or_default().to_string(),
            v[1].as_str().unwrap_or_default().to_string(),
        ))
    };
    let class = b
        .poll(Duration::from_secs(5), "the character to point", || async {
            let (name, class) = animation().await?;
            Ok((name == "pointing").then_some(class))
        })
        .await?;
    // The heading is up and to the left of the agent's corner.
    ensure!(
        class.contains("point-up-left")
            || class.contains("point-left")
            || class.contains("point-up"),
        "{class}"
    );
    let path = root().join(format!(
        "target/e2e-artifacts/animation-{}-pointing.png",
        b.kind.name()
    ));
    b.screenshot(&path).await?;
    b.enter_agent_now().await?;
    b.poll(Duration::from_secs(6), "the pointing to end", || async {
        let (name, _) = animation().await?;
        Ok((name != "pointing").then_some(()))
    })
    .await?;
    Ok(b)
}
