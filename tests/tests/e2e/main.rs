//! The vertical slice, end to end, in real Chromium and Firefox with the
//! built extension. Every scenario runs in both browsers (one test each);
//! run them one at a time (`--test-threads=1`): each starts a browser.
//!
//! Areas with a module of their own: `activation` (the popup's button, the
//! shortcut, the context menu, and the README's "Using it" walked through)
//! and `controls` (the options page's and the panel's remaining controls).

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::{root, server::Server, Browser, Kind};
use serde_json::{json, Value};

/// Runs `scenario` in a fresh browser of `kind`, with a page server.
async fn with_browser<F, Fut>(kind: Kind, scenario: F) -> Result<()>
where
    F: FnOnce(Browser, Server) -> Fut,
    Fut: std::future::Future<Output = Result<Browser>>,
{
    with_browser_prefs(kind, json!({}), scenario).await
}

/// [`with_browser`] with extra Firefox preferences.
async fn with_browser_prefs<F, Fut>(kind: Kind, prefs: Value, scenario: F) -> Result<()>
where
    F: FnOnce(Browser, Server) -> Fut,
    Fut: std::future::Future<Output = Result<Browser>>,
{
    let server = Server::start(&root())?;
    let browser = Browser::launch_with_prefs(kind, true, prefs).await?;
    let client = browser.client.clone();
    match scenario(browser, server).await {
        Ok(browser) => {
            browser.close().await;
            Ok(())
        }
        Err(e) => {
            let png = root().join(format!("target/e2e-artifacts/failure-{}.png", kind.name()));
            let _ = client.screenshot().await.map(|b| {
                let _ = std::fs::create_dir_all(png.parent().unwrap());
                std::fs::write(&png, b)
            });
            let _ = client.close().await;
            Err(e.context(format!("{kind:?} (screenshot: {})", png.display())))
        }
    }
}

macro_rules! in_both_browsers {
    ($($name:ident),* $(,)?) => {
        mod chromium {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() -> anyhow::Result<()> {
                crate::with_browser(paperclip_e2e::Kind::Chromium, super::$name).await
            })*
        }
        mod firefox {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() -> anyhow::Result<()> {
                crate::with_browser(paperclip_e2e::Kind::Firefox, super::$name).await
            })*
        }
    };
}

mod activation;
mod controls;

in_both_browsers!(
    ask_stream_reload_restore,
    strict_csp_page,
    popup_and_devtools_list_the_conversation,
    web_pages_cannot_reach_the_background,
    bad_messages_get_clear_errors,
    export_and_import_through_the_options_page,
    preferences_and_storage_on_the_options_page,
    providers_on_the_options_page,
    answers_stream_from_the_provider_and_fall_back_offline,
    the_fallback_provider_answers_when_the_primary_fails,
    every_stream_fault_ends_in_an_answer_or_a_clear_choice,
    cached_answers_then_the_breaker_opens_and_recovers,
    resilience_settings_on_the_options_page,
    chrome_built_in_ai_is_feature_detected,
    answers_render_markdown_and_never_run_script,
    page_context_the_user_turned_off_is_not_sent,
    the_preview_shows_exactly_what_is_sent,
    the_agent_lists_opens_starts_and_deletes_conversations,
    quick_actions_on_the_selection,
    every_animation_state_is_shown_and_saved,
    saved_pages_are_read_by_the_core_and_reread_only_after_a_change,
    the_agent_is_moved_and_remembered_per_site,
    the_character_points_at_the_selection,
    hints_only_where_allowed_never_sent_and_backing_off,
    text_contrast_meets_wcag_aa,
    keyboard_only,
    telemetry_reaches_a_collector_only_after_opt_in_and_survives_an_outage,
);

