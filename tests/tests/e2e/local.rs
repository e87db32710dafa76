//! Local models: "Find local models" on the options page finds a server
//! playing Ollama on 127.0.0.1:11434 and lists its models, adds the chosen
//! one as a provider that then answers; a server refusing the extension on
//! LM Studio's port is diagnosed with how to allow the extension's origin;
//! *Test connection* tells "refused" from "not running".

use std::time::Duration;

use anyhow::{ensure, Result};
use paperclip_e2e::fake_provider::{Config, FakeProvider, Mode};
use paperclip_e2e::scenario::{chat_requests, ok};
use paperclip_e2e::server::Server;
use paperclip_e2e::Browser;
use serde_json::{json, Value};

in_both_browsers!(local_models_are_found_added_and_diagnosed);

/// Each listed server's `data-server`, `data-state` and sentence.
async fn servers(b: &Browser) -> Result<Vec<(String, String, String)>> {
    let v = b
        .client
        .execute(
            "return [...document.querySelectorAll('.local-servers li')].map(li =>
               [li.dataset.server, li.dataset.state, li.querySelector('p').textContent]);",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(v)?)
}

/// Clicks *Test connection* in the row of provider `label` and returns
/// what the page then says (status or alert, once it differs from the
/// line before).
async fn test_connection(b: &Browser, label: &str) -> Result<String> {
    let xpath = format!(
        "//table[@aria-label='Providers']//tr[td[contains(., {label:?})]]//button[.='Test connection']"
    );
    let button = b
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(fantoccini::Locator::XPath(&xpath))
        .await?;
    let line = ".providers [role=status], .providers [role=alert]";
    let before = b.text_of(line).await?;
    b.click(&button).await?;
    let said = b
        .poll(Duration::from_secs(20), "the connection test", || async {
            Ok(b.text_of(line)
                .await?
                .filter(|t| Some(t) != before.as_ref()))
        })
        .await;
    let section = b.text_of(".providers").await?;
    said.map_err(|e| e.context(format!("the section says {section:?}")))
}

async fn local_models_are_found_added_and_diagnosed(b: Browser, server: Server) -> Result<Browser> {
    let ollama = FakeProvider::start_at(
        "127.0.0.1:11434",
        Config {
            mode: Mode::Ollama,
            models: vec!["llama3.2:1b".into(), "qwen2.5:0.5b".into()],
            ..Config::default()
        },
    )?;
    let refusing = FakeProvider::start_at(
        "127.0.0.1:1234",
        Config {
            mode: Mode::Refusing,
            ..Config::default()
        },
    )?;
    // Nothing may listen on llama.cpp's port for its line to be checked.
    let port_8080_free = std::net::TcpListener::bind("127.0.0.1:8080").is_ok();
    let origin = b.base.trim_end_matches('/').to_string();
    let page = server.url("/");
    b.client.goto(&page).await?;

    let back = b.open_tab("options.html").await?;
    let found = async {
        // A real click (the permission request needs the user's gesture).
        let find = b.control("button", "Find local models").await?;
        find.click().await?;
        let listed = b
            .poll(Duration::from_secs(20), "the local servers", || async {
                let s = servers(&b).await?;
                Ok((s.len() == 3).then_some(s))
            })
            .await;
        let section = b.text_of(".local-models").await?;
        let listed = listed.map_err(|e| e.context(format!("the section says {section:?}")))?;
        let (id, state, said) = &listed[0];
        ensure!(id == "local-model-ollama" && state == "running", "{listed:?}");
        ensure!(
            said == "Ollama is running at http://127.0.0.1:11434 with 2 models.",
            "{said}"
        );
        let (_, state, said) = &listed[1];
        ensure!(state == "refused", "{listed:?}");
        ensure!(
            said.starts_with("LM Studio is running at http://127.0.0.1:1234 but refused this extension: it answered 403.")
                && said.contains("Enable CORS")
                && said.contains(&origin),
            "{said}"
        );
        if port_8080_free {
            let (_, state, said) = &listed[2];
            ensure!(state == "not-running", "{listed:?}");
            ensure!(
                said == "llama.cpp: nothing answers at http://127.0.0.1:8080. Is it running?",
                "{said}"
            );
        }
        // What was asked of the refusing server carried the extension's
        // origin, and no credentials.
        let asked = refusing.requests();
        ensure!(!asked.is_empty(), "the refusing server was not asked");
        ensure!(
            asked.iter().all(|r| !r.headers.contains_key("cookie")),
            "{asked:?}"
        );

        // Add the second model.
        let select = b.control("select", "Ollama model").await?;
        select.select_by_value("qwen2.5:0.5b").await?;
        let add = b.control("button", "Add the Ollama model").await?;
        add.click().await?;
        let said = b
            .poll(Duration::from_secs(10), "the model added", || async {
                b.text_of(".local-models [role=status], .local-models [role=alert]")
                    .await
            })
            .await?;
        ensure!(said == "Added Ollama qwen2.5:0.5b.", "{said}");
        let said = test_connection(&b, "Ollama qwen2.5:0.5b").await?;
        ensure!(said.starts_with("Connected in "), "{said}");
        Ok::<_, anyhow::Error>(())
    }
    .await;
    b.close_tab(back).await?;
    found?;

    // It answers: the question goes to the local server, with its model.
    let providers = ok(&b, json!({"type": "ListProviders"})).await?;
    let added: Vec<Value> = providers["providers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        added.len() == 1
            && added[0]["settings"]["base_url"] == "http://127.0.0.1:11434"
            && added[0]["settings"]["kind"] == "openai_compatible",
        "{providers}"
    );
    let answer = b.ask_on(&page, "What is the Gem clip?").await?;
    ensure!(answer.starts_with("Echo: "), "{answer}");
    let sent: Value = serde_json::from_str(
        &chat_requests(&ollama)
            .last()
            .map(|r| r.body.clone())
            .unwrap_or_default(),
    )?;
    ensure!(sent["model"] == "qwen2.5:0.5b", "{sent}");

    // Test connection tells a refusing server from one not running.
    let lm = json!({"id": "lm", "kind": "openai_compatible", "label": "LM Studio here",
        "base_url": "http://127.0.0.1:1234", "model": "m", "max_tokens": 256});
    ok(
        &b,
        json!({"type": "SaveProvider", "settings": lm, "key": {"action": "keep"}}),
    )
    .await?;
    drop(ollama);
    let back = b.open_tab("options.html").await?;
    let tested = async {
        let said = test_connection(&b, "LM Studio here").await?;
        ensure!(
            said.contains("refused this extension") && said.contains("Enable CORS"),
            "{said}"
        );
        let said = test_connection(&b, "Ollama qwen2.5:0.5b").await?;
        ensure!(
            said.contains("nothing answers at http://127.0.0.1:11434. Is it running?"),
            "{said}"
        );
        Ok::<_, anyhow::Error>(())
    }
    .await;
    b.close_tab(back).await?;
    tested?;
    Ok(b)
}
