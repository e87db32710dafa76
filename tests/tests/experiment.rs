use anyhow::Result;
use paperclip_e2e::{root, server::Server, Browser, Kind};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn exp_firefox() -> Result<()> {
    let server = Server::start(&root())?;
    let _ = server;
    let b = Browser::launch(Kind::Firefox, true).await?;
    for u in [
        "about:robots",
        "about:blank",
        "about:addons",
        "about:preferences",
        "about:support",
        "view-source:http://127.0.0.1/",
    ] {
        let g = b.client.goto(u).await;
        let at = b.client.current_url().await.map(|u| u.to_string());
        let r = b.in_extension_page("options.html", "const [x, done] = arguments; (async () => { const tabs = await browser.tabs.query({}); const t = tabs.find(t => t.active && !t.url.startsWith('moz-ext')) || tabs[0];
           const info = tabs.map(t => t.id + ' ' + t.url + ' ' + t.active).join(' | ');
           const r = await browser.runtime.sendMessage({v: 1, body: {type: 'ActivateTab', tab_id: tabs[0].id}}); return info + ' => ' + JSON.stringify(r); })().then(done, e => done('err ' + e));", json!(null)).await;
        let n = b
            .client
            .execute(
                "return document.querySelectorAll('paperclip-agent').length",
                vec![],
            )
            .await;
        eprintln!(
            "{u}: goto {:?} at {at:?} activate {r:?} agents {n:?}",
            g.is_ok()
        );
    }
    b.close().await;
    Ok(())
}