#[tokio::test(flavor = "multi_thread")]
async fn chromium_background_wakes_for_the_first_message_after_stopping() -> Result<()> {
    with_browser(
        Kind::Chromium,
        background_wakes_for_the_first_message_after_stopping,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn firefox_background_wakes_for_the_first_message_after_stopping() -> Result<()> {
    // Suspend the idle event page after 2 s instead of 30 s (the pref is in
    // milliseconds).
    let prefs = json!({"extensions.background.idle.timeout": 2000});
    with_browser_prefs(
        Kind::Firefox,
        prefs,
        background_wakes_for_the_first_message_after_stopping,
    )
    .await
}

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

/// A web page has no channel to the background, cannot read the agent, and
/// cannot make it do anything.
async fn web_pages_cannot_reach_the_background(b: Browser, server: Server) -> Result<Browser> {
    let answer = b.ask_on(&server.url("/"), "Summarize this page").await?;

    let list = b
        .request(json!({"type": "ListConversations", "limit": 10}))
        .await?;
    let id = list["body"]["ok"]["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure!(!id.is_empty(), "{list}");
    let ext_id = b.base.split('/').nth(2).unwrap_or_default().to_string();

    // From the page's own JavaScript: try every door.
    let attempt = b
        .client
        .execute_async(
            "const [extId, convId, done] = arguments;
             const out = {};
             const msg = {v: 1, body: {type: 'DeleteConversation', id: convId}};
             const rt = globalThis.chrome?.runtime ?? globalThis.browser?.runtime;
             out.runtime = typeof rt?.sendMessage;
             const host = document.querySelector('paperclip-agent');
             out.shadowReadable = !!(host && host.shadowRoot);
             out.pageSeesChat = document.documentElement.innerText.includes('Summary of');
             window.postMessage(msg, '*');
             if (rt?.sendMessage) {
               try {
                 rt.sendMessage(extId, msg, (reply) => { out.reply = reply ?? null; out.lastError = String(rt.lastError?.message); done(out); });
                 return;
               } catch (e) { out.error = String(e); }
             }
             done(out);",
            vec![json!(ext_id), json!(id)],
        )
        .await?;
    ensure!(
        attempt["shadowReadable"] == json!(false),
        "the page reads the agent: {attempt}"
    );
    ensure!(
        attempt["pageSeesChat"] == json!(false),
        "the page sees the chat: {attempt}"
    );
    ensure!(
        attempt["runtime"] != json!("function")
            || attempt["reply"].is_null()
            || attempt["reply"]["body"]["err"]["kind"] == "forbidden",
        "a web page got an answer from the background: {attempt}"
    );
    // Nothing happened: the conversation is intact.
    let got = b
        .request(json!({"type": "GetConversation", "id": id}))
        .await?;
    let messages = &got["body"]["ok"]["conversation"]["messages"];
    ensure!(messages.as_array().map(Vec::len) == Some(2), "{got}");
    ensure!(messages[1]["text"] == json!(answer), "{got}");

    // After a reload (no activation), a page that embeds agent.html itself
    // gets no history and no answers.
    b.client.refresh().await?;
    let embedded = b
        .client
        .execute_async(
            "const [url, done] = arguments;
             const f = document.createElement('iframe');
             f.src = url; f.id = 'evil-frame';
             f.onload = () => done(true); f.onerror = () => done(false);
             document.body.append(f);",
            vec![json!(format!("{}agent.html", b.base))],
        )
        .await?;
    ensure!(
        embedded == json!(true),
        "agent.html did not load in the page's frame"
    );
    let frame = b
        .client
        .find(fantoccini::Locator::Css("#evil-frame"))
        .await?;
    frame.enter_frame().await?;
    let url = b.client.execute("return document.URL", vec![]).await?;
    ensure!(
        url.as_str().is_some_and(|u| u.starts_with(&b.base)),
        "the embedded frame is not the agent: {url}"
    );
    let alert = b
        .poll(
            Duration::from_secs(10),
            "the embedded agent's alert",
            || b.text_of("[role=alert]"),
        )
        .await?;
    ensure!(
        alert.contains("not activated"),
        "the embedded agent was served: {alert:?}"
    );
    ensure!(
        b.messages().await?.is_empty(),
        "the embedded agent got the history"
    );
    b.top().await?;
    Ok(b)
}

/// Malformed, unknown and wrong-version messages from an extension page get
/// precise error replies, never a crash; the background keeps working.
async fn bad_messages_get_clear_errors(b: Browser, _server: Server) -> Result<Browser> {
    let send_raw = "const [message, done] = arguments;
        const api = globalThis.browser ?? globalThis.chrome;
        api.runtime.sendMessage(message).then(done, (e) => done({error: String(e)}));";
    let cases: [(Value, &str, &str); 5] = [
        (
            json!({"v": 1, "body": {"type": "DropDatabase"}}),
            "unknown_type",
            "DropDatabase",
        ),
        (
            json!({"v": 7, "body": {"type": "Ping"}}),
            "unsupported_version",
            "version 7",
        ),
        (
            json!({"v": 1, "body": {"type": "ListConversations", "limit": "all"}}),
            "malformed",
            "invalid type",
        ),
        (json!({"hello": "world"}), "malformed", "`v`"),
        (json!("just a string"), "malformed", "not an envelope"),
    ];
    for (message, kind, needle) in cases {
        let reply = b
            .in_extension_page("options.html", send_raw, message.clone())
            .await?;
        let err = &reply["body"]["err"];
        ensure!(err["kind"] == json!(kind), "{message} → {reply}");
        ensure!(
            err["message"].as_str().unwrap_or_default().contains(needle),
            "{message} → {reply}"
        );
    }
    let pong = b.request(json!({"type": "Ping"})).await?;
    ensure!(pong["body"]["ok"]["protocol"] == json!(1), "{pong}");
    Ok(b)
}

/// Chromium: stop the background service worker (CDP), then ask: the first
/// message after the cold start is answered. Prints warm and cold latency
/// from "Send" to the first answer chunk.
#[tokio::test(flavor = "multi_thread")]
async fn chromium_cold_worker_answers_first_message() -> Result<()> {
    with_browser(Kind::Chromium, |b, server| async move {
        let page = server.url("/");
        b.client.goto(&page).await?;
        b.activate(&page).await?;
        b.enter_agent().await?;
        let warm = b.ask_timed("Summarize this page", 0).await?;
        b.wait_answer(0).await?;

        b.top().await?;
        let (before, _) = b.background_instance().await?;
        b.stop_service_workers().await?;

        b.enter_agent().await?;
        let cold = b.ask_timed("What is the Gem clip?", 1).await?;
        let (answer, _) = b.wait_answer(1).await?;
        ensure!(answer.contains("Gem clip"), "{answer}");
        b.top().await?;
        let (after, ready) = b.background_instance().await?;
        ensure!(
            after > before,
            "the worker did not restart ({before}, then {after})"
        );
        println!(
            "cold start of the worker to ready (wasm loaded, storage open): {ready:.0} ms; \
             Send to first answer chunk: warm {warm:.0} ms, after the stop {cold:.0} ms"
        );
        Ok(b)
    })
    .await
}

/// Export, then import through the options page's file picker (a copy with
/// one new conversation), a hostile file that changes nothing, and a
/// Markdown export.
async fn export_and_import_through_the_options_page(b: Browser, server: Server) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    let back = b.open_tab("options.html").await?;
    let export = b.control("button", "Export all conversations").await?;
    export.click().await?;
    let status = b
        .poll(Duration::from_secs(10), "[role=status]", || {
            b.text_of(".data [role=status]")
        })
        .await?;
    ensure!(status == "Exported 1 conversations.", "{status}");
    let text = b.downloaded("paperclip-export.json").await?;
    let mut file: Value = serde_json::from_str(&text)?;
    ensure!(
        file["format"] == json!("paperclip-export") && file["version"] == json!(1),
        "{file}"
    );
    ensure!(
        file["conversations"].as_array().map(Vec::len) == Some(1),
        "{file}"
    );
    let mut copy = file["conversations"][0].clone();
    copy["id"] = json!("imported-conversation");
    copy["title"] = json!("An imported conversation");
    file["conversations"]
        .as_array_mut()
        .expect("array")
        .push(copy);

    let dir = tempfile::tempdir()?;
    let good = dir.path().join("paperclip-export.json");
    std::fs::write(&good, serde_json::to_string(&file)?)?;
    let bad = dir.path().join("garbage.json");
    std::fs::write(&bad, b"\x00\x01 definitely not an export")?;

    let input = b
        .client
        .wait()
        .for_element(fantoccini::Locator::Css("#import-file"))
        .await?;
    input.send_keys(&good.display().to_string()).await?;
    let status = b
        .poll(Duration::from_secs(10), "[role=status]", || async {
            Ok(b.text_of(".data [role=status]")
                .await?
                .filter(|t| t.starts_with("Imported")))
        })
        .await?;
    ensure!(
        status == "Imported: 1 added, 0 replaced, 1 kept as they were.",
        "{status}"
    );
    let input = b
        .client
        .find(fantoccini::Locator::Css("#import-file"))
        .await?;
    input.send_keys(&bad.display().to_string()).await?;
    let alert = b
        .poll(Duration::from_secs(10), "[role=alert]", || {
            b.text_of("[role=alert]")
        })
        .await?;
    ensure!(
        alert.starts_with("import refused, nothing changed: $: not a JSON object"),
        "{alert}"
    );
    b.close_tab(back).await?;

    let list = b
        .request(json!({"type": "ListConversations", "limit": 10}))
        .await?;
    let titles: Vec<&str> = list["body"]["ok"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["title"].as_str())
        .collect();
    ensure!(
        titles.len() == 2 && titles.contains(&"An imported conversation"),
        "{list}"
    );

    // The Markdown export: the devtools panel's "Export as Markdown" on
    // the conversation opened from its list.
    let back = b.open_tab("panel.html").await?;
    let open = b.control("button.link", "What is the Gem clip?").await?;
    open.click().await?;
    let export = b.control("button", "Export as Markdown").await?;
    export.click().await?;
    let markdown = b.downloaded("what-is-the-gem-clip.md").await?;
    ensure!(
        markdown.starts_with("# What is the Gem clip?\n"),
        "{markdown}"
    );
    b.close_tab(back).await?;
    Ok(b)
}

/// The background stops when idle (Chromium: stopped through CDP; Firefox:
/// the event page suspends after the 2 s idle timeout this test sets) and
/// the first message afterwards is answered by a new instance.
async fn background_wakes_for_the_first_message_after_stopping(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let (started, _) = b.background_instance().await?;
    b.client.goto(&server.url("/")).await?;
    match b.kind {
        Kind::Chromium => b.stop_service_workers().await?,
        Kind::Firefox => tokio::time::sleep(Duration::from_secs(6)).await,
    }
    let (restarted, ready) = b.background_instance().await?;
    ensure!(
        restarted > started,
        "the background did not restart (started {started}, then {restarted})"
    );
    println!(
        "{:?}: background restarted, ready {ready:.0} ms after its start",
        b.kind
    );
    let list = b
        .request(json!({"type": "ListConversations", "limit": 5}))
        .await?;
    ensure!(
        list["body"]["ok"]["type"] == json!("ConversationList"),
        "{list}"
    );
    Ok(b)
}

/// Firefox suspends an idle event page even while the agent's port is open
/// (here after 5 s instead of 30 s); the agent reconnects on the next send
/// and the question is answered, not lost.
#[tokio::test(flavor = "multi_thread")]
async fn firefox_agent_survives_the_event_page_suspending() -> Result<()> {
    let prefs = json!({"extensions.background.idle.timeout": 5000});
    with_browser_prefs(Kind::Firefox, prefs, |b, server| async move {
        let page = server.url("/");
        b.client.goto(&page).await?;
        b.activate(&page).await?;
        b.enter_agent().await?;
        let (before, _) = b.background_instance().await?;
        b.enter_agent().await?;
        tokio::time::sleep(Duration::from_secs(12)).await;
        b.ask("Who wore paperclips on their lapels?").await?;
        let (answer, _) = b.wait_answer(0).await?;
        ensure!(answer.contains("Norwegians"), "{answer}");
        b.top().await?;
        let (after, _) = b.background_instance().await?;
        ensure!(
            after > before,
            "the event page never suspended, so this tested nothing ({before}, then {after})"
        );
        Ok(b)
    })
    .await
}

/// Keyboard only, with real key events (`Browser::type_keys`): the input
/// has focus when the agent opens, Enter sends, Escape stops an answer in
/// progress, and Escape again closes the agent, removing it from the page.
async fn keyboard_only(b: Browser, server: Server) -> Result<Browser> {
    {
        use fantoccini::key::Key;
        use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
        let fake = FakeProvider::start()?;
        let page = server.url("/");
        b.client.goto(&page).await?;
        add_fake_provider(&b, "Fake", &fake).await?;
        b.client.goto(&page).await?;
        b.activate(&page).await?;
        b.enter_agent().await?;
        let focused = b
            .client
            .execute(
                "return document.activeElement.getAttribute('aria-label');",
                vec![],
            )
            .await?;
        ensure!(focused == "Ask Clippy", "focus on open: {focused}");
        let keys = |text: String| {
            let b = &b;
            async move { b.type_keys(&text).await }
        };
        keys(format!("Hello there{}", char::from(Key::Enter))).await?;
        let (answer, _) = b.wait_answer(0).await?;
        ensure!(answer == "Echo: Hello there", "{answer}");
        fake.script(
            Route::ChatCompletions,
            vec![Fault::SlowTrickle {
                delay_ms: 700,
                piece_bytes: None,
            }],
        );
        keys(format!("Slowly please{}", char::from(Key::Enter))).await?;
        wait_last(&b, "the first piece", |v| {
            v["n"] == 2 && v["text"].as_str().is_some_and(|t| !t.is_empty())
        })
        .await?;
        keys(char::from(Key::Escape).to_string()).await?;
        let stopped = wait_last(&b, "the stop", |v| v["status"] == "interrupted").await?;
        ensure!(stopped["alert"].is_null(), "{stopped}");
        // Focus is still in the input: Escape closes the agent.
        keys(char::from(Key::Escape).to_string()).await?;
        b.top().await?;
        b.wait_until(Duration::from_secs(10), "the agent to close", || async {
            let n = b
                .client
                .execute(
                    "return document.querySelectorAll('paperclip-agent').length;",
                    vec![],
                )
                .await?;
            Ok(n == json!(0))
        })
        .await?;
    }
    Ok(b)
}

/// What to do to a preference's control on the options page.
enum Pref<'a> {
    /// Tick or untick a checkbox (clicked only when it differs).
    Tick(bool),
    /// Replace a text field's content (then Tab, which commits it).
    Type(&'a str),
}

/// Changes preference `key` as a user does, through its control on the
/// options page (`#pref-<key>`), and waits for the page's "Saved …" line;
/// back in the current tab afterwards.
async fn set_option(b: &Browser, key: &str, edit: Pref<'_>) -> Result<()> {
    use fantoccini::key::Key;
    let back = b.open_tab("options.html").await?;
    let result = async {
        let id = format!("#pref-{}", key.replace('.', "-"));
        let control = b
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(fantoccini::Locator::Css(&id))
            .await?;
        match edit {
            Pref::Tick(on) => {
                if control.is_selected().await? != on {
                    control.click().await?;
                }
            }
            Pref::Type(text) => {
                control.clear().await?;
                control
                    .send_keys(&format!("{text}{}", char::from(Key::Tab)))
                    .await?;
            }
        }
        let saved = format!("Saved {key} = ");
        b.poll(Duration::from_secs(10), &saved, || async {
            let all = b
                .client
                .execute(
                    "return [...document.querySelectorAll('.preferences [role=status], .preferences [role=alert]')].map(s => s.textContent).join(' ');",
                    vec![],
                )
                .await?;
            let all = all.as_str().unwrap_or_default().to_string();
            Ok(all.contains(&saved).then_some(()))
        })
        .await
    }
    .await;
    b.close_tab(back).await?;
    result
}

/// Fills the options page's "Telemetry export" form (collector URL, JSON
/// endpoint URL, console box), clicks "Save export settings" and returns
/// what the page says: `(true, "Saved.")` or `(false, the refusal)`.
async fn save_telemetry_export(
    b: &Browser,
    otlp: &str,
    json_url: &str,
    console: bool,
) -> Result<(bool, String)> {
    telemetry_form(b, |b| async move {
        for (id, text) in [("#otlp-url", otlp), ("#json-url", json_url)] {
            let input = b.client.find(fantoccini::Locator::Css(id)).await?;
            input.clear().await?;
            input.send_keys(text).await?;
        }
        let console_box = b
            .client
            .find(fantoccini::Locator::Css("#telemetry-console"))
            .await?;
        if console_box.is_selected().await? != console {
            console_box.click().await?;
        }
        b.control("button", "Save export settings")
            .await?
            .click()
            .await?;
        Ok(())
    })
    .await
}

/// Clicks the options page's "Send now" (telemetry export); returns what
/// the page says.
async fn send_telemetry_now(b: &Browser) -> Result<String> {
    let (sent, said) = telemetry_form(b, |b| async move {
        let button = b.control("button", "Send now").await?;
        ensure!(button.is_enabled().await?, "\"Send now\" is disabled");
        button.click().await?;
        Ok(())
    })
    .await?;
    ensure!(sent, "Send now: {said}");
    Ok(said)
}

/// Runs `act` on the options page's telemetry section (in a tab of its
/// own) and returns its message line as `(is a status, text)`.
async fn telemetry_form<'a, F, Fut>(b: &'a Browser, act: F) -> Result<(bool, String)>
where
    F: FnOnce(&'a Browser) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let back = b.open_tab("options.html").await?;
    let result = async {
        b.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(fantoccini::Locator::Css("#otlp-url"))
            .await?;
        // The section has read the current settings once its line shows.
        b.wait_until(Duration::from_secs(10), "the export settings", || async {
            Ok(b.text_of(".telemetry-export p.meta").await?.is_some())
        })
        .await?;
        act(b).await?;
        b.poll(Duration::from_secs(10), "the export's message", || async {
            if let Some(t) = b.text_of(".telemetry-export [role=status]").await? {
                return Ok(Some((true, t)));
            }
            Ok(b.text_of(".telemetry-export [role=alert]")
                .await?
                .map(|t| (false, t)))
        })
        .await
    }
    .await;
    b.close_tab(back).await?;
    result
}

/// Sends `body` and returns the `ok` payload, failing on an error reply.
async fn ok(b: &Browser, body: Value) -> Result<Value> {
    let reply = b.request(body).await?;
    ensure!(!reply["body"]["ok"].is_null(), "{reply}");
    Ok(reply["body"]["ok"].clone())
}

/// Everything the storage engine keeps — the conversation, its tags, the
/// preferences — is there after the worker was killed and restarted.
#[tokio::test(flavor = "multi_thread")]
async fn chromium_storage_survives_a_worker_restart() -> Result<()> {
    with_browser(Kind::Chromium, |b, server| async move {
        b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
        let list = ok(&b, json!({"type": "ListConversations", "limit": 10})).await?;
        let id = list["items"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let tags = ok(
            &b,
            json!({"type": "SetTags", "id": id, "tags": [" Reading "]}),
        )
        .await?;
        ensure!(tags["tags"] == json!(["reading"]), "{tags}");
        ok(
            &b,
            json!({"type": "SetPreference", "key": "ui.theme", "value": "dark"}),
        )
        .await?;
        let bad = b
            .request(json!({"type": "SetPreference", "key": "ui.font_scale", "value": 9}))
            .await?;
        let message = bad["body"]["err"]["message"].as_str().unwrap_or_default();
        ensure!(
            message.contains("ui.font_scale") && message.contains("outside"),
            "{bad}"
        );

        let (before, _) = b.background_instance().await?;
        b.stop_service_workers().await?;

        let tagged = ok(
            &b,
            json!({"type": "ListConversations", "limit": 10, "filter": {"tag": "reading"}}),
        )
        .await?;
        ensure!(
            tagged["items"].as_array().map(Vec::len) == Some(1),
            "{tagged}"
        );
        ensure!(tagged["items"][0]["id"] == json!(id), "{tagged}");
        let (after, _) = b.background_instance().await?;
        ensure!(after > before, "the worker did not restart");
        let prefs = ok(&b, json!({"type": "GetPreferences", "category": "ui"})).await?;
        let value = |key: &str| {
            prefs["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["key"] == json!(key))
                .map(|e| e["value"].clone())
        };
        ensure!(value("ui.theme") == Some(json!("dark")), "{prefs}");
        ensure!(
            value("ui.font_scale").and_then(|v| v.as_f64()) == Some(1.0),
            "the rejected value was not stored: {prefs}"
        );
        let conversation = ok(&b, json!({"type": "GetConversation", "id": id})).await?;
        let messages = conversation["conversation"]["messages"]
            .as_array()
            .map(Vec::len);
        ensure!(messages == Some(2), "{conversation}");
        let status = ok(&b, json!({"type": "GetStorageStatus"})).await?;
        ensure!(
            status["persistent"] == json!(true)
                && status["schema_version"] == json!(2)
                && status["conversations"] == json!(1),
            "{status}"
        );
        Ok(b)
    })
    .await
}

/// The options page's generated preferences form saves a choice, refuses a
/// bad number with the background's message, and shows storage health.
async fn preferences_and_storage_on_the_options_page(
    b: Browser,
    _server: Server,
) -> Result<Browser> {
    let back = b.open_tab("options.html").await?;
    let dark = b
        .client
        .wait()
        .for_element(fantoccini::Locator::Css(
            "#pref-ui-theme option[value=dark]",
        ))
        .await?;
    dark.click().await?;
    let saved = b
        .poll(Duration::from_secs(10), "saved status", || async {
            Ok(b.text_of(".preferences [role=status]")
                .await?
                .filter(|t| t.contains("ui.theme")))
        })
        .await?;
    ensure!(saved == "Saved ui.theme = \"dark\".", "{saved}");

    let scale = b
        .client
        .find(fantoccini::Locator::Css("#pref-ui-font_scale"))
        .await?;
    scale.clear().await?;
    scale.send_keys("9").await?;
    b.client
        .execute(
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}))",
            vec![serde_json::to_value(&scale)?],
        )
        .await?;
    let alert = b
        .poll(Duration::from_secs(10), "refusal", || async {
            Ok(b.text_of(".preferences [role=alert]")
                .await?
                .filter(|t| t.contains("outside")))
        })
        .await?;
    ensure!(
        alert.contains("ui.font_scale") && alert.contains("outside 0.8..=1.6"),
        "{alert}"
    );

    let persistent = b
        .poll(Duration::from_secs(10), "storage status", || {
            b.text_of("dl.storage-status dd")
        })
        .await?;
    ensure!(persistent == "yes", "{persistent}");

    b.client.refresh().await?;
    b.client
        .wait()
        .for_element(fantoccini::Locator::Css("#pref-ui-theme"))
        .await?;
    let theme = b
        .client
        .execute(
            "return document.querySelector('#pref-ui-theme').value",
            vec![],
        )
        .await?;
    ensure!(theme == json!("dark"), "after a reload: {theme}");
    let scale = b
        .client
        .execute(
            "return document.querySelector('#pref-ui-font_scale').value",
            vec![],
        )
        .await?;
    ensure!(
        scale.as_str().and_then(|s| s.parse::<f64>().ok()) == Some(1.0),
        "the refused value is not shown as saved: {scale}"
    );
    b.close_tab(back).await?;
    Ok(b)
}

