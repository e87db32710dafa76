//! The agent frame's side of its conversation with the content script
//! (`static/content/loader.js`), over the private `MessageChannel` the
//! loader hands the frame when it has loaded (`agent.js` keeps it in
//! `__paperclipChannel`): first the token the frame presents to the
//! background ([`token`]), then where the agent sits ([`Place`]) and where
//! to look. Nothing is posted to the page window, so the page can neither
//! see nor forge these messages.

use std::cell::RefCell;

use js_sys::{Object, Promise, Reflect};
use paperclip_core::place::Place;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// How long the frame waits for its loader's channel before it says it
/// was not activated.
const CHANNEL_WAIT_MS: i32 = 5_000;

/// A listener of the loader's messages.
type Listener = Box<dyn Fn(FromPage)>;

thread_local! {
    static PORT: RefCell<Option<web_sys::MessagePort>> = const { RefCell::new(None) };
    static TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Listeners of the loader's messages.
    static LISTENERS: RefCell<Vec<Listener>> = RefCell::new(Vec::new());
}

/// What the content script tells the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FromPage {
    /// The agent now sits at `place` (clamped into the viewport); `save`
    /// when the user finished moving it.
    Placed {
        /// Where it sits.
        place: Place,
        /// The move is finished: remember it.
        save: bool,
    },
    /// Something was highlighted `dx`, `dy` CSS px from the character.
    Look {
        /// Horizontal distance.
        dx: f64,
        /// Vertical distance (down is positive).
        dy: f64,
    },
}

fn number(data: &JsValue, key: &str) -> Option<f64> {
    Reflect::get(data, &key.into())
        .ok()?
        .as_f64()
        .filter(|v| v.is_finite())
}

fn parse(data: &JsValue) -> Option<FromPage> {
    let kind = Reflect::get(data, &"paperclip".into()).ok()?.as_string()?;
    match kind.as_str() {
        "placed" => Some(FromPage::Placed {
            place: Place {
                right: number(data, "right")? as i32,
                bottom: number(data, "bottom")? as i32,
            },
            save: Reflect::get(data, &"save".into())
                .ok()?
                .as_bool()
                .unwrap_or(false),
        }),
        "look" => Some(FromPage::Look {
            dx: number(data, "dx")?,
            dy: number(data, "dy")?,
        }),
        _ => None,
    }
}

/// Calls `on` with every message the loader sends the frame.
pub fn listen(on: impl Fn(FromPage) + 'static) {
    LISTENERS.with(|l| l.borrow_mut().push(Box::new(on)));
}

/// The document this agent is about, when it runs in the extension's PDF
/// page (`pdf.html?src=…`) rather than in a page's frame: the address the
/// page names (the background checks it again).
pub fn document() -> Option<String> {
    let location = web_sys::window()?.location();
    let path = location.pathname().ok()?;
    if !path.ends_with(&format!("/{}", paperclip_core::pdf::PDF_PAGE)) {
        return None;
    }
    let search = location.search().ok()?;
    let src = web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get("src")?;
    paperclip_core::pdf::document_url(&src).ok()
}

/// The token this frame's loader gave it, once the channel is open; `None`
/// when no loader offered one within [`CHANNEL_WAIT_MS`] (a page embedded
/// `agent.html` by itself), or at once in the PDF page (no loader there:
/// the background knows the page by its own address).
pub async fn token() -> Option<String> {
    if document().is_some() {
        return None;
    }
    if let Some(token) = TOKEN.with(|t| t.borrow().clone()) {
        return Some(token);
    }
    let offered = Reflect::get(&js_sys::global(), &"__paperclipChannel".into()).ok()?;
    let offered = offered.dyn_into::<Promise>().ok()?;
    let port = within_wait(offered)
        .await?
        .dyn_into::<web_sys::MessagePort>()
        .ok()?;
    let resolver: std::rc::Rc<RefCell<Option<js_sys::Function>>> = std::rc::Rc::default();
    let first = {
        let resolver = resolver.clone();
        Promise::new(&mut move |resolve, _| *resolver.borrow_mut() = Some(resolve))
    };
    let handler = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        let data = e.data();
        let kind = Reflect::get(&data, &"paperclip".into())
            .ok()
            .and_then(|k| k.as_string());
        if kind.as_deref() == Some("token") {
            let token = Reflect::get(&data, &"token".into()).unwrap_or(JsValue::NULL);
            if let Some(resolve) = resolver.borrow_mut().take() {
                let _ = resolve.call1(&JsValue::NULL, &token);
            }
            return;
        }
        if let Some(message) = parse(&data) {
            LISTENERS.with(|l| {
                for on in l.borrow().iter() {
                    on(message);
                }
            });
        }
    });
    port.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    PORT.with(|p| *p.borrow_mut() = Some(port));
    let token = within_wait(first).await?.as_string()?;
    TOKEN.with(|t| *t.borrow_mut() = Some(token.clone()));
    Some(token)
}

/// What `promise` resolves with, unless [`CHANNEL_WAIT_MS`] pass first.
async fn within_wait(promise: Promise) -> Option<JsValue> {
    let timeout = Promise::new(&mut |resolve, _| {
        paperclip_platform::set_timeout(&resolve, CHANNEL_WAIT_MS);
    });
    let value = JsFuture::from(Promise::race(&js_sys::Array::of2(&promise, &timeout)))
        .await
        .ok()?;
    (!value.is_undefined()).then_some(value)
}

/// The token, if the channel is open already.
pub fn known_token() -> Option<String> {
    TOKEN.with(|t| t.borrow().clone())
}

/// Asks the content script to put the agent at `place` (it answers
/// `Placed`, echoing `save`).
pub fn place(place: Place, save: bool) {
    let message = Object::new();
    for (k, v) in [
        ("paperclip", JsValue::from_str("place")),
        ("right", place.right.into()),
        ("bottom", place.bottom.into()),
        ("save", save.into()),
    ] {
        let _ = Reflect::set(&message, &k.into(), &v);
    }
    PORT.with(|p| {
        if let Some(port) = p.borrow().as_ref() {
            let _ = port.post_message(&message);
        }
    });
}

/// Whether the page covers the agent or makes it see-through, as
/// `agent.js` observes it (IntersectionObserver v2, where the browser has
/// it; elsewhere never): it ignores input other than moving and closing
/// meanwhile.
pub fn covered() -> bool {
    Reflect::get(&js_sys::global(), &"__paperclipVisible".into())
        .ok()
        .and_then(|v| v.as_bool())
        .is_some_and(|visible| !visible)
}

/// Calls `on` with [`covered`] whenever it changes, while the listener
/// lives.
pub fn on_covered(on: impl Fn(bool) + 'static) -> Option<gloo_events::EventListener> {
    let window = web_sys::window()?;
    Some(gloo_events::EventListener::new(
        &window,
        "paperclip-visibility",
        move |_| on(covered()),
    ))
}
