//! The background's boundaries: a web page has no channel to it and cannot
//! read or drive the agent; malformed, unknown and wrong-version messages
//! get precise error replies.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::{server::Server, Browser};
use serde_json::{json, Value};

in_both_browsers!(
    web_pages_cannot_reach_the_background,
    bad_messages_get_clear_errors,
);

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