/// A provider is added on the options page (host access requested on the
/// click), tested against the fake provider server, and its key never
/// comes back out: not in the list, not in an export, not in a reply.
async fn providers_on_the_options_page(b: Browser, _server: Server) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    let back = b.open_tab("options.html").await?;
    let find = |css: &'static str| b.client.wait().for_element(fantoccini::Locator::Css(css));
    find("#provider-label")
        .await?
        .send_keys("Fake local")
        .await?;
    find("#provider-url")
        .await?
        .send_keys(&fake.base_url())
        .await?;
    find("#provider-model")
        .await?
        .send_keys("fake-model-1")
        .await?;
    find("#provider-key")
        .await?
        .send_keys("sk-test-SECRET-123")
        .await?;
    find(".add-provider button[type=submit]")
        .await?
        .click()
        .await?;
    let saved = b
        .poll(Duration::from_secs(10), "saved", || async {
            Ok(b.text_of(".providers [role=status]")
                .await?
                .filter(|t| t.starts_with("Saved")))
        })
        .await?;
    ensure!(saved == "Saved Fake local.", "{saved}");
    let test = b
        .poll(Duration::from_secs(10), "the provider row", || async {
            Ok(b.client
                .find(fantoccini::Locator::XPath(
                    "//table[@aria-label='Providers']//button[.='Test connection']",
                ))
                .await
                .ok())
        })
        .await?;
    test.click().await?;
    let report = b
        .poll(Duration::from_secs(15), "connection report", || async {
            Ok(
                b.text_of(".providers [role=status], .providers [role=alert]")
                    .await?
                    .filter(|t| !t.starts_with("Saved")),
            )
        })
        .await?;
    ensure!(
        report.starts_with("Connected in ")
            && report.ends_with("Models: fake-model-1, fake-model-2"),
        "{report}"
    );
    // The key typed in the form is stored, sent to its provider, shown as
    // "set", and never shown again, even after a reload.
    let key_cell = b
        .text_of("table[aria-label='Providers'] tbody tr td:nth-child(6)")
        .await?;
    ensure!(key_cell.as_deref() == Some("set"), "key cell {key_cell:?}");
    b.client.refresh().await?;
    b.control("button", "Test connection").await?;
    let page = b
        .client
        .execute(
            "return document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join(' ');",
            vec![],
        )
        .await?;
    ensure!(
        !page.to_string().contains("SECRET"),
        "the options page shows the key"
    );
    b.close_tab(back).await?;
    let models = fake.requests();
    let models = models
        .iter()
        .find(|r| r.path == "/v1/models")
        .ok_or_else(|| anyhow::anyhow!("the fake server was not asked"))?;
    ensure!(
        models.headers.get("authorization").map(String::as_str) == Some("Bearer <redacted>"),
        "the key did not go to its provider: {:?}",
        models.headers
    );
    let list = ok(&b, json!({"type": "ListProviders"})).await?;
    ensure!(list["providers"][0]["has_key"] == json!(true), "{list}");
    let export = ok(&b, json!({"type": "ExportConversations", "ids": null})).await?;
    for (what, text) in [("list", list.to_string()), ("export", export.to_string())] {
        ensure!(
            !text.contains("SECRET"),
            "the key leaked into the {what}: {text}"
        );
    }
    let bad = b
        .request(json!({"type": "SaveProvider", "settings": {"id": "x", "kind": "openai_compatible", "label": "x", "base_url": "ftp://nope", "model": "m", "max_tokens": 10}, "key": {"action": "keep"}}))
        .await?;
    ensure!(
        bad["body"]["err"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{bad}"
    );
    let again = ok(&b, json!({"type": "ListProviders"})).await?;
    ensure!(
        again["providers"].as_array().map(Vec::len) == Some(1),
        "a bad save changed nothing: {again}"
    );
    Ok(b)
}

