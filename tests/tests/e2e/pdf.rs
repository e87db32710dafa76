//! Asking about a PDF. The browsers' PDF viewers let no extension script
//! in, so the toolbar popup offers "Ask about this PDF" on a PDF's tab:
//! the agent opens in an extension page of its own, the background fetches
//! the document and reads its text with the PDF reader module. PDFs made
//! by the test suite (`paperclip_pdf::samples`, served at `/pdf/NAME`):
//! three pages asked about offline and with the fake provider (what it
//! receives holds the document's text), one encrypted without a user
//! password (read), one that needs a password and a scanned one (images
//! only), each with its clear message.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use paperclip_e2e::fake_provider::FakeProvider;
use paperclip_e2e::scenario::{add_fake_provider, chat_requests};
use paperclip_e2e::server::Server;
use paperclip_e2e::Browser;

in_both_browsers!(asking_about_a_pdf);

/// Shows `pdf` in the current tab, clicks the popup's "Ask about this PDF"
/// (a real click: it asks for access to the PDF's site) and switches to
/// the agent page that opens.
async fn ask_about(b: &Browser, server: &Server, pdf: &str) -> Result<()> {
    let document = server.url(&format!("/pdf/{pdf}"));
    // In a tab of its own, without waiting for the viewer's load event:
    // Firefox's viewer never fires it for a document that asks for a
    // password.
    let tab = b.client.new_window(true).await?;
    b.client.switch_to_window(tab.handle).await?;
    b.client
        .execute(
            "location.href = arguments[0];",
            vec![serde_json::json!(document)],
        )
        .await?;
    b.poll(Duration::from_secs(15), "the PDF shown", || async {
        let url = b.client.current_url().await?.to_string();
        Ok((url == document).then_some(()))
    })
    .await?;
    let before = b.client.windows().await?;
    let popup = b.open_popup().await?;
    let button = b.control("button", "Ask about this PDF").await?;
    button.click().await?;
    let page = b
        .poll(Duration::from_secs(15), "the PDF's agent page", || async {
            let now = b.client.windows().await?;
            Ok(now.into_iter().find(|h| !before.contains(h) && *h != popup))
        })
        .await?;
    b.client.switch_to_window(page).await?;
    let expected = format!("{}pdf.html?src=", b.base);
    b.poll(
        Duration::from_secs(10),
        "the PDF page's address",
        || async {
            let url = b.client.current_url().await?.to_string();
            Ok(url.starts_with(&expected).then_some(()))
        },
    )
    .await?;
    if b.kind == paperclip_e2e::Kind::Chromium {
        // Next to the PDF's tab, opened from it (Chromium: WebDriver's
        // scripts see the extension's API there).
        let tabs = b
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 (async () => {
                   const own = await chrome.tabs.getCurrent();
                   const all = await chrome.tabs.query({windowId: own.windowId});
                   const pdf = all.find((t) => t.url === arguments[0]);
                   return {own: [own.index, own.openerTabId], pdf: pdf ? [pdf.index, pdf.id] : null};
                 })().then(done, (e) => done({error: String(e)}));",
                vec![serde_json::json!(document)],
            )
            .await?;
        ensure!(
            tabs["pdf"].is_array()
                && tabs["own"][0].as_i64() == tabs["pdf"][0].as_i64().map(|i| i + 1)
                && tabs["own"][1] == tabs["pdf"][1],
            "the agent's tab is not next to the PDF's: {tabs}"
        );
    }
    let named = b
        .poll(Duration::from_secs(15), "the document named", || async {
            b.text_of(".pdf-document").await
        })
        .await?;
    ensure!(named == format!("Asking about the PDF {pdf}"), "{named}");
    Ok(())
}

