//! `cargo xtask bench agent`: the in-page agent in headless Chromium.
//!
//! * bytes the extension adds to a page before activation: the page's DOM
//!   and the resources it loaded, with the extension installed, against a
//!   browser without it, in the same run;
//! * activation: from the `ActivateTab` message (sent from an extension
//!   page, as the popup does) to the agent drawn (`paperclip-agent-visible`
//!   mark in the agent frame) and ready (`paperclip-agent-ready`: history
//!   loaded, input enabled), on a freshly loaded page each time;
//! * page reading: `content/extract.js` then the core's extraction (wasm) on generated pages of 100 KB and
//!   1 MB of HTML (`bench/agent.html`);
//! * PDF reading: a 50-page text PDF (`/pdf/long.pdf`) read by the PDF
//!   reader module (`dist/…/pkg/pdf.wasm`) the way the background does it
//!   (fetch the module, compile, a fresh instance per document, copy the
//!   bytes in, `pdf_read`, copy the answer out, parse it): cold (the
//!   module fetched and compiled each time, as on the first PDF a worker
//!   reads) and warm (compiled once).
//!
//! Also prints the wasm sizes of `dist/sizes.json`.
//!
//! Writes `target/bench/agent.json` (rows in the shared format) and
//! `target/bench/agent-extra.json`. `--quick`: fewer samples.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use fantoccini::Locator;
use paperclip_e2e::bench::Row;
use paperclip_e2e::{root, server::Server, Browser, Kind};
use serde_json::{json, Value};

/// Activation target, p95 ms (issue 18: was 150).
const MAX_ACTIVATION_P95_MS: f64 = 100.0;
/// Cold worker start → first answer chunk, p95 (issue 18's target).
const MAX_COLD_FIRST_CHUNK_MS: f64 = 150.0;
/// Reading target for a 1 MB page, ms.
const MAX_EXTRACT_1MB_MS: f64 = 50.0;
/// Reading a 50-page PDF, the module's first load, ms (issue 17).
const MAX_PDF_COLD_MS: f64 = 500.0;
/// Reading a 50-page PDF, the module compiled already, ms (issue 17).
const MAX_PDF_WARM_MS: f64 = 150.0;

/// Reads the PDF at `arguments[1]` `arguments[2]` times with the reader
/// module at `arguments[0]`, as `background/src/pdf.rs` does; `cold`
/// (`arguments[3]`): fetch and compile the module each time. Resolves to
/// the times (ms) and the pages and characters read.
const PDF_READ_TIMED: &str = "
    const [moduleUrl, pdfUrl, n, cold, done] = arguments;
    (async () => {
      const pdf = new Uint8Array(await (await fetch(pdfUrl)).arrayBuffer());
      let compiled = null, times = [], pages = 0, chars = 0;
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        if (cold || !compiled) {
          const bytes = await (await fetch(moduleUrl, {cache: 'no-store'})).arrayBuffer();
          compiled = await WebAssembly.compile(bytes);
        }
        const instance = await WebAssembly.instantiate(compiled, {});
        const e = instance.exports;
        const at = e.pdf_alloc(pdf.length);
        new Uint8Array(e.memory.buffer).set(pdf, at);
        const len = e.pdf_read(at, pdf.length);
        const answer = JSON.parse(new TextDecoder().decode(
          new Uint8Array(e.memory.buffer, e.pdf_answer(), len).slice()));
        times.push(performance.now() - t0);
        if (!answer.ok) return {error: JSON.stringify(answer)};
        pages = answer.ok.pages.length;
        chars = answer.ok.pages.reduce((s, p) => s + p.length, 0);
      }
      return {times, pages, chars};
    })().then(done, (e) => done({error: String(e)}));";

/// What a page holds: DOM size and extension resources it loaded.
const PAGE_FOOTPRINT: &str = "
    const ext = performance.getEntriesByType('resource')
      .filter(e => /^(chrome|moz)-extension:/.test(e.name));
    return {dom: document.documentElement.outerHTML.length,
            agents: document.querySelectorAll('paperclip-agent').length,
            ext_resources: ext.length,
            ext_bytes: ext.reduce((n, e) => n + (e.decodedBodySize || 0), 0)};";