/// With a provider configured, the answer streams from it (the fake server
/// echoes the question and saw the page in the system prompt); when it
/// fails before any text, the offline answer comes instead, labelled.
async fn answers_stream_from_the_provider_and_fall_back_offline(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    add_fake_provider(&b, "Fake", &fake).await?;
    let answer = b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    ensure!(answer == "Echo: What is the Gem clip?", "{answer}");
    let sent = chat_requests(&fake)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no chat request"))?;
    ensure!(
        sent.body.contains("Gem clip") && sent.body.contains("Page title"),
        "{}",
        sent.body
    );

    use paperclip_e2e::fake_provider::{Fault, Route};
    // A 503 is retried (with backoff) and the answer still comes from the provider.
    fake.script(Route::ChatCompletions, vec![Fault::Status(503)]);
    b.enter_agent().await?;
    b.ask("Is it retried?").await?;
    let (retried, _) = b.wait_answer(1).await?;
    ensure!(retried == "Echo: Is it retried?", "{retried}");
    // A 401 is not retried: the labelled offline answer comes instead.
    fake.script(Route::ChatCompletions, vec![Fault::Status(401)]);
    b.ask("Who patented the paper clip?").await?;
    let (fallback, _) = b.wait_answer(2).await?;
    ensure!(
        fallback.starts_with("Fake: ") && fallback.contains("Answering from the page instead"),
        "{fallback}"
    );
    // A server that stays down opens the breaker: then the provider is not
    // even asked, and the offline answer says why.
    fake.set_down(true);
    for n in 3..5 {
        b.ask("Still there?").await?;
        b.wait_answer(n).await?;
    }
    let before = fake.requests().len();
    b.ask("And now?").await?;
    let (paused, _) = b.wait_answer(5).await?;
    ensure!(
        paused.contains("is paused after repeated failures"),
        "{paused}"
    );
    ensure!(
        fake.requests().len() == before,
        "the open breaker still let a request through"
    );
    b.top().await?;
    let c = latest_conversation(&b).await?;
    let providers: Vec<&str> = c["conversation"]["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["provider"].as_str())
        .collect();
    ensure!(providers.first() == Some(&"Fake"), "{c}");
    ensure!(providers.contains(&"offline (fallback)"), "{c}");
    ensure!(
        c["conversation"]["usage"]["tokens_out"].as_u64() > Some(0),
        "usage recorded: {c}"
    );
    Ok(b)
}

/// The fallback chain's second step: when the primary provider fails (a
/// 401: not retried), the configured fallback provider answers, labelled.
async fn the_fallback_provider_answers_when_the_primary_fails(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
    let (primary, fallback) = (FakeProvider::start()?, FakeProvider::start()?);
    for (id, fake) in [("primary", &primary), ("backup", &fallback)] {
        add_fake_provider(&b, id, fake).await?;
    }
    primary.script(Route::ChatCompletions, vec![Fault::Status(401)]);
    let answer = b.ask_on(&server.url("/"), "Which one answers?").await?;
    ensure!(answer == "Echo: Which one answers?", "{answer}");
    ensure!(
        primary.requests().len() == 1 && fallback.requests().len() == 1,
        "each asked once"
    );
    let c = latest_conversation(&b).await?;
    ensure!(
        c["conversation"]["messages"][1]["provider"] == json!("backup (fallback)"),
        "{c}"
    );
    Ok(b)
}

/// Saves an OpenAI-compatible provider `id` pointing at `fake`.
async fn add_fake_provider(
    b: &Browser,
    id: &str,
    fake: &paperclip_e2e::fake_provider::FakeProvider,
) -> Result<()> {
    let settings = json!({"id": id, "kind": "openai_compatible", "label": id,
        "base_url": fake.base_url(), "model": "fake-model-1", "max_tokens": 256});
    ok(
        b,
        json!({"type": "SaveProvider", "settings": settings, "key": {"action": "keep"}}),
    )
    .await?;
    Ok(())
}

/// The chat requests `fake` received, in order.
fn chat_requests(
    fake: &paperclip_e2e::fake_provider::FakeProvider,
) -> Vec<paperclip_e2e::fake_provider::RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect()
}

/// The most recently updated conversation, whole.
async fn latest_conversation(b: &Browser) -> Result<Value> {
    let list = ok(b, json!({"type": "ListConversations", "limit": 1})).await?;
    let id = list["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ok(b, json!({"type": "GetConversation", "id": id})).await
}

/// Starts a fake provider, saves it as "Fake", then opens `page`, shows
/// the agent and steps into it.
async fn agent_with_fake_provider(
    b: &Browser,
    page: &str,
) -> Result<paperclip_e2e::fake_provider::FakeProvider> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    b.client.goto(page).await?;
    add_fake_provider(b, "Fake", &fake).await?;
    b.client.goto(page).await?;
    b.activate(page).await?;
    b.enter_agent().await?;
    Ok(fake)
}

/// Changes the resilience settings through the protocol: `edit` gets the
/// current settings as JSON.
async fn set_resilience(b: &Browser, edit: impl FnOnce(&mut Value)) -> Result<Value> {
    let mut settings = ok(b, json!({"type": "GetResilience"})).await?["settings"].clone();
    edit(&mut settings);
    let saved = ok(
        b,
        json!({"type": "SetResilience", "settings": settings.clone()}),
    )
    .await?;
    ensure!(saved["settings"] == settings, "{saved}");
    Ok(settings)
}

