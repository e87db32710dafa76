//! Another extension installed next to Paperclip (`tests/neighbour`, a page
//! and nothing else) is a stranger: its messages get a "forbidden" reply
//! and change nothing, and a port it opens (even named as the agent's) is
//! closed without a word.

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::ok;
use paperclip_e2e::{root, server::Server, Browser, Kind, GECKO_ID};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn chromium_another_extensions_messages_and_ports_are_refused() -> Result<()> {
    with_neighbour(Kind::Chromium).await
}

#[tokio::test(flavor = "multi_thread")]
async fn firefox_another_extensions_messages_and_ports_are_refused() -> Result<()> {
    with_neighbour(Kind::Firefox).await
}

async fn with_neighbour(kind: Kind) -> Result<()> {
    let server = Server::start(&root())?;
    let (browser, neighbour) = Browser::launch_with_neighbour(kind, true).await?;
    crate::run(kind, browser, server, |b, server| {
        strangers_are_refused(b, server, neighbour)
    })
    .await
}

/// Run in the neighbour's page: two requests to Paperclip and a port named
/// as the agent's, with what came back.
const KNOCK: &str = "
    const [id, done] = arguments;
    const api = globalThis.browser ?? globalThis.chrome;
    const ask = (body) => api.runtime.sendMessage(id, {v: 1, body})
        .then(r => r ?? null, e => ({thrown: String(e)}));
    (async () => {
        const list = await ask({type: 'ListConversations', limit: 5});
        const wipe = await ask({type: 'DeleteAllData', confirm: true});
        const port = await new Promise((resolve) => {
            const got = [];
            let p;
            try { p = api.runtime.connect(id, {name: 'agent'}); }
            catch (e) { return resolve({thrown: String(e), got}); }
            p.onMessage.addListener((m) => got.push(m));
            p.onDisconnect.addListener(() => resolve({closed: true, got}));
            p.postMessage({v: 1, body: {type: 'Ask', id: 'x', text: 'Summarize this page'}});
            setTimeout(() => resolve({closed: false, got}), 5000);
        });
        return {list, wipe, port};
    })().then(done, (e) => done({error: String(e)}));";

fn refused(reply: &Value) -> bool {
    reply["body"]["err"]["kind"] == "forbidden"
        && reply["body"]["err"]["message"]
            == "messages from other extensions or web pages are not accepted"
}

async fn strangers_are_refused(b: Browser, server: Server, neighbour: String) -> Result<Browser> {
    b.ask_on(&server.url("/"), "What is the Gem clip?").await?;
    let id = match b.kind {
        Kind::Chromium => b
            .base
            .trim_start_matches("chrome-extension://")
            .trim_end_matches('/')
            .to_string(),
        Kind::Firefox => GECKO_ID.to_string(),
    };
    b.client.goto(&format!("{neighbour}page.html")).await?;
    let out = b.client.execute_async(KNOCK, vec![json!(id)]).await?;
    ensure!(out.get("error").is_none(), "{out}");
    ensure!(
        refused(&out["list"]),
        "a listing was answered: {}",
        out["list"]
    );
    ensure!(
        refused(&out["wipe"]),
        "a deletion was answered: {}",
        out["wipe"]
    );
    ensure!(
        out["port"]["got"] == json!([]),
        "the port was answered: {}",
        out["port"]
    );
    ensure!(
        out["port"]["closed"] == json!(true) || out["port"].get("thrown").is_some(),
        "the port stayed open: {}",
        out["port"]
    );
    // Nothing changed: the conversation is still there.
    let listed = ok(&b, json!({"type": "ListConversations", "limit": 5})).await?;
    ensure!(
        listed["items"].as_array().map(Vec::len) == Some(1),
        "{listed}"
    );
    Ok(b)
}