/// Sends ActivateTab for the tab at arguments[0]; resolves to the send time.
const ACTIVATE_TIMED: &str = "
    const [prefix, done] = arguments;
    const api = globalThis.browser ?? globalThis.chrome;
    (async () => {
      const tabs = await api.tabs.query({});
      const tab = tabs.find((t) => (t.url || '').startsWith(prefix));
      if (!tab) return {error: 'no tab at ' + prefix};
      const t0 = performance.timeOrigin + performance.now();
      const reply = await api.runtime.sendMessage({v: 1, body: {type: 'ActivateTab', tab_id: tab.id}});
      return {t0, reply};
    })().then(done, (e) => done({error: String(e)}));";

fn row(case: &str, xs: Vec<f64>) -> Row {
    Row::from_samples(case, xs)
}

/// An open page shows a change made elsewhere within this (issue 15).
const MAX_LIVE_P95_MS: f64 = 200.0;

/// Watches the popup page's root and its newest conversation: each change is
/// pushed with `Date.now()` (the same wall clock in every page).
const WATCH: &str = "
    window.__seen = [];
    const note = (what) => window.__seen.push([Date.now(), what]);
    new MutationObserver(() => note('theme:' + document.documentElement.getAttribute('data-theme')))
        .observe(document.documentElement, {attributes: true, attributeFilter: ['data-theme']});
    new MutationObserver(() => note('top:' + (document.querySelector('table.conversations tbody tr td.title') || {}).textContent))
        .observe(document.body, {childList: true, subtree: true});
    return true;";

/// Time from a change sent by one page (the options page's request) until
/// another open page (the popup page, in another tab) shows it: a theme
/// (the look applied to the root) and a stored conversation (a new row).
async fn live_updates(samples: usize) -> Result<Vec<Row>> {
    let b = Browser::launch(Kind::Chromium, true).await?;
    b.client.goto(&format!("{}popup.html", b.base)).await?;
    let watcher = b.client.window().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.client.execute(WATCH, vec![]).await?;
    let setter = b.client.new_window(true).await?.handle;
    b.client.switch_to_window(setter.clone()).await?;
    b.client.goto(&format!("{}options.html", b.base)).await?;
    let (mut theme, mut conversations) = (Vec::new(), Vec::new());
    for i in 0..samples + 2 {
        for case in ["theme", "conversation"] {
            let (body, expect) = match case {
                "theme" => {
                    let t = if i % 2 == 0 { "dark" } else { "light" };
                    (
                        Some(json!({"type": "SetPreference", "key": "ui.theme", "value": t})),
                        format!("theme:{t}"),
                    )
                }
                _ => (None, format!("top:Live {i}")),
            };
            b.client.switch_to_window(setter.clone()).await?;
            let t0 = b.client.execute("return Date.now();", vec![]).await?;
            let reply = match body {
                Some(body) => b.request_here(body).await?,
                None => b.import_file_here(&live_import(i), "keep_newest").await?,
            };
            if reply["body"]["ok"].is_null() {
                bail!("{case}: {reply}");
            }
            b.client.switch_to_window(watcher.clone()).await?;
            let seen: Value = b
                .poll(Duration::from_secs(5), &expect, || async {
                    let seen = b.client.execute("return window.__seen;", vec![]).await?;
                    Ok(seen
                        .as_array()
                        .and_then(|s| s.iter().find(|e| e[1] == expect.as_str()).cloned()))
                })
                .await?;
            b.client
                .execute("window.__seen = []; return true;", vec![])
                .await?;
            let ms = seen[0].as_f64().unwrap_or(f64::NAN) - t0.as_f64().unwrap_or(f64::NAN);
            if i >= 2 {
                match case {
                    "theme" => theme.push(ms),
                    _ => conversations.push(ms),
                }
            }
        }
    }
    b.close().await;
    Ok(vec![
        row("live_theme", theme),
        row("live_conversations", conversations),
    ])
}

