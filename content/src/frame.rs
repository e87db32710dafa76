//! The agent frame's side of its conversation with the content script
//! (`static/content/loader.js`), by `postMessage` between the frame and the
//! page window: where the agent sits ([`Place`]) and where to look.
//!
//! Only coordinates travel this way, never text: a page script can see
//! (and forge) these messages, so the agent treats them as hints — places
//! are validated before they are saved, and a forged `look` only turns the
//! character's eyes. The frame → page messages go to any origin because
//! the frame cannot know the page's origin reliably.

use js_sys::{Object, Reflect};
use paperclip_core::place::Place;
use wasm_bindgen::prelude::*;

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

/// Calls `on` with every message the page window sends the frame; the
/// listener lives as long as the frame.
pub fn listen(on: impl Fn(FromPage) + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let parent = window.parent().ok().flatten();
    let handler = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        let from_parent = match (&parent, e.source()) {
            (Some(parent), Some(source)) => JsValue::from(parent.clone()) == JsValue::from(source),
            _ => false,
        };
        if from_parent {
            if let Some(message) = parse(&e.data()) {
                on(message);
            }
        }
    });
    let _ = window.add_event_listener_with_callback("message", handler.as_ref().unchecked_ref());
    handler.forget();
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
    if let Some(parent) = web_sys::window().and_then(|w| w.parent().ok().flatten()) {
        let _ = parent.post_message(&message, "*");
    }
}