/// The last chat request `fake` received, as JSON text (it is recorded
/// once answered: waits for it a little).
async fn last_request(b: &Browser, fake: &FakeProvider) -> Result<String> {
    let requests = b
        .poll(Duration::from_secs(5), "the provider's request", || async {
            let requests = chat_requests(fake);
            Ok((!requests.is_empty()).then_some(requests))
        })
        .await?;
    let last = requests.last().context("the provider was not asked")?;
    let json = last.json().with_context(|| {
        format!(
            "not JSON: {:?}",
            last.body.chars().take(300).collect::<String>()
        )
    })?;
    Ok(json.to_string())
}

/// The answers shown (the PDFs of one site share its conversation).
async fn answers(b: &Browser) -> Result<usize> {
    Ok(b.messages()
        .await?
        .iter()
        .filter(|(role, _)| role == "assistant")
        .count())
}

/// The agent's error after asking `question`.
async fn refused(b: &Browser, question: &str) -> Result<String> {
    let before = answers(b).await?;
    b.ask(question).await?;
    match b.wait_answer(before).await {
        Ok((answer, _)) => bail!("answered instead of refusing: {answer}"),
        Err(e) => Ok(e.to_string()),
    }
}

async fn asking_about_a_pdf(b: Browser, server: Server) -> Result<Browser> {
    // No provider: the offline answer comes from the document's text.
    ask_about(&b, &server, "pages.pdf").await?;
    b.ask("What is the second page about?").await?;
    let (offline, _) = b.wait_answer(0).await?;
    ensure!(offline.contains("bananas"), "{offline}");

    // With a provider: what it receives holds every page's text.
    let fake = FakeProvider::start()?;
    add_fake_provider(&b, "Fake", &fake).await?;
    b.ask("Which fruits does this document name?").await?;
    let (answer, _) = b.wait_answer(1).await?;
    ensure!(
        answer == "Echo: Which fruits does this document name?",
        "{answer}"
    );
    let sent = last_request(&b, &fake).await?;
    for text in [
        "The first page is about apples.",
        "The second page is about bananas.",
        "The third page is about cherries.",
        "Three pages",
    ] {
        ensure!(sent.contains(text), "{text:?} was not sent: {sent}");
    }

    // An encrypted PDF that anyone may open is read.
    ask_about(&b, &server, "open-encrypted.pdf").await?;
    fake.clear();
    let before = answers(&b).await?;
    b.ask("What does it say?").await?;
    b.wait_answer(before).await?;
    let sent = last_request(&b, &fake).await?;
    ensure!(
        sent.contains("Encrypted, but anyone may open it."),
        "{sent}"
    );

    // One that needs a password, and a scanned one: a clear message, and
    // nothing sent.
    fake.clear();
    ask_about(&b, &server, "encrypted.pdf").await?;
    let said = refused(&b, "What does it say?").await?;
    ensure!(
        said.contains("“encrypted.pdf” is encrypted: it needs a password"),
        "{said}"
    );
    ask_about(&b, &server, "scanned.pdf").await?;
    let said = refused(&b, "What does it say?").await?;
    ensure!(said.contains("“scanned.pdf” has no text to read"), "{said}");
    ensure!(
        chat_requests(&fake).is_empty(),
        "a document that could not be read was sent"
    );

    // A web page cannot open the PDF page itself (to have a document read
    // and shown): it is not web-accessible, so the navigation is blocked.
    b.client.goto(&server.url("/")).await?;
    let target = format!(
        "{}pdf.html?src={}",
        b.base,
        server
            .url("/pdf/text.pdf")
            .replace(':', "%3A")
            .replace('/', "%2F")
    );
    let _ = b
        .client
        .execute(
            "location.href = arguments[0];",
            vec![serde_json::json!(target)],
        )
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let shown = b
        .client
        .execute(
            "return !!document.querySelector('.pdf-document, main.agent');",
            vec![],
        )
        .await
        .unwrap_or(serde_json::Value::Bool(false));
    ensure!(
        shown == serde_json::Value::Bool(false),
        "a web page opened the PDF page"
    );
    Ok(b)
}