/// An export file holding one conversation, the `i`th.
fn live_import(i: usize) -> String {
    let t = 1_700_000_000_000.0 + i as f64 * 1000.0;
    json!({
        "format": "paperclip-export", "version": 1, "exported_ms": t,
        "conversations": [{
            "id": format!("live-{i}"), "site": "https://live.test", "title": format!("Live {i}"),
            "created_ms": t, "updated_ms": t,
            "messages": [{"id": format!("m-{i}"), "role": "user", "text": "Seen?", "time_ms": t, "status": "complete"}]
        }]
    })
    .to_string()
}

#[tokio::main]
async fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let samples = if quick { 5 } else { 30 };
    let www = root().join("target/bench/www");
    if !www.join("agent.html").exists() {
        bail!(
            "{} is missing: run `cargo xtask bench agent`",
            www.display()
        );
    }
    let server = Server::start(&root())?;
    let page = server.url("/");
    let mut rows = Vec::new();

    eprintln!("bench: footprint before activation (with and without the extension)");
    let plain = Browser::launch_plain(Kind::Chromium, true).await?;
    plain.client.goto(&page).await?;
    let without = plain.client.execute(PAGE_FOOTPRINT, vec![]).await?;
    plain.close().await;

    let b = Browser::launch(Kind::Chromium, true).await?;
    b.client.goto(&page).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with = b.client.execute(PAGE_FOOTPRINT, vec![]).await?;
    let added = with["dom"].as_f64().unwrap_or(0.0) - without["dom"].as_f64().unwrap_or(0.0)
        + with["ext_bytes"].as_f64().unwrap_or(0.0);

    eprintln!("bench: activation, {samples} samples");
    let page_window = b.client.window().await?;
    // A window of its own, so that the page stays its window's active tab
    // (the user activates from the popup over the page they look at).
    let ext_tab = b.client.new_window(false).await?;
    b.client.switch_to_window(ext_tab.handle.clone()).await?;
    b.client.goto(&format!("{}options.html", b.base)).await?;
    let (mut visible, mut ready) = (Vec::new(), Vec::new());
    // Where the time to "drawn" goes: until the agent frame starts loading
    // (message, injection, loader, frame), until agent.html has arrived,
    // until its scripts have run (DOMContentLoaded: the wasm is then being
    // fetched), until the wasm runs (compiled and instantiated).
    let (mut frame, mut html, mut parsed, mut scripts, mut started) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..samples + 2 {
        b.client.switch_to_window(page_window.clone()).await?;
        b.client.goto(&page).await?;
        b.client.switch_to_window(ext_tab.handle.clone()).await?;
        let sent = b
            .client
            .execute_async(ACTIVATE_TIMED, vec![json!(page)])
            .await?;
        let t0 = sent["t0"]
            .as_f64()
            .with_context(|| format!("activation failed: {sent}"))?;
        b.client.switch_to_window(page_window.clone()).await?;
        b.enter_agent_now().await?;
        let marks: Value = b
            .poll(Duration::from_secs(10), "the agent to be ready", || async {
                let v = b
                    .client
                    .execute(
                        "const at = (n) => { const e = performance.getEntriesByName(n)[0];
                           return e ? performance.timeOrigin + e.startTime : null; };
                         const nav = performance.getEntriesByType('navigation')[0];
                         return {visible: at('paperclip-agent-visible'), ready: at('paperclip-agent-ready'),
                                 start: at('paperclip-agent-start'), frame: performance.timeOrigin,
                                 html: performance.timeOrigin + nav.responseEnd,
                                 parsed: performance.timeOrigin + nav.domInteractive,
                                 scripts: performance.timeOrigin + nav.domContentLoadedEventEnd};",
                        vec![],
                    )
                    .await?;
                Ok((!v["ready"].is_null()).then_some(v))
            })
            .await?;
        if i >= 2 {
            visible.push(marks["visible"].as_f64().unwrap_or(f64::NAN) - t0);
            ready.push(marks["ready"].as_f64().unwrap_or(f64::NAN) - t0);
            frame.push(marks["frame"].as_f64().unwrap_or(f64::NAN) - t0);
            html.push(marks["html"].as_f64().unwrap_or(f64::NAN) - t0);
            parsed.push(marks["parsed"].as_f64().unwrap_or(f64::NAN) - t0);
            scripts.push(marks["scripts"].as_f64().unwrap_or(f64::NAN) - t0);
            started.push(marks["start"].as_f64().unwrap_or(f64::NAN) - t0);
        }
        b.top().await?;
        // Leave the agent frame before the next load.
        let _ = b.client.find(Locator::Css("body")).await;
    }
    rows.push(row("activation_visible", visible));
    rows.push(row("activation_ready", ready));
    for (imp, samples) in [
        ("paperclip: … frame starts loading", frame),
        ("paperclip: … agent.html received", html),
        ("paperclip: … agent.html parsed", parsed),
        ("paperclip: … its scripts run (DCL)", scripts),
        ("paperclip: … agent wasm running", started),
    ] {
        rows.push(Row {
            imp: imp.into(),
            ..row("activation_visible", samples)
        });
    }
    b.close().await;

    eprintln!("bench: live updates, {samples} samples");
    rows.extend(live_updates(samples).await?);

    eprintln!("bench: page reading");
    let reader = Browser::launch_plain(Kind::Chromium, true).await?;
    let config = if quick {
        json!({"n": 5, "warmup": 1})
    } else {
        json!({})
    };
    let result = paperclip_e2e::bench::drive(
        &reader,
        &server.url("/bench/agent.html"),
        "runExtractBench",
        config,
        Duration::from_secs(600),
    )
    .await;
    reader.close().await;
    let result = result?;
    let extract: Vec<Row> = serde_json::from_value(result["rows"].clone())?;
    rows.extend(extract);

    eprintln!("bench: Send → first answer chunk, with the worker running and started cold");
    let w = Browser::launch(Kind::Chromium, true).await?;
    w.ask_on(&page, "Warming up?").await?;
    let (mut warm, mut cold, mut worker_ready) = (Vec::new(), Vec::new(), Vec::new());
    let mut answered = 1;
    let n = if quick { 3 } else { samples.min(20) };
    for i in 0..n {
        w.enter_agent().await?;
        warm.push(
            w.ask_timed(&format!("Warm question {i}?"), answered)
                .await?,
        );
        w.wait_answer(answered).await?;
        answered += 1;
        // The worker stopped (as Chrome stops an idle one): the next
        // question starts it again, loads its wasm and opens storage.
        w.top().await?;
        let (before, _) = w.background_instance().await?;
        w.stop_service_workers().await?;
        w.enter_agent().await?;
        cold.push(
            w.ask_timed(&format!("Cold question {i}?"), answered)
                .await?,
        );
        w.wait_answer(answered).await?;
        answered += 1;
        w.top().await?;
        let (after, ready) = w.background_instance().await?;
        if after <= before {
            bail!("the worker did not start again ({before}, then {after})");
        }
        worker_ready.push(ready);
    }
    w.close().await;
    rows.push(row("first_chunk_warm", warm));
    rows.push(row("first_chunk_cold_worker", cold));
    // The worker's own start → ready (wasm loaded, storage open), each time.
    rows.push(row("worker_start_to_ready", worker_ready));

    eprintln!("bench: PDF reading");
    let reader = Browser::launch_plain(Kind::Chromium, true).await?;
    reader.client.goto(&server.url("/bench/agent.html")).await?;
    let n = if quick { 3 } else { samples.min(20) };
    let mut pdf_read = json!({});
    for (case, cold) in [("pdf_50_pages_cold", true), ("pdf_50_pages_warm", false)] {
        // The warm run's first read compiles: one more, dropped.
        let runs = if cold { n } else { n + 1 };
        let v = reader
            .client
            .execute_async(
                PDF_READ_TIMED,
                vec![
                    json!(server.url("/bench/pdf.wasm")),
                    json!(server.url("/pdf/long.pdf")),
                    json!(runs),
                    json!(cold),
                ],
            )
            .await?;
        if let Some(e) = v.get("error") {
            bail!("reading the PDF failed: {e}");
        }
        let mut times: Vec<f64> = serde_json::from_value(v["times"].clone())?;
        if !cold {
            times.remove(0);
        }
        pdf_read[case] = json!({"pages": v["pages"], "chars": v["chars"]});
        rows.push(row(case, times));
    }
    reader.close().await;

    println!(
        "\n{:<20} {:<40} {:>5} {:>10} {:>10} {:>10}  target",
        "case", "impl", "n", "p50 ms", "p95 ms", "p99 ms"
    );
    for r in &rows {
        let target = match r.case.as_str() {
            "activation_visible" | "activation_ready" if r.imp == "paperclip" => {
                Some((MAX_ACTIVATION_P95_MS, r.p95_ms <= MAX_ACTIVATION_P95_MS))
            }
            "live_theme" | "live_conversations" => {
                Some((MAX_LIVE_P95_MS, r.p95_ms <= MAX_LIVE_P95_MS))
            }
            "extract_1mb" if r.imp == "paperclip" => {
                Some((MAX_EXTRACT_1MB_MS, r.p95_ms <= MAX_EXTRACT_1MB_MS))
            }
            "first_chunk_cold_worker" => {
                Some((MAX_COLD_FIRST_CHUNK_MS, r.p95_ms <= MAX_COLD_FIRST_CHUNK_MS))
            }
            "pdf_50_pages_cold" => Some((MAX_PDF_COLD_MS, r.p95_ms <= MAX_PDF_COLD_MS)),
            "pdf_50_pages_warm" => Some((MAX_PDF_WARM_MS, r.p95_ms <= MAX_PDF_WARM_MS)),
            _ => None,
        };
        let target = target.map_or(String::new(), |(t, met)| {
            format!("p95 ≤ {t} ms: {}", if met { "met" } else { "NOT met" })
        });
        println!(
            "{:<20} {:<40} {:>5} {:>10.2} {:>10.2} {:>10.2}  {target}",
            r.case, r.imp, r.n, r.p50_ms, r.p95_ms, r.p99_ms
        );
    }
    println!(
        "bytes added to a page before activation: {added} (DOM {} with the extension vs {} without; \
         {} extension resources loaded) — target 0: {}",
        with["dom"],
        without["dom"],
        with["ext_resources"],
        if added == 0.0 && with["agents"] == 0 { "met" } else { "NOT met" }
    );
    println!("PDF read: {pdf_read}");
    // The wasm files, so that a change's growth is seen beside the times.
    let sizes: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("dist/sizes.json")).unwrap_or_else(|_| "[]".into()),
    )?;
    println!(
        "\n{:<32} {:>10} {:>10}",
        "wasm (dist/sizes.json)", "bytes", "gzip"
    );
    for s in sizes
        .iter()
        .filter(|s| s["file"].as_str().is_some_and(|f| f.ends_with(".wasm")))
    {
        println!(
            "{:<32} {:>10} {:>10}",
            s["file"].as_str().unwrap_or_default(),
            s["bytes"],
            s["gzip"]
        );
    }
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("agent.json"),
        serde_json::to_string_pretty(&rows)? + "\n",
    )?;
    std::fs::write(
        out.join("agent-extra.json"),
        serde_json::to_string_pretty(&json!({
            "bytes_added_before_activation": added,
            "footprint_with_extension": with,
            "footprint_without_extension": without,
            "page_sizes": result["sizes"],
            "pdf_read": pdf_read,
            "wasm_sizes": sizes,
            "notes": [
                "headless Chromium; activation from an extension page's ActivateTab (as the popup sends it) to marks in the agent frame, on a freshly loaded demo page each time",
                "page reading (impl paperclip): content/extract.js serialising the DOM and reading the viewport in an iframe holding a generated page (layout included), then paperclip_core::extract in the background's wasm; the two parts are also reported alone",
                "PDF reading: a 50-page generated text PDF read by pdf.wasm as background/src/pdf.rs does it, in a plain page of headless Chromium (the fetch of the document itself excluded); cold = the module fetched and compiled each time",
            ],
        }))? + "\n",
    )?;
    println!("\nWrote {}", out.join("agent.json").display());
    Ok(())
}
