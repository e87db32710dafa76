//! End-to-end harness: the built extension in real Chromium and Firefox,
//! driven over WebDriver (chromedriver, geckodriver) with `fantoccini`.
//!
//! [`Browser::launch`] starts a driver and a browser with the extension
//! loaded; its helpers activate the agent the way the popup does
//! ([`Browser::activate`]), step into the agent's iframe through the closed
//! shadow root ([`Browser::enter_agent`]), ask, and watch the answer stream
//! ([`Browser::wait_answer`]). The same scenarios run in both browsers
//! (`tests/e2e/`, with the helpers they share in [`scenario`]);
//! `src/bin/demo.rs` is the scripted demo.
//! [`Browser::launch_plain`] starts a browser without the extension, for
//! `src/bin/bench_storage.rs` (the storage benchmark).
//!
//! The extension under test is `target/e2e-ext/<browser>`: `dist/<browser>`
//! plus `tests/manifest.test.json` (host access to 127.0.0.1, so that the
//! agent can be injected without a user gesture), written by
//! `cargo xtask test`.

pub mod bench;
pub mod fake_provider;
pub mod otlp_receiver;
pub mod scenario;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Firefox add-on id (from `manifest.firefox.json`).
pub const GECKO_ID: &str = "paperclip@paperclip.dev";
/// The fixed moz-extension UUID given to the add-on in tests.
pub const FIREFOX_UUID: &str = "5b0c1a52-6a3e-4d8e-9d57-0c1e2a7f4b11";
/// The neighbour extension's Firefox id (`tests/neighbour`).
pub const NEIGHBOUR_GECKO_ID: &str = "neighbour@paperclip.test";
/// Its fixed Firefox UUID.
pub const NEIGHBOUR_UUID: &str = "7d1e2b63-7b4f-4e9f-8e68-1d2f3b8a5c22";

/// Another extension, installed next to Paperclip by
/// [`Browser::launch_with_neighbour`]: a page and nothing else.
pub fn neighbour_dir() -> Result<PathBuf> {
    Ok(root().join("tests/neighbour").canonicalize()?)
}

/// Which browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Debian's Chromium through chromedriver.
    Chromium,
    /// Firefox ESR through geckodriver.
    Firefox,
}

impl Kind {
    /// Folder name under `dist/`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chromium => "chromium",
            Kind::Firefox => "firefox",
        }
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The extension under test for `kind`.
pub fn extension_dir(kind: Kind) -> Result<PathBuf> {
    let dir = std::env::var_os("PAPERCLIP_TEST_EXT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/e2e-ext"))
        .join(kind.name());
    if !dir.join("manifest.json").exists() {
        bail!(
            "{} is missing: run `cargo xtask test` (or `cargo xtask dist` and then the tests)",
            dir.display()
        );
    }
    Ok(dir.canonicalize()?)
}