/// The agent's last answer: status, text, label, the alert and which of
/// Stop / Continue / Retry are offered (run inside the agent frame).
async fn last_answer(b: &Browser) -> Result<Value> {
    Ok(b.client
        .execute(
            "const a = [...document.querySelectorAll('[role=log] .message.assistant')];
             const last = a[a.length - 1];
             const q = s => document.querySelector(s);
             return {n: a.length, status: last ? last.dataset.status : null,
                     text: last ? last.querySelector('.text').textContent : null,
                     label: last ? (last.querySelector('.label') || {}).textContent : null,
                     alert: q('[role=alert]') ? q('[role=alert]').textContent : null,
                     degraded: q('.degraded') ? q('.degraded').dataset.level : null,
                     stop: !!q('button.stop'), cont: !!q('button.continue'), retry: !!q('button.retry')};",
            vec![],
        )
        .await?)
}

/// Waits until `check` holds for [`last_answer`], and returns it.
async fn wait_last(b: &Browser, what: &str, check: impl Fn(&Value) -> bool) -> Result<Value> {
    let seen = std::sync::Mutex::new(Value::Null);
    b.poll(Duration::from_secs(30), what, || async {
        let v = last_answer(b).await?;
        *seen.lock().unwrap() = v.clone();
        Ok(check(&v).then_some(v))
    })
    .await
    .map_err(|e| e.context(format!("last seen: {}", seen.lock().unwrap())))
}

async fn click_button(b: &Browser, name: &str) -> Result<()> {
    let button = b.control("button", name).await?;
    b.click(&button).await
}

