//! Helpers the end-to-end scenarios (`tests/e2e/`) share: protocol
//! requests ([`ok`], [`latest_conversation`]), a fake provider saved as a
//! user would ([`add_fake_provider`], [`agent_with_fake_provider`],
//! [`chat_requests`]), the agent's last answer ([`last_answer`],
//! [`wait_last`]), and controls used as a user does ([`click_button`],
//! [`set_option`]).

use std::time::Duration;

use anyhow::{ensure, Result};
use serde_json::{json, Value};

use crate::Browser;

/// What to do to a preference's control on the options page.
pub enum Pref<'a> {
    /// Tick or untick a checkbox (clicked only when it differs).
    Tick(bool),
    /// Replace a text field's content (then Tab, which commits it).
    Type(&'a str),
    /// Pick this value of a choice (a `select`).
    Choose(&'a str),
}

/// Changes preference `key` as a user does, through its control on the
/// options page (`#pref-<key>`), and waits for the page's "Saved …" line;
/// back in the current tab afterwards.
pub async fn set_option(b: &Browser, key: &str, edit: Pref<'_>) -> Result<()> {
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
            Pref::Choose(value) => {
                control
                    .find(fantoccini::Locator::Css(&format!("option[value='{value}']")))
                    .await?
                    .click()
                    .await?;
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

/// Sends `body` and returns the `ok` payload, failing on an error reply.
pub async fn ok(b: &Browser, body: Value) -> Result<Value> {
    let reply = b.request(body).await?;
    ensure!(!reply["body"]["ok"].is_null(), "{reply}");
    Ok(reply["body"]["ok"].clone())
}

/// Imports export file `file` under `policy` (setup) and returns what the
/// import did, failing on an error reply.
pub async fn imported(b: &Browser, file: &str, policy: &str) -> Result<Value> {
    let reply = b.import_file(file, policy).await?;
    ensure!(!reply["body"]["ok"].is_null(), "{reply}");
    Ok(reply["body"]["ok"].clone())
}

/// Saves an OpenAI-compatible provider `id` pointing at `fake`.
pub async fn add_fake_provider(
    b: &Browser,
    id: &str,
    fake: &crate::fake_provider::FakeProvider,
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

/// Saves an OpenAI-compatible provider `label` at `base_url` (model
/// `fake-model-1`, no key) as a user does, with the options page's form:
/// in Firefox that also asks for the data collection consent a remote
/// provider needs (the harness grants what is asked). Back in the current
/// tab afterwards.
pub async fn save_provider_in_options(b: &Browser, label: &str, base_url: &str) -> Result<()> {
    let back = b.open_tab("options.html").await?;
    let result = async {
        let find = |css: &'static str| {
            b.client
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(fantoccini::Locator::Css(css))
        };
        find("#provider-label").await?.send_keys(label).await?;
        find("#provider-url").await?.send_keys(base_url).await?;
        find("#provider-model")
            .await?
            .send_keys("fake-model-1")
            .await?;
        let save = find(".add-provider button[type=submit]").await?;
        b.click(&save).await?;
        let said = b
            .poll(Duration::from_secs(10), "the provider saved", || async {
                b.text_of(".providers [role=status], .providers [role=alert]")
                    .await
            })
            .await?;
        ensure!(said == format!("Saved {label}."), "{said}");
        Ok(())
    }
    .await;
    b.close_tab(back).await?;
    result
}

/// The chat requests `fake` received, in order.
pub fn chat_requests(
    fake: &crate::fake_provider::FakeProvider,
) -> Vec<crate::fake_provider::RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect()
}

/// The most recently updated conversation, whole.
pub async fn latest_conversation(b: &Browser) -> Result<Value> {
    let list = ok(b, json!({"type": "ListConversations", "limit": 1})).await?;
    let id = list["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ok(b, json!({"type": "GetConversation", "id": id})).await
}

/// Starts a fake provider, saves it as "Fake", then opens `page`, shows
/// the agent and steps into it.
pub async fn agent_with_fake_provider(
    b: &Browser,
    page: &str,
) -> Result<crate::fake_provider::FakeProvider> {
    let fake = crate::fake_provider::FakeProvider::start()?;
    b.client.goto(page).await?;
    add_fake_provider(b, "Fake", &fake).await?;
    b.client.goto(page).await?;
    b.activate(page).await?;
    b.enter_agent().await?;
    Ok(fake)
}

/// The agent's last answer: status, text, label, the alert and which of
/// Stop / Continue / Retry are offered (run inside the agent frame).
pub async fn last_answer(b: &Browser) -> Result<Value> {
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
pub async fn wait_last(b: &Browser, what: &str, check: impl Fn(&Value) -> bool) -> Result<Value> {
    let seen = std::sync::Mutex::new(Value::Null);
    b.poll(Duration::from_secs(30), what, || async {
        let v = last_answer(b).await?;
        *seen.lock().unwrap() = v.clone();
        Ok(check(&v).then_some(v))
    })
    .await
    .map_err(|e| e.context(format!("last seen: {}", seen.lock().unwrap())))
}

/// Clicks the button whose accessible name is `name`.
pub async fn click_button(b: &Browser, name: &str) -> Result<()> {
    let button = b.control("button", name).await?;
    b.click(&button).await
}

/// The human words (letters only) of the current frame's labels, headings,
/// buttons and table cells that are drawn across two lines: a word broken
/// mid-word. Addresses and ids may wrap anywhere; words may not.
pub const BROKEN_WORDS: &str = "
    const broken = [];
    for (const el of document.querySelectorAll('th, td, button, label, legend, h1, h2, h3, dt, p')) {
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            for (const m of n.data.matchAll(/[A-Za-z]{2,}/g)) {
                const before = n.data[m.index - 1] || ' ';
                const after = n.data[m.index + m[0].length] || ' ';
                if (/[\\w.:\\/-]/.test(before) || /[\\w.:\\/-]/.test(after)) continue;
                const r = document.createRange();
                r.setStart(n, m.index);
                r.setEnd(n, m.index + m[0].length);
                const lines = new Set([...r.getClientRects()]
                    .filter(x => x.width > 0).map(x => Math.round(x.top)));
                if (lines.size > 1) broken.push(m[0]);
            }
        }
    }
    return broken;";
