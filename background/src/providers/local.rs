//! "Find local models" and the local half of *Test connection*: each
//! known local server's model list is fetched; when that fails, a
//! `no-cors` request (whose answer the browser never shows) tells a server
//! that answers but refuses the extension from one that is not running.
//! What it means for the user is `core::provider::local::diagnose`.

use futures::future::{join_all, select, Either};
use js_sys::{Object, Reflect};
use paperclip_core::provider::local::{self, Found, Probe, Server};
use paperclip_core::provider::{self, ProviderConfig};
use wasm_bindgen::JsValue;

use super::fetch_text;

/// How long one probe may take.
const PROBE_MS: u32 = 2_500;

/// The extension's own origin (what a server must allow).
fn origin() -> String {
    paperclip_platform::base_url()
        .trim_end_matches('/')
        .to_string()
}

/// Every known local server, looked for at once.
pub async fn find() -> Vec<Found> {
    let origin = origin();
    let origin = &origin;
    join_all(
        Server::ALL
            .into_iter()
            .map(|s| async move { local::diagnose(s, probe(&s.models_url()).await, origin) }),
    )
    .await
}

/// What the model list at `url` shows.
async fn probe(url: &str) -> Probe {
    let request = provider::HttpRequest {
        method: provider::Method::Get,
        url: url.to_string(),
        headers: Vec::new(),
        body: None,
    };
    match fetch_text(&request, PROBE_MS.into()).await {
        Ok((status, body)) if (200..300).contains(&status) => Probe::Answered { body },
        Ok((status, _)) => Probe::Refused { status },
        Err(e) if is_redirect_error(&e.message) => Probe::Redirected,
        Err(_) if answers_at_all(url).await => Probe::Blocked,
        Err(_) => Probe::NotRunning,
    }
}

/// Whether anything answers at `url`: a `no-cors` GET (no body, no
/// credentials; the answer stays opaque) that resolves, or is redirected,
/// within [`PROBE_MS`].
async fn answers_at_all(url: &str) -> bool {
    let init = Object::new();
    let _ = Reflect::set(&init, &"mode".into(), &"no-cors".into());
    let _ = Reflect::set(&init, &"method".into(), &"GET".into());
    let call = paperclip_platform::net::fetch(url, &init);
    let timeout = paperclip_platform::timer::sleep(PROBE_MS);
    let answered = match select(Box::pin(call), timeout).await {
        Either::Left((Ok(_), _)) => true,
        Either::Left((Err(e), _)) => is_redirect(&e),
        Either::Right(_) => false,
    };
    answered
}

fn is_redirect(e: &JsValue) -> bool {
    e.as_string().as_deref() == Some(paperclip_platform::net::REDIRECTED)
}

/// Whether a failed request's error is a redirect that was not followed
/// (not a refusal: the server answered, and the answer is the redirect).
pub fn is_redirect_error(message: &str) -> bool {
    message.contains(paperclip_platform::net::REDIRECTED)
}

/// Why a connection test of loopback provider `config` failed: for a
/// known local server, the diagnosis (not running, or refusing the
/// extension and how to allow it); for another loopback address, whether
/// anything answers there. `None` for a remote provider.
pub async fn explain(config: &ProviderConfig, status: Option<u16>) -> Option<String> {
    if !config.settings().is_loopback() {
        return None;
    }
    let base = &config.settings().base_url;
    let server = local::server_at(base);
    let probe = match status {
        Some(status) => Probe::Refused { status },
        None if answers_at_all(base).await => Probe::Blocked,
        None => Probe::NotRunning,
    };
    match server {
        Some(server) => Some(local::diagnose(server, probe, &origin()).message),
        None => match probe {
            Probe::NotRunning => Some(format!("nothing answers at {base}. Is the server running?")),
            Probe::Blocked => Some(format!(
                "the server at {base} answers but refused this extension (CORS): allow the origin {} in its settings.",
                origin()
            )),
            Probe::Refused { status: status @ (401 | 403) } => Some(format!(
                "the server at {base} answered {status}: it refuses this extension's origin {} or wants a key.",
                origin()
            )),
            _ => None,
        },
    }
}
