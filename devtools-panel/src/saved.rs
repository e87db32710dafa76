//! What the panel remembers between openings (the tab, the time range,
//! filters), in this extension's `localStorage` under `paperclip.panel.*`.

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// The value saved under `key`.
pub fn get(key: &str) -> Option<String> {
    storage().and_then(|s| s.get_item(key).ok().flatten())
}

/// Saves `value` under `key` (quietly nothing where storage is refused).
pub fn set(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}
