//! `cargo xtask run`: the demo.
//!
//! Headless (`--headless`, or no display): starts the demo page server and
//! Chromium with the extension, shows the agent, asks "Summarize this page",
//! prints the answer to the terminal as it streams, and saves
//! `dist/demo.png` (`--firefox`: the same in Firefox ESR, saved as
//! `dist/demo-firefox.png`). With a display: opens Chromium with `dist/chromium`
//! loaded on the demo page and waits until the browser is closed; click the
//! Paperclip toolbar button, then "Ask Clippy on this page".

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use paperclip_e2e::{root, server::Server, Browser, Kind};

#[tokio::main]
async fn main() -> Result<()> {
    let headless = std::env::args().any(|a| a == "--headless");
    let kind = if std::env::args().any(|a| a == "--firefox") {
        Kind::Firefox
    } else {
        Kind::Chromium
    };
    let server = Server::start(&root())?;
    let page = server.url("/");
    if !headless {
        return interactive(&page);
    }
    let browser = Browser::launch(kind, true).await?;
    let result = scripted(&browser, &page).await;
    if result.is_err() {
        let _ = browser
            .screenshot(&root().join("dist/demo-failure.png"))
            .await;
    }
    browser.close().await;
    result
}

async fn scripted(browser: &Browser, page: &str) -> Result<()> {
    browser.client.goto(page).await?;
    println!("Demo page: {page}");
    browser.activate(page).await?;
    browser.enter_agent().await?;
    println!("Clippy is on the page. Asking: Summarize this page\n");
    let started = Instant::now();
    browser.ask("Summarize this page").await?;
    let mut printed = 0;
    let mut first_chunk = None;
    loop {
        let v = browser
            .client
            .execute(
                "const a = [...document.querySelectorAll('[role=log] .message.assistant')].pop();
                 return a ? {status: a.dataset.status, text: a.querySelector('.text').textContent} : null;",
                vec![],
            )
            .await?;
        if let Some(text) = v["text"].as_str() {
            if text.len() > printed {
                first_chunk.get_or_insert_with(|| started.elapsed());
                print!("{}", &text[printed..]);
                std::io::stdout().flush()?;
                printed = text.len();
            }
            if v["status"] == "complete" {
                break;
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "no answer within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "\n\n(first chunk after {} ms, complete after {} ms; offline provider, no API key)",
        first_chunk.unwrap_or_default().as_millis(),
        started.elapsed().as_millis()
    );
    let png = root().join(match browser.kind {
        Kind::Chromium => "dist/demo.png",
        Kind::Firefox => "dist/demo-firefox.png",
    });
    browser.screenshot(&png).await?;
    println!("Screenshot: {}", png.display());
    Ok(())
}

fn interactive(page: &str) -> Result<()> {
    let ext = root().join("dist/chromium");
    let profile = tempfile::tempdir()?;
    println!("Opening Chromium on {page}");
    println!("Click the Paperclip toolbar button, then \"Ask Clippy on this page\" (or press Alt+Shift+K).");
    let status = std::process::Command::new(
        std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    )
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--disable-extensions-except={}", ext.display()))
    .arg(format!("--load-extension={}", ext.display()))
    .args([
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(page)
    .status()
    .context("starting Chromium")?;
    println!("Chromium exited ({status})");
    Ok(())
}
