//! The vertical slice, end to end, in real Chromium and Firefox with the
//! built extension. Every scenario runs in both browsers (one test each:
//! `<area>::chromium::<name>` and `<area>::firefox::<name>`); run them one
//! at a time (`--test-threads=1`): each starts a browser. The helpers the
//! areas share are in `paperclip_e2e::scenario`.
//!
//! The areas, a module each:
//! - `accessibility`: text contrast (the default scheme, and Firefox's dark
//!   one) and the agent used with the keyboard only;
//! - `actions`: the user's own quick actions, from the options page's
//!   form to the agent's button, the context menu and the provider;
//! - `activation`: the popup's button, the shortcut, the context menu, and
//!   the README's "Using it" walked through;
//! - `agent`: asking, streaming and the history, a strict-CSP page, the
//!   conversation lists, Markdown rendering (never script), the animation
//!   states, moving the agent, pointing at the selection, the quick
//!   actions and the preview;
//! - `boundaries`: a part of a page that fails alone (the test build's
//!   fail points), and the notice a panic leaves;
//! - `budgets`: a budget set on the options page refuses the question
//!   over it, with the reason;
//! - `consent`: Firefox's data collection consent, asked for and obeyed;
//! - `controls`: the options page's and the panel's remaining controls;
//! - `device`: Chrome's on-device translation and summary through a
//!   test-only stand-in (absent, offered, downloaded on the click, ready,
//!   declined);
//! - `data`: deleting all data, a site's data and telemetry on the options
//!   page, and its readability (provider names, whole words);
//! - `errors`: the panel's telemetry tabs: errors from everywhere,
//!   classified and filtered; the request log and comparing asks; the
//!   dashboard's charts and views; the timeline's filters, notes and trace
//!   import; the session bundle;
//! - `imports`: a planted conversation that waits to be opened and a
//!   file's settings that ask first;
//! - `inspector`: the panel's Storage tab (records per store, preferences
//!   edited, exported and imported, context-cache entries deleted);
//! - `lifecycle`: the background stopping and waking, Chromium's cold
//!   worker and its storage across a restart, Firefox's agent across a
//!   suspended event page (hand-written tests per browser);
//! - `live`: the look applied everywhere at once, answers that finish
//!   after the agent closes or the tab navigates, two tabs of one site,
//!   open pages refreshed when data changes;
//! - `local`: local model servers found, added and diagnosed (a server
//!   playing Ollama on 11434, one refusing the extension on 1234);
//! - `neighbour`: another extension's messages and ports are refused;
//! - `options`: export and import, preferences and storage, providers and
//!   the resilience settings, on the options page;
//! - `page_context`: page context the user turned off, saved pages read by
//!   the core, hints;
//! - `pdf`: asking about a PDF from the popup (its own agent page, the
//!   document read offline and sent to a provider; encrypted and scanned
//!   ones refused with the reason);
//! - `popup`: the popup's ask field, who answers now, "Clippy on this
//!   site", recent conversations that open;
//! - `providers`: answers from a provider and the offline fallback, the
//!   fallback provider, Chrome's built-in AI, tokens and cost where they
//!   are shown;
//! - `resilience`: stream faults, cached answers and the circuit breaker;
//! - `screens`: every surface at two widths (no overflow, no word broken,
//!   screenshots kept), the personality in the prompt and offline answers;
//! - `security`: web pages cannot reach the background, bad messages get
//!   clear errors;
//! - `sync`: settings sync through `storage.sync` (quotas, coalesced
//!   writes, newest change wins, hostile values refused);
//! - `telemetry`: export to an OpenTelemetry collector;
//! - `waiting`: questions that wait for the network (offline answer now,
//!   the provider's answer added once later, cancel, across a worker
//!   restart; hand-written per browser).

use anyhow::Result;
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
    run(kind, browser, server, scenario).await
}

/// Runs `scenario` in `browser`, which it closes (keeping a screenshot of
/// a failure).
async fn run<F, Fut>(kind: Kind, browser: Browser, server: Server, scenario: F) -> Result<()>
where
    F: FnOnce(Browser, Server) -> Fut,
    Fut: std::future::Future<Output = Result<Browser>>,
{
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

mod accessibility;
mod actions;
mod activation;
mod agent;
mod boundaries;
mod budgets;
mod consent;
mod controls;
mod data;
mod device;
mod errors;
mod imports;
mod inspector;
mod lifecycle;
mod live;
mod local;
mod neighbour;
mod options;
mod page_context;
mod pdf;
mod popup;
mod providers;
mod resilience;
mod screens;
mod security;
mod sync;
mod telemetry;
mod waiting;
