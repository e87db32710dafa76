//! What every page shows stays true: [`start`] applies the user's look
//! ([`Appearance`]: theme, font scale, reduced motion) to the page's root
//! before the first render and again whenever the preferences change, and
//! [`use_rpc_live`] reloads a component's data when the background
//! broadcasts that its topic changed. Nothing polls: the background sends
//! one [`Broadcast::Changed`] per burst of changes.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_storage::{LocalStorage, Storage};
use paperclip_core::prefs::Appearance;
use paperclip_core::protocol::{Broadcast, GetAppearance, Rpc, Topic};
use yew::prelude::*;

use crate::hooks::{use_rpc, Loaded, Reload};

/// The look last applied, kept in this extension's `localStorage` so that
/// the next page opens in it without a flash.
const SAVED_APPEARANCE: &str = "paperclip.appearance";

type Listener = (u64, Vec<Topic>, Rc<dyn Fn()>);

thread_local! {
    static LISTENERS: RefCell<Vec<Listener>> = const { RefCell::new(Vec::new()) };
    static NEXT: Cell<u64> = const { Cell::new(0) };
    static LISTENING: Cell<bool> = const { Cell::new(false) };
}

/// Sets `appearance` on the document's root: `data-theme`, `data-motion`
/// and the `--font-scale` the stylesheet (`paperclip.css`) reads.
pub fn apply(appearance: &Appearance) {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    else {
        return;
    };
    let set = |name: &str, value: Option<&str>| {
        let _ = match value {
            Some(value) => root.set_attribute(name, value),
            None => root.remove_attribute(name),
        };
    };
    set("data-theme", appearance.theme_attribute());
    set("data-motion", appearance.motion_attribute());
    set(
        "style",
        Some(&format!("--font-scale: {}", appearance.font_scale_css())),
    );
    let _ = LocalStorage::set(SAVED_APPEARANCE, appearance);
}

/// Applies the look last applied in any page of the extension (before the
/// first render, so that the page does not flash in another theme).
pub fn apply_saved() {
    if let Ok(saved) = LocalStorage::get::<Appearance>(SAVED_APPEARANCE) {
        apply(&saved);
    }
}

/// Prepares a page (popup, options, devtools panel): the saved look at
/// once, then the current one from the background, then every change.
pub fn start() {
    apply_saved();
    let refresh = || {
        wasm_bindgen_futures::spawn_local(async {
            if let Ok(appearance) = paperclip_platform::call(GetAppearance {}).await {
                apply(&appearance);
            }
        })
    };
    refresh();
    subscribe(vec![Topic::Preferences], Rc::new(refresh));
}

/// Calls `f` whenever the background says one of `topics` changed, until
/// [`unsubscribe`] with the returned key.
pub fn subscribe(topics: Vec<Topic>, f: Rc<dyn Fn()>) -> u64 {
    if !LISTENING.with(|l| l.replace(true)) {
        paperclip_platform::changes::on_broadcast(changed);
    }
    let key = NEXT.with(|n| n.replace(n.get() + 1));
    LISTENERS.with(|l| l.borrow_mut().push((key, topics, f)));
    key
}

/// Stops the calls of [`subscribe`]'s `key`.
pub fn unsubscribe(key: u64) {
    LISTENERS.with(|l| l.borrow_mut().retain(|(k, _, _)| *k != key));
}

fn changed(broadcast: Broadcast) {
    let Broadcast::Changed { topics } = broadcast;
    let due: Vec<Rc<dyn Fn()>> = LISTENERS.with(|l| {
        l.borrow()
            .iter()
            .filter(|(_, wanted, _)| wanted.iter().any(|t| topics.contains(t)))
            .map(|(_, _, f)| f.clone())
            .collect()
    });
    for f in due {
        f();
    }
}

/// [`use_rpc`], sent again whenever one of `topics` changes (in any tab or
/// page, or in the background).
#[hook]
pub fn use_rpc_live<R, T>(
    request: R,
    map: fn(R::Response) -> T,
    topics: &'static [Topic],
) -> (UseStateHandle<Loaded<T>>, Reload)
where
    R: Rpc + Clone + 'static,
    T: 'static,
{
    let (state, reload) = use_rpc(request, map);
    use_changes(topics, reload.clone());
    (state, reload)
}

/// Calls `f` whenever one of `topics` changes, while the component lives.
/// The latest `f` of the component's render is the one called.
#[hook]
pub fn use_changes(topics: &'static [Topic], f: Reload) {
    let latest = use_mut_ref(|| f.clone());
    *latest.borrow_mut() = f;
    use_effect_with((), move |_| {
        let call = move || {
            let f = latest.borrow().clone();
            f();
        };
        let key = subscribe(topics.to_vec(), Rc::new(call));
        move || unsubscribe(key)
    });
}
