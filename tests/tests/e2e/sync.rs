//! Settings sync: turned on with its switch on the options page, local
//! changes reach the browser's `storage.sync` (coalesced, every item and
//! the total within the quotas, a large value in pieces), a newer change
//! from "another device" (written into `storage.sync` by the test) is
//! applied, an older one loses, and hostile values are refused with their
//! reason shown, never applied.

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::scenario::{ok, set_option, Pref};
use paperclip_e2e::server::Server;
use paperclip_e2e::Browser;
use serde_json::{json, Map, Value};

in_both_browsers!(settings_sync_within_quotas_and_refusing_hostile_values);

const API: &str = "const api = globalThis.browser ?? chrome;";

/// The whole `storage.sync` area.
async fn area(b: &Browser) -> Result<Map<String, Value>> {
    let all = b
        .in_extension_page(
            "options.html",
            &format!("{API} const [_, done] = arguments; api.storage.sync.get(null).then(done, (e) => done({{error: String(e)}}));"),
            json!(null),
        )
        .await?;
    ensure!(all.get("error").is_none(), "{all}");
    Ok(all.as_object().cloned().unwrap_or_default())
}

/// Writes `items` into `storage.sync`, as another device's sync would.
async fn plant(b: &Browser, items: Value) -> Result<()> {
    let r = b
        .in_extension_page(
            "options.html",
            &format!("{API} const [items, done] = arguments; api.storage.sync.set(items).then(() => done('ok'), (e) => done(String(e)));"),
            items,
        )
        .await?;
    ensure!(r == json!("ok"), "{r}");
    Ok(())
}

async fn pref(b: &Browser, key: &str) -> Result<Value> {
    let list = ok(b, json!({"type": "GetPreferences"})).await?;
    Ok(list["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["key"] == key)
        .map(|e| e["value"].clone())
        .unwrap_or_default())
}

fn size(key: &str, value: &Value) -> usize {
    key.len() + value.to_string().len()
}

async fn settings_sync_within_quotas_and_refusing_hostile_values(
    b: Browser,
    server: Server,
) -> Result<Browser> {
    b.client.goto(&server.url("/")).await?;
    set_option(&b, "privacy.sync_settings", Pref::Tick(true)).await?;
    set_option(&b, "ui.theme", Pref::Choose("dark")).await?;
    // A large value (setup): twelve actions with long prompts.
    let actions: Vec<Value> = (0..12)
        .map(|i| json!({"name": format!("Action {i}"), "template": format!("{i}: {} {{selection}}", "\"quoted\" words ".repeat(100))}))
        .collect();
    ok(
        &b,
        json!({"type": "SetPreference", "key": "agent.quick_actions", "value": actions}),
    )
    .await?;
    let synced = b
        .poll(
            Duration::from_secs(20),
            "the settings in storage.sync",
            || async {
                let a = area(&b).await?;
                let theme = a.get("p:ui.theme").map(|i| i["v"].clone());
                let ready =
                    theme == Some(json!("dark")) && a.contains_key("p:agent.quick_actions#0");
                Ok(ready.then_some(a))
            },
        )
        .await?;
    let total: usize = synced.iter().map(|(k, v)| size(k, v)).sum();
    ensure!(total <= 102_400, "{total} bytes in storage.sync");
    for (k, v) in &synced {
        ensure!(size(k, v) <= 8_192, "{k} takes {} bytes", size(k, v));
        ensure!(
            !k.contains("sync_settings") && !k.contains("key"),
            "{k} was synced"
        );
    }

    // Writes are coalesced: 30 changes in a burst make a few writes, the
    // last value kept.
    let burst = b
        .in_extension_page(
            "options.html",
            &format!(
                "{API} const [_, done] = arguments;
                 let writes = 0;
                 api.storage.onChanged.addListener((c, area) => {{ if (area === 'sync') writes++; }});
                 (async () => {{
                   for (let i = 0; i < 30; i++) {{
                     const value = 0.8 + (i % 8) / 10;
                     await api.runtime.sendMessage({{v: 1, body: {{type: 'SetPreference', key: 'ui.font_scale', value}}}});
                   }}
                   await new Promise((r) => setTimeout(r, 7000));
                   const a = await api.storage.sync.get('p:ui.font_scale');
                   done({{writes, last: a['p:ui.font_scale'] && a['p:ui.font_scale'].v}});
                 }})();"
            ),
            json!(null),
        )
        .await?;
    let writes = burst["writes"].as_u64().unwrap_or(u64::MAX);
    ensure!(writes <= 8, "{burst}");
    ensure!(burst["last"] == json!(1.3), "{burst}");

    // Another device: a newer change is applied; an older one loses (and
    // this device's value is written back).
    let now = b
        .client
        .execute("return Date.now();", vec![])
        .await?
        .as_f64()
        .unwrap_or_default();
    plant(
        &b,
        json!({"p:agent.character": {"v": "clippette", "t": now + 1000.0},
               "p:ui.theme": {"v": "light", "t": 5}}),
    )
    .await?;
    b.poll(
        Duration::from_secs(20),
        "the newer change applied",
        || async { Ok((pref(&b, "agent.character").await? == "clippette").then_some(())) },
    )
    .await?;
    b.poll(
        Duration::from_secs(20),
        "the older change undone",
        || async {
            let a = area(&b).await?;
            let theme = a.get("p:ui.theme").map(|i| i["v"].clone());
            Ok((theme == Some(json!("dark"))).then_some(()))
        },
    )
    .await?;
    ensure!(pref(&b, "ui.theme").await? == "dark", "an older change won");

    // Hostile values: refused with their reason, never applied.
    plant(
        &b,
        json!({"p:ui.theme": {"v": "<img src=x onerror=alert(1)>", "t": now + 5000.0},
               "p:provider.key": {"v": "sk-planted", "t": now + 5000.0},
               "p:privacy.telemetry_remote": {"v": "yes please", "t": now + 5000.0},
               "p:agent.quick_actions": {"t": now + 5000.0, "n": 40}}),
    )
    .await?;
    let back = b.open_tab("options.html").await?;
    let shown = async {
        let refused = b
            .poll(Duration::from_secs(20), "the refusals shown", || async {
                let items = b.texts(".sync-refused li").await?;
                Ok((items.len() >= 4).then_some(items))
            })
            .await?;
        let joined = refused.join("\n");
        ensure!(
            joined.contains("ui.theme: \"<img src=x onerror=alert(1)>\" is not one of"),
            "{joined}"
        );
        ensure!(
            joined.contains("provider.key: not a setting that syncs"),
            "{joined}"
        );
        ensure!(
            joined.contains("privacy.telemetry_remote: not a setting that syncs"),
            "{joined}"
        );
        ensure!(
            joined.contains("agent.quick_actions: piece ") && joined.contains(" of 40 is missing"),
            "{joined}"
        );
        let images = b
            .client
            .execute(
                "return document.querySelectorAll('.sync img').length;",
                vec![],
            )
            .await?;
        ensure!(images == json!(0), "a refused value became markup");
        Ok::<_, anyhow::Error>(())
    }
    .await;
    b.close_tab(back).await?;
    shown?;
    ensure!(
        pref(&b, "ui.theme").await? == "dark",
        "a hostile theme applied"
    );
    ensure!(
        pref(&b, "privacy.telemetry_remote").await? == false,
        "telemetry turned on from storage.sync"
    );
    ensure!(
        pref(&b, "agent.quick_actions")
            .await?
            .as_array()
            .map(Vec::len)
            == Some(12),
        "the actions changed"
    );
    Ok(b)
}