/// Chromium's id for an unpacked extension: SHA-256 of its absolute path,
/// first 16 bytes, each hex digit mapped to `a`..`p`.
pub fn chromium_extension_id(path: &Path) -> String {
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    digest[..16]
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|n| (b'a' + n) as char)
        .collect()
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A raw WebDriver command relative to the session (`session/{id}/PATH`).
#[derive(Debug)]
struct Raw {
    method: http::Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for Raw {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// A browser with the extension loaded, and its driver.
pub struct Browser {
    /// Which browser.
    pub kind: Kind,
    /// The WebDriver session.
    pub client: Client,
    /// `chrome-extension://ID/` or `moz-extension://UUID/`.
    pub base: String,
    driver: Child,
    /// Where the browser saves downloads (inside the profile).
    downloads: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts the driver and browser for `kind` with the extension loaded.
    pub async fn launch(kind: Kind, headless: bool) -> Result<Browser> {
        Self::launch_with_prefs(kind, headless, json!({})).await
    }

    /// As [`Browser::launch`], with extra Firefox preferences (ignored by
    /// Chromium).
    pub async fn launch_with_prefs(kind: Kind, headless: bool, prefs: Value) -> Result<Browser> {
        let ext = extension_dir(kind)?;
        let browser = Self::start(kind, headless, prefs, Some(&ext), None).await?;
        browser.wait_for_background().await?;
        Ok(browser)
    }

    /// As [`Browser::launch`], with another extension installed next to
    /// Paperclip ([`neighbour_dir`]); returns the base URL of its pages too.
    pub async fn launch_with_neighbour(kind: Kind, headless: bool) -> Result<(Browser, String)> {
        let (ext, neighbour) = (extension_dir(kind)?, neighbour_dir()?);
        let browser = Self::start(kind, headless, json!({}), Some(&ext), Some(&neighbour)).await?;
        browser.wait_for_background().await?;
        let base = match kind {
            Kind::Chromium => format!("chrome-extension://{}/", chromium_extension_id(&neighbour)),
            Kind::Firefox => format!("moz-extension://{NEIGHBOUR_UUID}/"),
        };
        Ok((browser, base))
    }

    /// Starts the driver and browser for `kind` without the extension, for
    /// plain pages (the benchmarks). `base` is empty. The profile is a fresh
    /// directory on disk, so storage behaves as in a real profile (not the
    /// in-memory storage of an incognito context).
    pub async fn launch_plain(kind: Kind, headless: bool) -> Result<Browser> {
        Self::start(kind, headless, json!({}), None, None).await
    }

    /// Starts the driver and a browser with a fresh profile, and the
    /// extension at `ext` when given (and another one at `neighbour`).
    async fn start(
        kind: Kind,
        headless: bool,
        prefs: Value,
        ext: Option<&Path>,
        neighbour: Option<&Path>,
    ) -> Result<Browser> {
        let profile = tempfile::tempdir()?;
        let port = free_port()?;
        let mut driver = match kind {
            Kind::Chromium => Command::new(env_or("CHROMEDRIVER", "/usr/bin/chromedriver"))
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting chromedriver")?,
            Kind::Firefox => Command::new(env_or("GECKODRIVER", "geckodriver"))
                .args(["--port", &port.to_string()])
                .args(["--websocket-port", &free_port()?.to_string()])
                .arg("--allow-system-access")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting geckodriver")?,
        };
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads)?;
        // A browser started in private browsing gets the add-on allowed in
        // private windows, as a user would allow it.
        let private = prefs["browser.privatebrowsing.autostart"] == json!(true);
        let loaded: Vec<&Path> = ext.into_iter().chain(neighbour).collect();
        let mut caps = capabilities(kind, &loaded, profile.path(), &downloads, headless);
        if let (Some(Value::Object(p)), Value::Object(extra)) = (
            caps.get_mut("moz:firefoxOptions")
                .and_then(|o| o.get_mut("prefs")),
            prefs,
        ) {
            p.extend(extra);
        }
        let url = format!("http://127.0.0.1:{port}/");
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    let _ = driver.kill();
                    bail!("{kind:?}: no WebDriver session: {e}");
                }
            }
        };
        let base = match (kind, ext) {
            (_, None) => String::new(),
            (Kind::Chromium, Some(ext)) => {
                format!("chrome-extension://{}/", chromium_extension_id(ext))
            }
            (Kind::Firefox, Some(_)) => {
                for path in &loaded {
                    client
                        .issue_cmd(Raw {
                            method: http::Method::POST,
                            path: "moz/addon/install".into(),
                            body: Some(json!({
                                "path": path,
                                "temporary": true,
                                "allowPrivateBrowsing": private,
                            })),
                        })
                        .await
                        .with_context(|| format!("installing the add-on {}", path.display()))?;
                }
                format!("moz-extension://{FIREFOX_UUID}/")
            }
        };
        Ok(Browser {
            kind,
            client,
            base,
            driver,
            downloads,
            _profile: profile,
        })
    }

    /// Closes the session and stops the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// Waits until the background answers a Ping from an extension page.
    async fn wait_for_background(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            let r = self
                .in_extension_page("options.html", SEND_MESSAGE, json!({"type": "Ping"}))
                .await;
            match r {
                Ok(v) if v["body"]["ok"]["type"] == "Pong" => return Ok(()),
                other if started.elapsed() > Duration::from_secs(20) => {
                    bail!(
                        "{:?}: background never answered a Ping: {other:?}",
                        self.kind
                    )
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// Opens extension page `path` in a new tab, runs `script` there with
    /// `arg` (as `arguments[0]`; it resolves `arguments[1]`), closes the tab
    /// and returns to the current one.
    pub async fn in_extension_page(&self, path: &str, script: &str, arg: Value) -> Result<Value> {
        self.in_extension_page_as(path, script, arg, true).await
    }

    /// [`Browser::in_extension_page`] in a new tab (`as_tab`) or in a window
    /// of its own, which leaves the current tab its window's active one (as
    /// the toolbar popup does).
    pub async fn in_extension_page_as(
        &self,
        path: &str,
        script: &str,
        arg: Value,
        as_tab: bool,
    ) -> Result<Value> {
        let back = self.client.window().await?;
        let tab = self.new_window(as_tab).await?;
        self.client.switch_to_window(tab).await?;
        let result = async {
            self.client.goto(&format!("{}{path}", self.base)).await?;
            Ok::<_, anyhow::Error>(self.client.execute_async(script, vec![arg]).await?)
        }
        .await;
        self.client.close_window().await?;
        self.client.switch_to_window(back).await?;
        result
    }

    /// A new tab (`as_tab`) or window. Firefox busy with a very large page
    /// sometimes answers the command with a response geckodriver cannot
    /// decode ("Failed to decode response from marionette"): then the
    /// window that did open is used, or the command is sent again.
    async fn new_window(&self, as_tab: bool) -> Result<fantoccini::wd::WindowHandle> {
        let mut attempt = 0;
        loop {
            let before = self.client.windows().await?;
            match self.client.new_window(as_tab).await {
                Ok(w) => return Ok(w.handle),
                Err(e) if attempt < 3 && e.to_string().contains("Failed to decode response") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let now = self.client.windows().await?;
                    if let Some(opened) = now.into_iter().find(|h| !before.contains(h)) {
                        return Ok(opened);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends one protocol request (`body`, e.g. `{"type": "Ping"}`) from an
    /// extension page and returns the enveloped reply.
    pub async fn request(&self, body: Value) -> Result<Value> {
        self.in_extension_page("options.html", SEND_MESSAGE, body)
            .await
    }

    /// Imports export file `file` under `policy` (setup: the options
    /// page's protocol, not its control) from the options page; returns a
    /// reply whose `body.ok` is what the import did (`Imported`), or the
    /// error reply. A file that does not split is an error here.
    pub async fn import_file(&self, file: &str, policy: &str) -> Result<Value> {
        let arg = import_arg(file, policy)?;
        self.in_extension_page("options.html", IMPORT_PARTS, arg)
            .await
    }

    /// "Export all" as the options page does it, in parts (setup: the
    /// protocol, not the button): the file's text.
    pub async fn export_all(&self) -> Result<String> {
        let reply = self
            .in_extension_page("options.html", EXPORT_PARTS, Value::Null)
            .await?;
        let ok = &reply["body"]["ok"];
        let (Some(head), Some(tail), Some(pieces)) = (
            ok["head"].as_str(),
            ok["tail"].as_str(),
            ok["pieces"].as_array(),
        ) else {
            bail!("the export failed: {reply}");
        };
        let pieces: Vec<&str> = pieces
            .iter()
            .map(|p| p.as_str().context("a piece"))
            .collect::<Result<_>>()?;
        Ok(paperclip_core::export::assemble(head, &pieces, tail))
    }

    /// [`Browser::import_file`] from the extension page the session is in.
    pub async fn import_file_here(&self, file: &str, policy: &str) -> Result<Value> {
        let arg = import_arg(file, policy)?;
        Ok(self.client.execute_async(IMPORT_PARTS, vec![arg]).await?)
    }

    /// Sends one protocol request from the document the session is in (an
    /// extension page or the agent's frame) and returns the reply.
    pub async fn request_here(&self, body: Value) -> Result<Value> {
        Ok(self.client.execute_async(SEND_MESSAGE, vec![body]).await?)
    }

    /// Shows the agent on the current tab, whose URL must start with
    /// `page_url`, the way a user does: the toolbar popup's "Ask Clippy on
    /// this page" ([`Browser::open_popup`]), clicked. Fails with the
    /// popup's message when it refuses.
    pub async fn activate(&self, page_url: &str) -> Result<()> {
        let url = self.client.current_url().await?.to_string();
        if !url.starts_with(page_url) {
            bail!("activate: the current tab is at {url}, not {page_url}");
        }
        if let Some(refusal) = self.ask_clippy_from_popup().await? {
            bail!("the popup refused: {refusal}");
        }
        Ok(())
    }

    /// Opens the popup over the current tab's window and clicks "Ask Clippy
    /// on this page"; back in the tab afterwards. `None` when the popup
    /// closed itself (the agent is being shown), else the message it shows.
    pub async fn ask_clippy_from_popup(&self) -> Result<Option<String>> {
        let page = self.client.window().await?;
        let popup = self.open_popup().await?;
        let result = async {
            let button = self.control("button", "Ask Clippy on this page").await?;
            self.click(&button).await?;
            let started = Instant::now();
            loop {
                if !self.client.windows().await?.contains(&popup) {
                    return Ok(None);
                }
                let alert = self
                    .client
                    .execute(
                        "const a = document.querySelector('main.popup > [role=alert]');
                         return a ? a.textContent : null;",
                        vec![],
                    )
                    .await;
                match alert {
                    Ok(Value::String(text)) => return Ok(Some(text)),
                    // The popup closed between the two looks.
                    Err(_) if !self.client.windows().await?.contains(&popup) => return Ok(None),
                    _ => {}
                }
                if started.elapsed() > Duration::from_secs(10) {
                    bail!("the popup neither closed nor said why");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        .await;
        if self.client.windows().await?.contains(&popup) {
            self.client.switch_to_window(popup).await?;
            self.client.close_window().await?;
        }
        self.client.switch_to_window(page).await?;
        result
    }

    /// Opens the toolbar popup's page (`popup.html`) in a popup-type window
    /// of its own over the current tab's window, and switches to it.
    ///
    /// A test cannot open the real toolbar popup: in headless Chromium
    /// `action.openPopup()` resolves but shows no popup, and Firefox opens
    /// it only for the focused window, in a panel WebDriver cannot enter.
    /// The page is the same; it finds the tab it is about as it does in a
    /// window of its own (the last used tab of a normal window).
    pub async fn open_popup(&self) -> Result<fantoccini::wd::WindowHandle> {
        let popup = self.open_popup_window("popup.html").await?;
        // The popup chose its tab while the options window that opened it
        // was still there (and could be taken for the page it is over):
        // load it again now that only the user's tabs remain.
        self.client.refresh().await?;
        Ok(popup)
    }

    /// Opens extension page `path` in a popup-type window of its own (not
    /// a normal window: the popup does not take it for the user's tab, as
    /// it does not take a devtools window), and switches to it.
    pub async fn open_popup_window(&self, path: &str) -> Result<fantoccini::wd::WindowHandle> {
        let before = self.client.windows().await?;
        let created = self
            .in_extension_page_as("options.html", OPEN_POPUP, json!(path), false)
            .await?;
        if created.get("error").is_some() {
            bail!("opening {path}: {created}");
        }
        let started = Instant::now();
        let popup = loop {
            let now = self.client.windows().await?;
            if let Some(h) = now.into_iter().find(|h| !before.contains(h)) {
                break h;
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("the window of {path} never appeared");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.client.switch_to_window(popup.clone()).await?;
        Ok(popup)
    }

    /// Calls the background's `listener` (`onCommand`, `onMenuClicked`: see
    /// `bg.js`) the way the browser does, with `args` followed by the tab
    /// whose URL starts with `page_url`.
    ///
    /// No headless browser lets a test press a browser shortcut (WebDriver
    /// and CDP key events reach the page, not the browser's shortcuts) or
    /// click a browser menu, so the browser's side is played here: in
    /// Chromium from inside the service worker (CDP), in Firefox from an
    /// extension page through `runtime.getBackgroundPage()`.
    pub async fn fire_listener(&self, listener: &str, args: Value, page_url: &str) -> Result<()> {
        self.request(json!({"type": "Ping"})).await?;
        match self.kind {
            Kind::Firefox => {
                let r = self
                    .in_extension_page_as(
                        "options.html",
                        FIRE_LISTENER_FIREFOX,
                        json!([listener, args, page_url]),
                        false,
                    )
                    .await?;
                if r != json!("fired") {
                    bail!("{listener}: {r}");
                }
            }
            Kind::Chromium => {
                let targets = self.cdp("Target.getTargets", json!({})).await?;
                let worker = targets["targetInfos"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|t| self.is_our_worker(t))
                    .ok_or_else(|| anyhow!("the background's service worker is not running"))?;
                let session = self
                    .cdp(
                        "Target.attachToTarget",
                        json!({"targetId": worker["targetId"], "flatten": false}),
                    )
                    .await?;
                let expression = format!(
                    "chrome.tabs.query({{}}).then((tabs) => {{
                       const tab = tabs.find((t) => (t.url || '').startsWith({page}));
                       globalThis.paperclipListeners[{listener}](...{args}, tab);
                     }})",
                    page = json!(page_url),
                    listener = json!(listener),
                );
                let message = json!({"id": 1, "method": "Runtime.evaluate", "params": {"expression": expression}});
                // The answer comes back as an event that chromedriver does
                // not relay; the test watches the effect on the page.
                self.cdp(
                    "Target.sendMessageToTarget",
                    json!({"sessionId": session["sessionId"], "message": message.to_string()}),
                )
                .await?;
                let _ = self
                    .cdp(
                        "Target.detachFromTarget",
                        json!({"sessionId": session["sessionId"]}),
                    )
                    .await;
            }
        }
        Ok(())
    }

    /// Opens `page`, shows the agent, asks `question` and waits for the
    /// complete answer; ends back in the page's top-level document.
    pub async fn ask_on(&self, page: &str, question: &str) -> Result<String> {
        self.client.goto(page).await?;
        self.activate(page).await?;
        self.enter_agent().await?;
        self.ask(question).await?;
        let (answer, _) = self.wait_answer(0).await?;
        self.top().await?;
        Ok(answer)
    }

    /// Back to the top-level document of the current tab.
    pub async fn top(&self) -> Result<()> {
        let w = self.client.window().await?;
        self.client.switch_to_window(w).await?;
        Ok(())
    }

    /// Steps into the agent's iframe as soon as it exists, without waiting
    /// for the chat to be ready.
    pub async fn enter_agent_now(&self) -> Result<()> {
        self.top().await?;
        let host = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("paperclip-agent"))
            .await
            .context("the agent did not appear in the page")?;
        let root = host.shadow_root().await.context("shadow root")?;
        let frame = root.find(Locator::Css("iframe")).await.context("iframe")?;
        frame
            .enter_frame()
            .await
            .context("entering the agent frame")?;
        Ok(())
    }

    /// Steps into the agent's iframe (inside the closed shadow root) and
    /// waits until the chat is ready.
    pub async fn enter_agent(&self) -> Result<()> {
        self.enter_agent_now().await?;
        self.wait_until(Duration::from_secs(15), "the chat to be ready", || async {
            // The chat may render its button again while starting.
            match self.control("button", "Send").await?.is_enabled().await {
                Ok(enabled) => Ok(enabled),
                Err(e) if stale(&e.to_string()) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// The element matching `css` whose accessible name is `name`, checked
    /// through WebDriver's computed label (what assistive tech sees).
    pub async fn control(&self, css: &str, name: &str) -> Result<Element> {
        let started = Instant::now();
        loop {
            for el in self
                .client
                .find_all(Locator::Css(css))
                .await
                .context("find_all")?
            {
                match self.computed(&el, "computedlabel").await {
                    Ok(label) if label == name => return Ok(el),
                    Ok(_) => {}
                    // Rendered again since it was found: look again.
                    Err(e) if stale(&format!("{e:#}")) => {}
                    Err(e) => return Err(e),
                }
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("no `{css}` named {name:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The computed role (`what` = `computedrole`) or accessible name
    /// (`computedlabel`) of `el`: WebDriver's endpoint, or, where
    /// chromedriver cannot serve it (an element in a frame inside a closed
    /// shadow root), Blink's own `computedRole` / `computedName` from the
    /// accessibility tree (enabled by `ComputedAccessibilityInfo`).
    pub async fn computed(&self, el: &Element, what: &str) -> Result<String> {
        let endpoint = self
            .client
            .issue_cmd(Raw {
                method: http::Method::GET,
                path: format!("element/{}/{what}", el.element_id()),
                body: None,
            })
            .await;
        let v = match endpoint {
            Ok(v) => v,
            Err(e) if self.kind == Kind::Chromium => {
                let prop = if what == "computedrole" {
                    "computedRole"
                } else {
                    "computedName"
                };
                let v = self
                    .client
                    .execute(
                        &format!("return arguments[0].{prop};"),
                        vec![serde_json::to_value(el)?],
                    )
                    .await?;
                if v.is_null() {
                    bail!("{what}: {e} (and Blink's {prop} is unavailable)");
                }
                v
            }
            Err(e) => return Err(e.into()),
        };
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Types `text` into "Ask Clippy" and presses "Send".
    ///
    /// In Chromium, native input does not reach an iframe inside a closed
    /// shadow root (chromedriver computes the wrong target: crbug 469831357),
    /// so there the text is set and the button clicked from script; Firefox
    /// gets real key and pointer input.
    pub async fn ask(&self, text: &str) -> Result<()> {
        let input = self.control("textarea", "Ask Clippy").await?;
        let send = self.control("button", "Send").await?;
        match self.kind {
            Kind::Firefox => {
                input.send_keys(text).await?;
                send.click().await?;
            }
            Kind::Chromium => {
                self.client
                    .execute(
                        "const [input, send, text] = arguments;
                         input.focus(); input.value = text; send.click();",
                        vec![
                            serde_json::to_value(&input)?,
                            serde_json::to_value(&send)?,
                            json!(text),
                        ],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Clicks `el`: natively in Firefox, from script in Chromium (see
    /// [`Browser::ask`]).
    pub async fn click(&self, el: &Element) -> Result<()> {
        match self.kind {
            Kind::Firefox => el.click().await?,
            Kind::Chromium => {
                self.client
                    .execute("arguments[0].click();", vec![serde_json::to_value(el)?])
                    .await?;
            }
        }
        Ok(())
    }

    /// The conversation log (role=log, named "Conversation").
    pub async fn log(&self) -> Result<Element> {
        let log = self.control("[role=log]", "Conversation").await?;
        let role = self.computed(&log, "computedrole").await?;
        if role != "log" {
            bail!("the conversation's computed role is {role:?}, not log");
        }
        Ok(log)
    }

    /// Texts of the messages in the log, as (role class, text).
    pub async fn messages(&self) -> Result<Vec<(String, String)>> {
        let v = self
            .client
            .execute(
                "return [...document.querySelectorAll('[role=log] .message')].map(m =>
                   [m.classList.contains('user') ? 'user' : 'assistant', m.querySelector('.text').textContent]);",
                vec![],
            )
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Waits for the last answer to complete, sampling its text as it
    /// streams; returns the final text and the distinct partial texts seen.
    pub async fn wait_answer(&self, previous_answers: usize) -> Result<(String, Vec<String>)> {
        let mut seen: Vec<String> = Vec::new();
        let started = Instant::now();
        loop {
            let v = self
                .client
                .execute(
                    "const a = [...document.querySelectorAll('[role=log] .message.assistant')];
                     const err = document.querySelector('[role=alert]');
                     if (a.length <= arguments[0]) return {n: a.length, error: err && err.textContent};
                     const last = a[a.length - 1];
                     return {n: a.length, status: last.dataset.status, text: last.querySelector('.text').textContent,
                             error: err && err.textContent};",
                    vec![json!(previous_answers)],
                )
                .await?;
            if let Some(e) = v["error"].as_str() {
                bail!("the agent shows an error: {e}");
            }
            if let Some(text) = v["text"].as_str() {
                if seen.last().map(String::as_str) != Some(text) {
                    seen.push(text.to_string());
                }
                if v["status"] == "complete" {
                    return Ok((text.to_string(), seen));
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("no complete answer within 30 s (seen {seen:?})");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Polls `probe` every 100 ms until it yields a value, for at most
    /// `limit`.
    pub async fn poll<T, F, Fut>(&self, limit: Duration, what: &str, mut probe: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>>>,
    {
        let started = Instant::now();
        loop {
            if let Some(v) = probe().await? {
                return Ok(v);
            }
            if started.elapsed() > limit {
                bail!("timed out waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls `check` until it is true.
    pub async fn wait_until<F, Fut>(&self, limit: Duration, what: &str, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        self.poll(limit, what, || {
            let fut = check();
            async move { Ok(fut.await?.then_some(())) }
        })
        .await
    }

    /// WCAG 2 AA contrast in the current document: every visible element
    /// with text of its own, its text colour against the background it
    /// sits on (the ancestors' background colours composed down to the
    /// canvas; the canvas is white, or near-black under a dark colour
    /// scheme), must reach 4.5:1, or 3:1 for large text (24 px, or 18.66 px
    /// bold). Disabled controls are exempt (as WCAG has it). Returns how
    /// many elements were checked, each failure as
    /// `ratio tag.class "text" colour on background`, and whether the
    /// document was in the dark colour scheme.
    pub async fn contrast(&self) -> Result<Contrast> {
        let v = self
            .client
            .execute(&format!("return {CONTRAST_SCRIPT};"), vec![])
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// [`Browser::contrast`] of extension page `path` (opened in a new tab,
    /// checked once it has drawn).
    pub async fn contrast_of_page(&self, path: &str) -> Result<Contrast> {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             setTimeout(() => done({CONTRAST_SCRIPT}), 1500);"
        );
        let v = self.in_extension_page(path, &script, json!(null)).await?;
        Ok(serde_json::from_value(v)?)
    }

    /// The text of the first element matching `css` in the current
    /// document, if there is one.
    pub async fn text_of(&self, css: &str) -> Result<Option<String>> {
        let v = self
            .client
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![json!(css)],
            )
            .await?;
        Ok(v.as_str().map(str::to_string))
    }

    /// When the background instance answering now started, and how long it
    /// took to become ready (`Pong.started_ms`, `Pong.ready_ms`).
    pub async fn background_instance(&self) -> Result<(f64, f64)> {
        let pong = self.request(json!({"type": "Ping"})).await?;
        let ok = &pong["body"]["ok"];
        match (ok["started_ms"].as_f64(), ok["ready_ms"].as_f64()) {
            (Some(started), Some(ready)) if started > 0.0 => Ok((started, ready)),
            _ => bail!("no Pong: {pong}"),
        }
    }

    /// Chromium only: runs CDP command `cmd` on the current tab.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value> {
        if self.kind != Kind::Chromium {
            bail!("{cmd} needs CDP (Chromium)");
        }
        self.client
            .issue_cmd(Raw {
                method: http::Method::POST,
                path: "goog/cdp/execute".into(),
                body: Some(json!({"cmd": cmd, "params": params})),
            })
            .await
            .map_err(|e| anyhow!("{cmd}: {e}"))
    }

    /// Types `text` as real key events into whatever has the keyboard
    /// focus in the current frame (WebDriver's Enter and Escape characters
    /// press those keys). Firefox: WebDriver keys to the active element.
    /// Chromium: WebDriver key actions (chromedriver cannot send keys to an
    /// element in a frame inside a closed shadow root, and CDP input sent
    /// to the tab does not reach that frame).
    pub async fn type_keys(&self, text: &str) -> Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        if self.kind == Kind::Firefox {
            let active = self.client.active_element().await?;
            active.send_keys(text).await?;
            return Ok(());
        }
        let mut keys = KeyActions::new("keyboard".into());
        for value in text.chars() {
            keys = keys
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client.perform_actions(keys).await?;
        Ok(())
    }

    /// Chromium only: stops every service worker through CDP (a cold
    /// start of the background follows on the next event).
    pub async fn stop_service_workers(&self) -> Result<()> {
        if self.kind != Kind::Chromium {
            bail!("stopping workers needs CDP (Chromium)");
        }
        for cmd in ["ServiceWorker.enable", "ServiceWorker.stopAllWorkers"] {
            self.client
                .issue_cmd(Raw {
                    method: http::Method::POST,
                    path: "goog/cdp/execute".into(),
                    body: Some(json!({"cmd": cmd, "params": {}})),
                })
                .await
                .map_err(|e| anyhow!("{cmd}: {e}"))?;
        }
        Ok(())
    }

    /// Whether DevTools target `t` (CDP `TargetInfo` or an entry of
    /// `/json/list`) is this extension's service worker.
    fn is_our_worker(&self, t: &Value) -> bool {
        t["type"] == "service_worker"
            && t["url"].as_str().is_some_and(|u| u.starts_with(&self.base))
    }

    /// Chromium only: the JS heap the background's service worker holds
    /// after a full garbage collection, bytes. Chromium gives a worker no
    /// `performance.memory` and chromedriver cannot drive a worker target,
    /// so this speaks CDP to the worker directly ([`Browser::heap_of`]).
    pub async fn worker_js_heap(&self) -> Result<f64> {
        let usage = self.heap_of(|t| self.is_our_worker(t)).await?;
        usage["usedSize"]
            .as_f64()
            .ok_or_else(|| anyhow!("no heap usage: {usage}"))
    }

    /// Chromium only: CDP `Runtime.getHeapUsage` after
    /// `HeapProfiler.collectGarbage` on the first target (of the browser's
    /// DevTools `/json/list`) that `pick` chooses, over the browser's
    /// DevTools endpoint (`goog:chromeOptions.debuggerAddress`): the
    /// answers chromedriver does not relay. The heap is the target's
    /// process's: the extension's pages share one.
    pub async fn heap_of(&self, pick: impl Fn(&Value) -> bool) -> Result<Value> {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let address = self
            .client
            .capabilities()
            .and_then(|c| c.get("goog:chromeOptions"))
            .and_then(|o| o["debuggerAddress"].as_str())
            .ok_or_else(|| anyhow!("no DevTools address (Chromium only)"))?
            .to_string();
        let list = http_get(&format!("http://{address}/json/list")).await?;
        let list: Value = serde_json::from_str(&list)?;
        let socket = list
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| pick(t))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .ok_or_else(|| anyhow!("no such DevTools target"))?
            .to_string();
        let (mut ws, _) = tokio_tungstenite::connect_async(socket.as_str()).await?;
        let mut result = Value::Null;
        for (id, method) in [
            (1, "HeapProfiler.collectGarbage"),
            (2, "Runtime.getHeapUsage"),
        ] {
            let command = json!({"id": id, "method": method, "params": {}});
            ws.send(Message::text(command.to_string())).await?;
            loop {
                let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
                    .await
                    .map_err(|_| anyhow!("{method}: no answer in 30 s"))?
                    .ok_or_else(|| anyhow!("{method}: the DevTools socket closed"))??;
                let Ok(text) = message.to_text() else {
                    continue;
                };
                let v: Value = serde_json::from_str(text)?;
                if v["id"] == id {
                    if !v["error"].is_null() {
                        bail!("{method}: {}", v["error"]);
                    }
                    result = v["result"].clone();
                    break;
                }
            }
        }
        let _ = ws.close(None).await;
        Ok(result)
    }

    /// Chromium only: whether this extension's service worker is running
    /// (CDP `Target.getTargets`).
    pub async fn service_worker_running(&self) -> Result<bool> {
        let v = self
            .client
            .issue_cmd(Raw {
                method: http::Method::POST,
                path: "goog/cdp/execute".into(),
                body: Some(json!({"cmd": "Target.getTargets", "params": {}})),
            })
            .await?;
        let infos = v["targetInfos"].as_array().cloned().unwrap_or_default();
        Ok(infos.iter().any(|t| self.is_our_worker(t)))
    }

    /// Asks `text` from script and returns the milliseconds from the click
    /// on "Send" to the first chunk of answer number `previous_answers + 1`
    /// appearing in the chat (measured in the agent with performance.now()).
    pub async fn ask_timed(&self, text: &str, previous_answers: usize) -> Result<f64> {
        let input = self.control("textarea", "Ask Clippy").await?;
        let send = self.control("button", "Send").await?;
        let v = self
            .client
            .execute_async(
                "const [input, send, text, n, done] = arguments;
                 const log = document.querySelector('[role=log]');
                 const first = () => {
                   const a = log.querySelectorAll('.message.assistant');
                   return a.length > n && a[a.length - 1].querySelector('.text').textContent.length > 0;
                 };
                 const t0 = performance.now();
                 const obs = new MutationObserver(() => {
                   if (first()) { obs.disconnect(); done(performance.now() - t0); }
                 });
                 obs.observe(log, {subtree: true, childList: true, characterData: true});
                 input.focus(); input.value = text; send.click();",
                vec![
                    serde_json::to_value(&input)?,
                    serde_json::to_value(&send)?,
                    json!(text),
                    json!(previous_answers),
                ],
            )
            .await?;
        v.as_f64().ok_or_else(|| anyhow!("no timing: {v}"))
    }

    /// Opens extension page `path` (e.g. `options.html`) in a new tab and
    /// switches to it; returns the handle to come back to with
    /// [`Browser::close_tab`].
    pub async fn open_tab(&self, path: &str) -> Result<fantoccini::wd::WindowHandle> {
        let back = self.client.window().await?;
        let tab = self.client.new_window(true).await?;
        self.client.switch_to_window(tab.handle).await?;
        self.client.goto(&format!("{}{path}", self.base)).await?;
        Ok(back)
    }

    /// Closes the current tab and switches to `back`.
    pub async fn close_tab(&self, back: fantoccini::wd::WindowHandle) -> Result<()> {
        self.client.close_window().await?;
        self.client.switch_to_window(back).await?;
        Ok(())
    }

    /// The text of every element matching `css` in the current frame.
    pub async fn texts(&self, css: &str) -> Result<Vec<String>> {
        let v = self
            .client
            .execute(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
                vec![json!(css)],
            )
            .await?;
        Ok(serde_json::from_value(v)?)
    }

    /// Selects the page's first paragraph containing `word` (in the top
    /// document) and returns the selection's text, whitespace collapsed.
    pub async fn select_paragraph(&self, word: &str) -> Result<String> {
        self.top().await?;
        let selected = self
            .client
            .execute(
                "const p = [...document.querySelectorAll('p')].find(p => p.textContent.includes(arguments[0]));
                 const r = document.createRange(); r.selectNodeContents(p);
                 const s = getSelection(); s.removeAllRanges(); s.addRange(r);
                 return s.toString().replace(/\\s+/g, ' ').trim();",
                vec![json!(word)],
            )
            .await?;
        let selected = selected.as_str().unwrap_or_default().to_string();
        if !selected.contains(word) {
            bail!("selecting the paragraph with {word:?} selected {selected:?}");
        }
        Ok(selected)
    }

    /// The text of the file `name` the browser downloaded (waits up to 10 s
    /// for it to be complete), removed afterwards so that the next download
    /// of that name is not renamed.
    pub async fn downloaded(&self, name: &str) -> Result<String> {
        let path = self.downloads.join(name);
        let started = Instant::now();
        loop {
            let partial = std::fs::read_dir(&self.downloads)?.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n.ends_with(".crdownload") || n.ends_with(".part")
            });
            if !partial {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    if !text.is_empty() {
                        std::fs::remove_file(&path)?;
                        return Ok(text);
                    }
                }
            }
            if started.elapsed() > Duration::from_secs(10) {
                let seen: Vec<String> = std::fs::read_dir(&self.downloads)?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect();
                bail!("no download {name} (the folder holds {seen:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Makes the current window's viewport `width` CSS pixels wide (and
    /// the window 900 pixels high): the window is sized, then corrected by
    /// what its frame takes.
    pub async fn set_viewport_width(&self, width: u32) -> Result<()> {
        self.client.set_window_size(width, 900).await?;
        let inner = self
            .client
            .execute("return window.innerWidth;", vec![])
            .await?
            .as_f64()
            .unwrap_or(f64::from(width));
        let frame = f64::from(width) - inner;
        if frame.abs() >= 1.0 {
            let outer = (f64::from(width) + frame).max(1.0) as u32;
            self.client.set_window_size(outer, 900).await?;
        }
        Ok(())
    }

    /// A PNG screenshot of the current tab.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        self.top().await?;
        let png = self.client.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }
}

/// Whether a WebDriver error says the element is gone from the document
/// (the page rendered it again since it was found).
fn stale(error: &str) -> bool {
    error.contains("stale") || error.contains("no longer connected")
}

/// Sends `{"v": 1, "body": arguments[0]}` with runtime.sendMessage,
/// retrying as `paperclip_platform::call` does when the message races with
/// the background being suspended.
const SEND_MESSAGE: &str = "
    const [body, done] = arguments;
    const api = globalThis.browser ?? globalThis.chrome;
    const send = (n) => api.runtime.sendMessage({v: 1, body}).then(done, (e) =>
      n < 2 && String(e).includes('Receiving end does not exist')
        ? setTimeout(() => send(n + 1), 100) : done({error: String(e)}));
    send(0);";

/// The argument of [`IMPORT_PARTS`]: the file split as the options page
/// splits it.
fn import_arg(file: &str, policy: &str) -> Result<Value> {
    let (header, texts) =
        paperclip_core::import::split(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let sizes: Vec<usize> = texts.iter().map(String::len).collect();
    let mut cut = paperclip_core::import::cut(&sizes);
    if cut.is_empty() {
        // No conversations: one empty part completes the import.
        cut.push(0..0);
    }
    let parts: Vec<Value> = cut
        .into_iter()
        .map(|r| json!([r.start, texts[r].to_vec()]))
        .collect();
    Ok(json!({"header": header, "total": texts.len(), "policy": policy, "parts": parts}))
}

/// Imports an export file in parts, as the options page does
/// (`ImportBegin`, then every part twice): resolves to the last reply (the
/// one that carries what the import did, or the first error).
const IMPORT_PARTS: &str = "
    const [{header, total, policy, parts}, done] = arguments;
    const api = globalThis.browser ?? globalThis.chrome;
    const send = (body) => api.runtime.sendMessage({v: 1, body});
    (async () => {
      const begun = await send({type: 'ImportBegin', header, total, policy});
      const ok = begun && begun.body && begun.body.ok;
      if (!ok) return begun;
      for (let pass = 0; pass < 2; pass++) {
        for (const [first, conversations] of parts) {
          const r = await send({type: 'ImportPart', import: ok.import, first, conversations});
          if (!r || !r.body || !r.body.ok) return r;
          if (r.body.ok.done) return {v: 1, body: {ok: {type: 'Imported', ...r.body.ok.done}}};
        }
      }
      return {error: 'the import did not complete'};
    })().then(done, (e) => done({error: String(e)}));";

/// "Export all" in parts, as the options page does (`ExportBegin`, then
/// `ExportPart` until every id is read): resolves to `{body: {ok: {head,
/// tail, pieces}}}`, or the first error reply.
const EXPORT_PARTS: &str = "
    const [, done] = arguments;
    const api = globalThis.browser ?? globalThis.chrome;
    const send = (body) => api.runtime.sendMessage({v: 1, body});
    (async () => {
      const begun = await send({type: 'ExportBegin'});
      const ok = begun && begun.body && begun.body.ok;
      if (!ok) return begun;
      const pieces = [];
      for (let next = 0; next < ok.ids.length;) {
        const r = await send({type: 'ExportPart', ids: ok.ids.slice(next, next + 500)});
        if (!r || !r.body || !r.body.ok) return r;
        if (r.body.ok.read === 0) return {error: 'the export stopped'};
        pieces.push(...r.body.ok.conversations);
        next += r.body.ok.read;
      }
      return {v: 1, body: {ok: {head: ok.head, tail: ok.tail, pieces}}};
    })().then(done, (e) => done({error: String(e)}));";

/// Opens `popup.html` in a popup-type window (resolves `{id}` or `{error}`).
const OPEN_POPUP: &str = "
    const [url, done] = arguments;
    const api = globalThis.browser ?? globalThis.chrome;
    api.windows.create({type: 'popup', url, width: 420, height: 640})
      .then((w) => done({id: w.id}), (e) => done({error: String(e)}));";

/// Firefox: calls the background page's listener `arguments[0][0]` with
/// the arguments `arguments[0][1]` and the tab at `arguments[0][2]`.
const FIRE_LISTENER_FIREFOX: &str = "
    const [[listener, args, prefix], done] = arguments;
    (async () => {
      const tabs = await browser.tabs.query({});
      const tab = tabs.find((t) => (t.url || '').startsWith(prefix));
      if (!tab) return 'no tab at ' + prefix;
      const background = await browser.runtime.getBackgroundPage();
      background.paperclipListeners[listener](...args, tab);
      return 'fired';
    })().then(done, (e) => done(String(e)));";

/// The body of a plain HTTP GET of `url` (a local endpoint).
async fn http_get(url: &str) -> Result<String> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
    let response = client.get(url.parse()?).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8(body.to_vec())?)
}

/// A host name the test browsers resolve to 127.0.0.1 (Chromium's
/// `--host-resolver-rules`, Firefox's `network.dns.localDomains`): a local
/// server the extension takes for a remote one.
pub const REMOTE_HOST: &str = "fake-provider.test";

/// In Chromium, every `<name>.site.test` resolves to 127.0.0.1 too: as
/// many sites (origins) as a test wants, all served by the local server.
pub const SITES_DOMAIN: &str = "site.test";

fn capabilities(
    kind: Kind,
    extensions: &[&Path],
    profile: &Path,
    downloads: &Path,
    headless: bool,
) -> Capabilities {
    let caps = match kind {
        Kind::Chromium => {
            let mut args = vec![
                "--no-sandbox".to_string(),
                "--disable-gpu".into(),
                "--disable-dev-shm-usage".into(),
                "--disable-background-networking".into(),
                "--disable-component-update".into(),
                "--disable-sync".into(),
                "--disable-quic".into(),
                "--no-first-run".into(),
                "--window-size=1280,900".into(),
                "--enable-blink-features=ComputedAccessibilityInfo".into(),
                format!(
                    "--host-resolver-rules=MAP {REMOTE_HOST} 127.0.0.1, MAP *.{SITES_DOMAIN} 127.0.0.1"
                ),
                format!("--user-data-dir={}", profile.display()),
            ];
            if !extensions.is_empty() {
                let list: Vec<String> =
                    extensions.iter().map(|e| e.display().to_string()).collect();
                args.push(format!("--disable-extensions-except={}", list.join(",")));
                args.push(format!("--load-extension={}", list.join(",")));
            }
            if headless {
                args.push("--headless=new".into());
            }
            json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": env_or("CHROMIUM", "/usr/bin/chromium"),
                    "args": args,
                    "excludeSwitches": ["disable-extensions", "enable-automation"],
                    // Lists the extension's own targets (its service
                    // worker, its popup) among the window handles.
                    "enableExtensionTargets": true,
                    "prefs": {
                        "download.default_directory": downloads,
                        "download.prompt_for_download": false,
                    },
                }
            })
        }
        Kind::Firefox => {
            let mut args = vec!["-profile".to_string(), profile.display().to_string()];
            if headless {
                args.push("-headless".into());
            }
            json!({
                "browserName": "firefox",
                "moz:firefoxOptions": {
                    "binary": env_or("FIREFOX", "/usr/bin/firefox-esr"),
                    "args": args,
                    "prefs": {
                        "extensions.webextensions.uuids":
                            json!({GECKO_ID: FIREFOX_UUID, NEIGHBOUR_GECKO_ID: NEIGHBOUR_UUID}).to_string(),
                        "extensions.originControls.grantByDefault": true,
                        // A test clicks "Save provider", which asks for host
                        // access: grant it as a user would, without the prompt.
                        "extensions.webextOptionalPermissionPrompts": false,
                        "network.dns.localDomains": REMOTE_HOST,
                        "browser.shell.checkDefaultBrowser": false,
                        "app.update.enabled": false,
                        "network.captive-portal-service.enabled": false,
                        "network.connectivity-service.enabled": false,
                        "browser.safebrowsing.downloads.remote.enabled": false,
                        "extensions.getAddons.cache.enabled": false,
                        "datareporting.policy.dataSubmissionEnabled": false,
                        // Downloads go to the profile's folder, unasked.
                        "browser.download.folderList": 2,
                        "browser.download.dir": downloads,
                        "browser.download.useDownloadDir": true,
                        "browser.download.always_ask_before_handling_new_types": false,
                        "browser.download.start_downloads_in_tmp_dir": false,
                    }
                }
            })
        }
    };
    match caps {
        Value::Object(m) => m,
        _ => unreachable!("capabilities are an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_id_matches_chromium_scheme() {
        // 32 letters a..p, stable for a path.
        let id = chromium_extension_id(Path::new("/tmp/x"));
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| ('a'..='p').contains(&c)));
        assert_eq!(id, chromium_extension_id(Path::new("/tmp/x")));
    }
}

/// What [`Browser::contrast`] found.
#[derive(serde::Deserialize, Debug)]
pub struct Contrast {
    /// Elements with text checked.
    pub checked: u64,
    /// The elements below the ratio.
    pub failures: Vec<String>,
    /// Whether the document was in the dark colour scheme.
    pub dark: bool,
}

/// See [`Browser::contrast`]: an expression.
const CONTRAST_SCRIPT: &str = r#"(() => {
const rgba = (c) => {
  const m = /rgba?\(([^)]*)\)/.exec(c || '');
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, below) => top.slice(0, 3).map((v, i) => v * top[3] + below[i] * (1 - top[3])).concat(1);
const lum = (c) => {
  const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const dark = matchMedia('(prefers-color-scheme: dark)').matches;
const canvas = rgba(getComputedStyle(document.documentElement).backgroundColor);
const base = canvas && canvas[3] > 0 ? over(canvas, dark ? [18, 18, 18, 1] : [255, 255, 255, 1])
  : (dark ? [18, 18, 18, 1] : [255, 255, 255, 1]);
const background = (el) => {
  const layers = [];
  for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  return layers.reverse().reduce((below, top) => over(top, below), base);
};
let checked = 0;
const failures = [];
for (const el of document.body.querySelectorAll('*')) {
  const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.data).join('').trim();
  if (!own || !el.getClientRects().length) continue;
  const style = getComputedStyle(el);
  if (style.visibility !== 'visible' || parseFloat(style.opacity) === 0) continue;
  if (el.closest(':disabled, [aria-disabled="true"]')) continue;
  const bg = background(el);
  const fg = over(rgba(style.color), bg);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
  checked++;
  if (ratio < (large ? 3 : 4.5)) {
    failures.push(`${ratio.toFixed(2)} ${el.localName}.${[...el.classList].join('.')} "${own.slice(0, 40)}" ${style.color} on rgb(${bg.slice(0, 3).map(Math.round)})${dark ? ' (dark)' : ''}`);
  }
}
return { checked, failures, dark };
})()"#;