/// One request per fault the fake provider can inject, each with short
/// timeouts: the user always ends with a correct answer, a labelled
/// fallback answer, or an interrupted answer with a clear error and
/// Continue — never a hang, never a lost question. Stop works before and
/// during the stream; Retry and Continue finish the job.
async fn every_stream_fault_ends_in_an_answer_or_a_clear_choice(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    use paperclip_e2e::fake_provider::{FakeProvider, Fault, Route};
    let fake = FakeProvider::start()?;
    b.client.goto(&server.url("/")).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    let settings = set_resilience(&b, |s| {
        s["timeouts"] = json!({"first_byte_ms": 1500, "idle_ms": 1000, "total_ms": 20000});
        s["retry"]["base_ms"] = json!(20);
        s["retry"]["max_backoff_ms"] = json!(100);
        s["breaker"]["mode"] = json!({"consecutive": {"threshold": 100}});
    })
    .await?;
    // Settings out of range are refused, precisely, and change nothing.
    let mut bad = settings.clone();
    bad["timeouts"]["idle_ms"] = json!(5);
    let refused = b
        .request(json!({"type": "SetResilience", "settings": bad}))
        .await?;
    let message = refused["body"]["err"]["message"].as_str().unwrap_or("");
    ensure!(message.contains("timeouts.idle_ms"), "{refused}");
    let now = ok(&b, json!({"type": "GetResilience"})).await?;
    ensure!(now["settings"] == settings, "{now}");

    // 429 with Retry-After: 1 s — retried after the wait, then answered.
    fake.script(
        Route::ChatCompletions,
        vec![Fault::TooManyRequests { retry_after_s: 1 }],
    );
    let answer = b.ask_on(&server.url("/"), "Rate limited?").await?;
    ensure!(answer == "Echo: Rate limited?", "{answer}");
    let chat = chat_requests(&fake);
    ensure!(chat.len() == 2, "{} chat requests", chat.len());
    let waited = chat[1].at_ms.saturating_sub(chat[0].at_ms);
    ensure!(
        waited >= 900,
        "Retry-After honoured: retried after {waited} ms"
    );

    // A 500, a reset connection, a server that never answers, a slow
    // trickle cut inside UTF-8 characters: retried or waited out, then
    // answered.
    b.enter_agent().await?;
    let cases = [
        (Fault::Status(500), "After a 500?"),
        (Fault::Reset, "After a reset?"),
        (Fault::HangBeforeHeaders, "After a hang?"),
        (
            Fault::SlowTrickle {
                delay_ms: 20,
                piece_bytes: Some(7),
            },
            "Slowly, ünïcödé?",
        ),
    ];
    for (n, (fault, question)) in cases.into_iter().enumerate() {
        fake.script(Route::ChatCompletions, vec![fault.clone()]);
        b.ask(question).await?;
        let (answer, _) = b.wait_answer(n + 1).await?;
        ensure!(answer == format!("Echo: {question}"), "{fault:?}: {answer}");
    }

    // A stream that stalls after two pieces: the idle timeout cuts it, the
    // answer is kept as interrupted, and Continue finishes it.
    fake.script(
        Route::ChatCompletions,
        vec![Fault::StallMidStream {
            after_chunks: 2,
            for_ms: 5_000,
        }],
    );
    b.ask("Stall here?").await?;
    let cut = wait_last(&b, "the stalled answer to be interrupted", |v| {
        v["n"] == 6 && v["status"] == "interrupted" && v["alert"].is_string()
    })
    .await?;
    ensure!(cut["text"] == "Echo: St", "{cut}");
    ensure!(
        cut["alert"].as_str().unwrap_or("").contains("stalled") && cut["cont"] == true,
        "{cut}"
    );
    click_button(&b, "Continue").await?;
    let (continued, _) = b.wait_answer(5).await?;
    ensure!(
        continued.starts_with("Echo: StEcho: Your previous answer was cut off"),
        "{continued}"
    );
    let last = fake.requests().pop().map(|r| r.body).unwrap_or_default();
    ensure!(
        last.contains("\"content\":\"Echo: St\""),
        "the partial answer was sent: {last}"
    );

    // A connection dropped mid-stream: interrupted, with a clear error.
    fake.script(
        Route::ChatCompletions,
        vec![Fault::DropMidStream { after_chunks: 1 }],
    );
    b.ask("Dropped?").await?;
    let dropped = wait_last(&b, "the dropped answer to be interrupted", |v| {
        v["n"] == 7 && v["status"] == "interrupted" && v["alert"].is_string()
    })
    .await?;
    ensure!(
        dropped["text"] == "Echo" && dropped["cont"] == true,
        "{dropped}"
    );

    // A malformed first piece: not retried (a misconfiguration); the
    // offline answer comes instead, labelled, and the agent says it is
    // degraded.
    fake.script(
        Route::ChatCompletions,
        vec![Fault::MalformedChunk { at: 0 }],
    );
    b.ask("Malformed?").await?;
    let (fallback, _) = b.wait_answer(7).await?;
    ensure!(
        fallback.starts_with("Fake: ") && fallback.contains("Answering from the page instead"),
        "{fallback}"
    );
    let shown = last_answer(&b).await?;
    ensure!(
        shown["label"] == "Offline answer · from this page (fallback)"
            && shown["degraded"] == "offline",
        "{shown}"
    );

    // Stop during the stream keeps what arrived and offers Continue.
    fake.script(
        Route::ChatCompletions,
        // (A piece every 700 ms: within the 1 s idle timeout.)
        vec![Fault::SlowTrickle {
            delay_ms: 700,
            piece_bytes: None,
        }],
    );
    b.ask("Stop me?").await?;
    let first = wait_last(&b, "the first piece", |v| {
        v["n"] == 9 && v["text"].as_str().is_some_and(|t| !t.is_empty())
    })
    .await?;
    ensure!(
        first["stop"] == true,
        "Stop is offered while streaming: {first} {:?}",
        fake.requests()
            .iter()
            .map(|r| (r.at_ms, r.fault.clone()))
            .collect::<Vec<_>>()
    );
    click_button(&b, "Stop").await?;
    let stopped = wait_last(&b, "the stopped answer", |v| {
        v["status"] == "interrupted" && v["stop"] == false
    })
    .await?;
    ensure!(
        stopped["alert"].is_null() && stopped["cont"] == true,
        "a stop is not an error: {stopped}"
    );
    ensure!(
        stopped["text"]
            .as_str()
            .is_some_and(|t| t.len() < "Echo: Stop me?".len()),
        "{stopped}"
    );

    // Stop before any text: nothing answered, the question kept, Retry
    // offered; Retry answers it without storing it twice.
    // (Every attempt hangs until stopped.)
    fake.set_down_with(Fault::HangBeforeHeaders);
    b.ask("Hang, then stop?").await?;
    click_button(&b, "Stop").await?;
    let idle = wait_last(&b, "Retry to be offered", |v| v["retry"] == true).await?;
    ensure!(idle["alert"].is_null() && idle["n"] == 9, "{idle}");
    fake.set_down(false);
    click_button(&b, "Retry").await?;
    let (retried, _) = b.wait_answer(9).await?;
    // (The stopped answer is not history, so the two questions reach the
    // provider as one user turn; the fake echoes it.)
    ensure!(
        retried.starts_with("Echo: ") && retried.ends_with("Hang, then stop?"),
        "{retried}"
    );
    b.top().await?;
    let c = latest_conversation(&b).await?;
    let messages = c["conversation"]["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let asked = messages
        .iter()
        .filter(|m| m["text"] == "Hang, then stop?")
        .count();
    ensure!(asked == 1, "the retried question is stored once: {c}");
    let statuses: Vec<&str> = messages
        .iter()
        .filter(|m| m["role"] == "assistant")
        .filter_map(|m| m["status"].as_str())
        .collect();
    ensure!(
        statuses
            == [
                "complete",
                "complete",
                "complete",
                "complete",
                "complete",
                "complete",
                "interrupted",
                "complete",
                "interrupted",
                "complete"
            ],
        "{statuses:?}"
    );
    Ok(b)
}

/// When every provider fails, an earlier answer to the same question about
/// the same page comes back, labelled as cached; failures open the
/// breaker, which then blocks requests; when the server recovers, the
/// breaker half-opens after its pause and closes on the next answer.
async fn cached_answers_then_the_breaker_opens_and_recovers(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    use paperclip_e2e::fake_provider::FakeProvider;
    let fake = FakeProvider::start()?;
    b.client.goto(&server.url("/")).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    set_resilience(&b, |s| {
        s["retry"]["max_attempts"] = json!(1);
        s["breaker"]["mode"] = json!({"consecutive": {"threshold": 3}});
        s["breaker"]["base_break_ms"] = json!(2000);
    })
    .await?;
    let answer = b.ask_on(&server.url("/"), "Cache me?").await?;
    ensure!(answer == "Echo: Cache me?", "{answer}");

    fake.set_down(true);
    b.enter_agent().await?;
    b.ask("Cache me?").await?;
    let (cached, _) = b.wait_answer(1).await?;
    ensure!(
        cached.contains("Showing the answer Fake gave") && cached.ends_with("Echo: Cache me?"),
        "{cached}"
    );
    let shown = last_answer(&b).await?;
    ensure!(
        shown["label"] == "Answered by Fake (cached)" && shown["degraded"] == "cached",
        "{shown}"
    );
    for (n, question) in [(2, "Not cached?"), (3, "Third failure?")] {
        b.ask(question).await?;
        let (offline, _) = b.wait_answer(n).await?;
        ensure!(
            offline.contains("Answering from the page instead"),
            "{offline}"
        );
    }
    b.top().await?;
    let status = ok(&b, json!({"type": "GetResilience"})).await?;
    ensure!(
        status["breakers"][0]["state"]["open"].is_object() && status["degradation"] == "offline",
        "three failures open the breaker: {status}"
    );
    let before = fake.requests().len();
    b.enter_agent().await?;
    b.ask("Blocked?").await?;
    let (blocked, _) = b.wait_answer(4).await?;
    ensure!(
        blocked.contains("is paused after repeated failures"),
        "{blocked}"
    );
    ensure!(
        fake.requests().len() == before,
        "the open breaker let a request through"
    );

    fake.set_down(false);
    let wake = status["breakers"][0]["wake_at_ms"].as_f64().unwrap_or(0.0);
    b.poll(Duration::from_secs(10), "the pause to end", || async {
        let now = b.client.execute("return Date.now()", vec![]).await?;
        Ok((now.as_f64().unwrap_or(0.0) > wake).then_some(()))
    })
    .await?;
    b.ask("Recovered?").await?;
    let (recovered, _) = b.wait_answer(5).await?;
    ensure!(recovered == "Echo: Recovered?", "{recovered}");
    let shown = last_answer(&b).await?;
    ensure!(shown["degraded"].is_null(), "no longer degraded: {shown}");
    b.top().await?;
    let status = ok(&b, json!({"type": "GetResilience"})).await?;
    ensure!(
        status["breakers"][0]["state"] == "closed" && status["degradation"] == "normal",
        "{status}"
    );
    Ok(b)
}

/// The options page's reliability form saves a valid value and refuses an
/// out-of-range one with its name and range; the provider order changes
/// which provider is primary; the price table refuses a bad line.
async fn resilience_settings_on_the_options_page(b: Browser, _server: Server) -> Result<Browser> {
    use fantoccini::Locator;
    use paperclip_e2e::fake_provider::FakeProvider;
    let (one, two) = (FakeProvider::start()?, FakeProvider::start()?);
    b.client.goto(&format!("{}options.html", b.base)).await?;
    add_fake_provider(&b, "first", &one).await?;
    add_fake_provider(&b, "second", &two).await?;
    b.client.refresh().await?;
    let change = |id: &'static str, value: &'static str| {
        let b = &b;
        async move {
            let input = b
                .client
                .wait()
                .for_element(Locator::Css(&format!("#{id}")))
                .await?;
            b.client
                .execute(
                    "arguments[0].value = arguments[1];
                     arguments[0].dispatchEvent(new Event('change', {bubbles: true}))",
                    vec![serde_json::to_value(&input)?, json!(value)],
                )
                .await?;
            anyhow::Ok(())
        }
    };
    change("res-retry-max_attempts", "4").await?;
    b.wait_until(Duration::from_secs(10), "the save", || async {
        let s = ok(&b, json!({"type": "GetResilience"})).await?;
        Ok(s["settings"]["retry"]["max_attempts"] == 4)
    })
    .await?;
    change("res-retry-max_attempts", "40").await?;
    let alert = b
        .poll(Duration::from_secs(10), "the refusal", || async {
            b.text_of(".resilience > [role=alert]").await
        })
        .await?;
    ensure!(
        alert.contains("retry.max_attempts") && alert.contains("1..=10"),
        "{alert}"
    );
    let s = ok(&b, json!({"type": "GetResilience"})).await?;
    ensure!(s["settings"]["retry"]["max_attempts"] == 4, "{s}");

    // Move "second" up: it becomes the primary.
    click_button(&b, "Move second up").await?;
    b.wait_until(Duration::from_secs(10), "the new order", || async {
        let l = ok(&b, json!({"type": "ListProviders"})).await?;
        Ok(l["providers"][0]["settings"]["id"] == "second")
    })
    .await?;
    let bad_order = b
        .request(json!({"type": "SetProviderOrder", "ids": ["second"]}))
        .await?;
    ensure!(bad_order["body"]["err"].is_object(), "{bad_order}");

    // A price line without its output price is refused, naming the line.
    let prices = b.client.wait().for_element(Locator::Css("#prices")).await?;
    prices.clear().await?;
    prices.send_keys("my-model 1 2\nbroken 1\n").await?;
    click_button(&b, "Save prices").await?;
    let refused = b
        .poll(Duration::from_secs(10), "the price refusal", || async {
            b.text_of("form.prices + [role=alert]").await
        })
        .await?;
    ensure!(refused.contains("line 2"), "{refused}");
    let table = ok(&b, json!({"type": "GetPrices"})).await?;
    ensure!(table["defaults"] == true, "nothing changed: {table}");
    prices.clear().await?;
    prices.send_keys("my-model 1 2\n").await?;
    click_button(&b, "Save prices").await?;
    b.wait_until(Duration::from_secs(10), "the prices", || async {
        let t = ok(&b, json!({"type": "GetPrices"})).await?;
        Ok(t["table"]["entries"] == json!([{"pattern": "my-model", "input_per_mtok": 1_000_000, "output_per_mtok": 2_000_000}]))
    })
    .await?;
    Ok(b)
}

/// Chrome's built-in AI is a provider like the others: where the browser
/// lacks the Prompt API (Firefox; Chromium without the model) the
/// connection test says so and asks fall back to the offline answer,
/// labelled; where it has it, it answers.
async fn chrome_built_in_ai_is_feature_detected(b: Browser, server: Server) -> Result<Browser> {
    b.client.goto(&server.url("/")).await?;
    // Added on the options page: Kind "Chrome built-in AI", a name, Save;
    // then "Test connection" in its row.
    let back = b.open_tab("options.html").await?;
    let find = |css: &'static str| b.client.wait().for_element(fantoccini::Locator::Css(css));
    find("#provider-kind")
        .await?
        .select_by_value("chrome_built_in")
        .await?;
    find("#provider-label").await?.send_keys("Nano").await?;
    ensure!(
        b.client
            .find(fantoccini::Locator::Css("#provider-url"))
            .await
            .is_err(),
        "the built-in provider asks for an address"
    );
    find(".add-provider button[type=submit]")
        .await?
        .click()
        .await?;
    let saved = b
        .poll(Duration::from_secs(10), "saved", || async {
            Ok(b.text_of(".providers [role=status]")
                .await?
                .filter(|t| t.starts_with("Saved")))
        })
        .await?;
    ensure!(saved == "Saved Nano.", "{saved}");
    b.control("button", "Test connection")
        .await?
        .click()
        .await?;
    let (tested, report) = b
        .poll(Duration::from_secs(15), "the connection report", || async {
            if let Some(why) = b.text_of(".providers [role=alert]").await? {
                return Ok(Some((false, why)));
            }
            Ok(b.text_of(".providers [role=status]")
                .await?
                .filter(|t| !t.starts_with("Saved"))
                .map(|t| (true, t)))
        })
        .await?;
    b.close_tab(back).await?;
    let answer = b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    if tested {
        ensure!(report.starts_with("Connected in "), "{report}");
        ensure!(
            !answer.contains("Answering from the page instead"),
            "{answer}"
        );
    } else {
        ensure!(report.contains("Chrome's built-in"), "{report}");
        ensure!(
            answer.starts_with("Nano: ") && answer.contains("Answering from the page instead"),
            "{answer}"
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

/// The privacy options decide what of the page reaches a provider: with
/// the page's text and its title/URL turned off, the request carries the
/// headings only.
async fn page_context_the_user_turned_off_is_not_sent(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    b.client.goto(&server.url("/")).await?;
    add_fake_provider(&b, "Fake", &fake).await?;
    // Unticked on the options page, as a user does.
    for key in ["privacy.context.main_text", "privacy.context.page_info"] {
        set_option(&b, key, Pref::Tick(false)).await?;
    }
    let answer = b.ask_on(&server.url("/"), "What is this about?").await?;
    ensure!(answer == "Echo: What is this about?", "{answer}");
    let sent = chat_requests(&fake)
        .into_iter()
        .next()
        .map(|r| r.body)
        .unwrap_or_default();
    ensure!(sent.contains("The Gem design"), "headings are sent: {sent}");
    // (The title is also the page's first heading, so only its label is
    // looked for.)
    for private in ["Gem Manufacturing Company", "Page title:", &server.url("/")] {
        ensure!(!sent.contains(private), "{private:?} was sent: {sent}");
    }
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

/// Types `question` and opens the preview; returns the page context shown
/// and closes the preview (inside the agent frame).
async fn preview_context(b: &Browser, question: &str) -> Result<String> {
    let input = b.control("textarea", "Ask Clippy").await?;
    b.client
        .execute(
            "arguments[0].value = arguments[1];",
            vec![serde_json::to_value(&input)?, json!(question)],
        )
        .await?;
    click_button(b, "Preview what will be sent").await?;
    let area = b.control("textarea", "Page context").await?;
    let shown = b
        .client
        .execute(
            "return arguments[0].value;",
            vec![serde_json::to_value(&area)?],
        )
        .await?;
    click_button(b, "Cancel").await?;
    Ok(shown.as_str().unwrap_or_default().to_string())
}

/// How each page read was served (`extracted`, `cached`, `unchanged`), in
/// order, from the telemetry store.
async fn page_reads(b: &Browser) -> Result<Vec<String>> {
    let reads = b
        .in_extension_page(
            "options.html",
            "const done = arguments[arguments.length - 1];
             const open = indexedDB.open('paperclip');
             open.onsuccess = () => {
               const db = open.result;
               const req = db.transaction('telemetry').objectStore('telemetry').getAll();
               req.onsuccess = () => {
                 done(req.result.filter((r) => r.name === 'context.read_ms')
                   .sort((a, b) => a.time - b.time)
                   .map((r) => typeof r.dims?.get === 'function' ? r.dims.get('source') : r.dims?.source));
                 db.close();
               };
             };",
            json!(null),
        )
        .await?;
    Ok(serde_json::from_value(reads)?)
}

/// A saved news page: what the preview shows is the core's reading of it
/// (article text, outline, form labels, what is on screen; no banner, no
/// form value). Asked again unchanged, the page sends no DOM; changed, it
/// is read again; reloaded unchanged, the context cache answers.
async fn saved_pages_are_read_by_the_core_and_reread_only_after_a_change(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/fixtures/news.html");
    let _fake = agent_with_fake_provider(&b, &page).await?;
    b.top().await?;
    b.client
        .execute(
            "document.querySelector('article h2').scrollIntoView({block: 'center'});",
            vec![],
        )
        .await?;
    b.enter_agent_now().await?;
    let first = preview_context(&b, "What was decided?").await?;
    for part in [
        "Page description: The city council voted 7-2",
        "After nearly two years of hearings, the Port Elridge city council voted",
        "- Concerns from anglers and ecologists",
        "Form fields on the page:\n- Email address (email)",
    ] {
        ensure!(first.contains(part), "{part:?} missing from:\n{first}");
    }
    let on_screen = first
        .split("On screen (scrolled ")
        .nth(1)
        .and_then(|s| s.split("Form fields").next())
        .unwrap_or_default();
    ensure!(
        on_screen.contains("How the array would work") && !on_screen.contains("cookies"),
        "on screen: {on_screen:?}"
    );
    for absent in [
        "reader@example.com",
        "We use cookies and similar technologies",
        "Subscribe for $1 a week",
        "Real Estate Listings",
    ] {
        ensure!(!first.contains(absent), "{absent:?} sent:\n{first}");
    }
    let second = preview_context(&b, "What was decided?").await?;
    ensure!(second == first, "an unchanged page reads the same");
    b.top().await?;
    b.client
        .execute(
            "document.querySelector('article').insertAdjacentHTML('beforeend',
               '<p>Correction appended after publication: the vote was seven to two.</p>');",
            vec![],
        )
        .await?;
    b.enter_agent_now().await?;
    let third = preview_context(&b, "What was decided?").await?;
    ensure!(
        third.contains("Correction appended after publication"),
        "{third}"
    );
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    preview_context(&b, "What was decided?").await?;
    let reads = page_reads(&b).await?;
    // Each agent start may read the page once more; the order of the
    // four previews' reads is what matters.
    let tail: Vec<&str> = reads.iter().map(String::as_str).rev().take(4).collect();
    ensure!(
        tail[0] == "cached"
            && tail[1] == "extracted"
            && tail[2] == "unchanged"
            && matches!(tail[3], "extracted" | "cached" | "unchanged"),
        "reads: {reads:?}"
    );
    ensure!(
        !reads[..reads.len() - 1].iter().any(|r| r == "cached"),
        "nothing was cached before the reload: {reads:?}"
    );
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

/// Hints are off by default and only on allowed sites; offering one sends
/// nothing; an ignored hint skips the next visit; a taken one asks.
async fn hints_only_where_allowed_never_sent_and_backing_off(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    let page = server.url("/fixtures/news.html");
    let fake = agent_with_fake_provider(&b, &page).await?;
    let reopen = || async {
        b.client.goto(&page).await?;
        b.activate(&page).await?;
        b.enter_agent().await?;
        // The hint, if any, follows the history at once.
        tokio::time::sleep(Duration::from_millis(700)).await;
        b.text_of("section.hint p").await
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    ensure!(
        b.text_of("section.hint").await?.is_none(),
        "hints are off by default"
    );
    // Both set on the options page, as a user does.
    b.top().await?;
    set_option(
        &b,
        "agent.hint_sites",
        Pref::Type(server.url("/").trim_end_matches('/')),
    )
    .await?;
    ensure!(reopen().await?.is_none(), "allowed, but not turned on");
    b.top().await?;
    set_option(&b, "agent.proactive_hints", Pref::Tick(true)).await?;
    let hint = reopen().await?.unwrap_or_default();
    ensure!(hint.starts_with("This page is long"), "{hint:?}");
    ensure!(
        chat_requests(&fake).is_empty(),
        "offering a hint sent something"
    );
    click_button(&b, "Not now").await?;
    ensure!(b.text_of("section.hint").await?.is_none());
    ensure!(
        reopen().await?.is_none(),
        "the visit after an ignored hint is skipped"
    );
    ensure!(reopen().await?.is_some(), "then hints come back");
    click_button(&b, "Yes: Summarize this page").await?;
    let (answer, _) = b.wait_answer(0).await?;
    ensure!(answer == "Echo: Summarize this page", "{answer}");
    ensure!(chat_requests(&fake).len() == 1);
    ensure!(reopen().await?.is_some(), "a taken hint resets the backoff");
    Ok(b)
}

/// Telemetry export to a local OpenTelemetry collector: nothing leaves
/// before the user opts in; then every payload is valid OTLP/JSON, the ask
/// is a trace (ask → context.gather, answer.chain → provider.request), the
/// provider phases are metrics, and no page text, URL path or key is in
/// any payload. The custom JSON endpoint gets the same telemetry as
/// Paperclip's JSON document. The collector goes down (503 with
/// Retry-After) and comes back: nothing is lost and nothing is sent twice.
async fn telemetry_reaches_a_collector_only_after_opt_in_and_survives_an_outage(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    use paperclip_e2e::otlp_receiver::{Down, OtlpReceiver, Signal};
    let collector = OtlpReceiver::start()?;
    let page = server.url("/fixtures/news.html");
    let fake = paperclip_e2e::fake_provider::FakeProvider::start()?;
    const KEY: &str = "sk-test-Secret0123456789abcdefXYZ";
    b.client.goto(&page).await?;
    let settings = json!({"id": "Fake", "kind": "openai_compatible", "label": "Fake",
        "base_url": fake.base_url(), "model": "fake-model-1", "max_tokens": 256});
    ok(
        &b,
        json!({"type": "SaveProvider", "settings": settings, "key": {"action": "set", "key": KEY}}),
    )
    .await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    let saved = save_telemetry_export(&b, &collector.url(), "", false).await?;
    ensure!(saved == (true, "Saved.".into()), "{saved:?}");
    let status = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(status["enabled"] == false, "{status}");
    let (saved, bad) = save_telemetry_export(&b, "ftp://x", "", false).await?;
    ensure!(!saved && bad.contains("collector URL"), "{bad}");
    b.enter_agent_now().await?;
    b.ask("What did the council decide?").await?;
    b.wait_answer(0).await?;
    // Before the opt-in the page offers no "Send now"; a request sent
    // anyway (the boundary, not a user path) sends nothing.
    b.top().await?;
    let (_, said) = telemetry_form(&b, |b| async move {
        let button = b.control("button", "Send now").await?;
        ensure!(
            !button.is_enabled().await?,
            "\"Send now\" before the opt-in"
        );
        b.control("button", "Save export settings")
            .await?
            .click()
            .await?;
        Ok(())
    })
    .await?;
    ensure!(said == "Saved.", "{said}");
    ok(&b, json!({"type": "FlushTelemetry"})).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(
        collector.requests().is_empty(),
        "sent before opting in: {:?}",
        collector.requests()
    );

    b.top().await?;
    set_option(&b, "privacy.telemetry_remote", Pref::Tick(true)).await?;
    b.enter_agent_now().await?;
    b.ask("How much does the pilot cost?").await?;
    b.wait_answer(1).await?;
    b.top().await?;
    let sent = send_telemetry_now(&b).await?;
    ensure!(sent.ends_with("batches still queued."), "{sent}");
    collector.wait_for(Duration::from_secs(15), "one trace exported", |c| {
        c.spans()
            .iter()
            .any(|(_, _, name)| name == "provider.request")
    })?;
    let names: Vec<String> = collector.spans().into_iter().map(|(_, _, n)| n).collect();
    for name in [
        "ask",
        "context.gather",
        "answer.chain",
        "provider.request",
        "render",
    ] {
        ensure!(
            names.iter().any(|n| n == name),
            "no {name} span in {names:?}"
        );
    }
    ensure!(
        names.iter().filter(|n| *n == "ask").count() == 1,
        "the ask before the opt-in was exported: {names:?}"
    );
    collector.wait_for(Duration::from_secs(15), "metrics exported", |c| {
        c.metric_points()
            .iter()
            .any(|(name, ..)| name == "provider.time_to_first_token")
    })?;

    // Beside the collector: the custom JSON endpoint and the console. A
    // bad URL is refused and changes nothing.
    let (saved, bad) =
        save_telemetry_export(&b, &collector.url(), "mailto:telemetry@example.com", false).await?;
    ensure!(!saved && bad.contains("JSON endpoint URL"), "{bad}");
    let kept = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(
        kept["otlp_url"] == json!(collector.url()) && kept["json_url"].is_null(),
        "{kept}"
    );
    let saved = save_telemetry_export(&b, &collector.url(), &collector.json_url(), true).await?;
    ensure!(saved == (true, "Saved.".into()), "{saved:?}");
    let saved = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(
        saved["json_url"] == json!(collector.json_url()) && saved["console"] == true,
        "{saved}"
    );

    // The collector is down: batches wait, then go once it is back.
    collector.set_down(Some(Down::Unavailable {
        retry_after_s: Some(1),
    }));
    b.enter_agent_now().await?;
    b.ask("Who voted against it?").await?;
    b.wait_answer(2).await?;
    b.top().await?;
    send_telemetry_now(&b).await?;
    collector.wait_for(Duration::from_secs(15), "a refused export", |c| {
        c.requests().iter().any(|(_, status)| *status == 503)
    })?;
    let queued = ok(&b, json!({"type": "GetTelemetryExport"})).await?;
    ensure!(queued["queued"].as_u64().unwrap_or(0) > 0, "{queued}");
    collector.set_down(None);
    collector.wait_for(Duration::from_secs(30), "the queued batches", |c| {
        c.spans().iter().filter(|(_, _, n)| n == "ask").count() == 2
    })?;
    let spans = collector.spans();
    let mut ids: Vec<(String, String)> = spans
        .iter()
        .map(|(t, s, _)| (t.clone(), s.clone()))
        .collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    ensure!(ids.len() == before, "a span was exported twice");
    // The JSON endpoint got the window with the third ask's spans, once.
    collector.wait_for(
        Duration::from_secs(30),
        "the window as a JSON document",
        |c| {
            c.json_documents().iter().any(|d| {
                d["rows"].as_array().is_some_and(|rows| {
                    rows.iter()
                        .any(|r| r["kind"] == "span" && r["name"] == "ask")
                })
            })
        },
    )?;
    let documents = collector.json_documents();
    let mut span_ids: Vec<String> = documents
        .iter()
        .flat_map(|d| d["rows"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["kind"] == "span")
        .map(|r| r["dims"]["span_id"].to_string())
        .collect();
    let before = span_ids.len();
    span_ids.sort();
    span_ids.dedup();
    ensure!(span_ids.len() == before, "a JSON window was sent twice");
    ensure!(
        documents.iter().any(|d| d["rows"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["kind"] == "metric"
                && r["name"] == "provider.time_to_first_token"
                && r["dims"]["p95"].is_string()))),
        "no provider metric in the JSON documents"
    );
    ensure!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );

    // The agent's own records came through its batched channel.
    b.poll(Duration::from_secs(10), "the agent's records", || async {
        let metrics = ok(&b, json!({"type": "QueryTelemetry", "query": "metrics"})).await?;
        Ok(metrics
            .to_string()
            .contains("agent.time_to_first_text")
            .then_some(()))
    })
    .await?;

    // The devtools panel's live dashboard shows the metrics and the spans.
    let panel = b
        .in_extension_page(
            "panel.html",
            "const done = arguments[arguments.length - 1];
             const t0 = Date.now();
             (function check() {
               const text = document.body.innerText;
               const spans = document.querySelectorAll('.timeline .span').length;
               if (text.includes('provider.time_to_first_token') && text.includes('Overall:') && spans > 0
                   && text.includes('answer.completed'))
                 return done({ ok: true, spans });
               if (Date.now() - t0 > 8000) return done({ ok: false, text: text.slice(0, 3000) });
               setTimeout(check, 200);
             })();",
            json!(null),
        )
        .await?;
    ensure!(panel["ok"] == true, "panel: {panel}");
    let options = b
        .in_extension_page(
            "options.html",
            "const done = arguments[arguments.length - 1];
             const t0 = Date.now();
             (function check() {
               const input = document.querySelector('#otlp-url');
               if (input && input.value) return done({
                 otlp: input.value, json: document.querySelector('#json-url').value,
                 console: document.querySelector('#telemetry-console').checked });
               if (Date.now() - t0 > 8000) return done(null);
               setTimeout(check, 200);
             })();",
            json!(null),
        )
        .await?;
    ensure!(
        options == json!({"otlp": collector.url(), "json": collector.json_url(), "console": true}),
        "options page shows {options}"
    );

    // Privacy: no page text, no URL path, no key, no question.
    let mut everything = String::new();
    for signal in [Signal::Metrics, Signal::Logs, Signal::Traces] {
        for body in collector.raw(signal) {
            everything.push_str(&body.to_string());
        }
    }
    for document in collector.json_documents() {
        everything.push_str(&document.to_string());
    }
    for secret in [
        "fixtures/news.html",
        "floating solar",
        "How much does the pilot cost",
        KEY,
    ] {
        ensure!(!everything.contains(secret), "{secret:?} was exported");
    }
    Ok(b)
}

/// WCAG AA contrast (see `Browser::contrast`) of everything Paperclip
/// draws: the agent with its balloon, a hint, a question and its answer,
/// the quick actions and the input; the popup, the options page and the
/// devtools panel. In the browser's default (light) scheme.
async fn text_contrast_meets_wcag_aa(b: Browser, server: Server) -> Result<Browser> {
    contrast_everywhere(b, server, false).await
}

/// The same in the dark colour scheme (Firefox can be told to prefer it).
#[tokio::test(flavor = "multi_thread")]
async fn firefox_dark_scheme_text_contrast_meets_wcag_aa() -> Result<()> {
    with_browser_prefs(
        Kind::Firefox,
        json!({"layout.css.prefers-color-scheme.content-override": 0}),
        |b, server| contrast_everywhere(b, server, true),
    )
    .await
}

async fn contrast_everywhere(b: Browser, server: Server, dark: bool) -> Result<Browser> {
    let check = |what: &str, c: paperclip_e2e::Contrast| {
        ensure!(
            c.dark == dark,
            "{what}: dark scheme {} (expected {dark})",
            c.dark
        );
        ensure!(
            c.checked >= 5,
            "{what}: only {} elements with text",
            c.checked
        );
        ensure!(
            c.failures.is_empty(),
            "{what}: below WCAG AA: {:#?}",
            c.failures
        );
        Ok(())
    };
    let page = server.url("/fixtures/news.html");
    ok(
        &b,
        json!({"type": "SetPreference", "key": "agent.hint_sites",
        "value": [server.url("/").trim_end_matches('/')]}),
    )
    .await?;
    ok(
        &b,
        json!({"type": "SetPreference", "key": "agent.proactive_hints", "value": true}),
    )
    .await?;
    b.client.goto(&page).await?;
    b.activate(&page).await?;
    b.enter_agent().await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    ensure!(b.text_of("section.hint").await?.is_some(), "no hint shown");
    check("the agent with a hint", b.contrast().await?)?;
    b.ask("What did the council decide?").await?;
    b.wait_answer(0).await?;
    check("the agent with an answer", b.contrast().await?)?;
    b.top().await?;
    for path in ["popup.html", "options.html", "panel.html"] {
        check(path, b.contrast_of_page(path).await?)?;
    }
    Ok(b)
}
