//! Shared pieces of Paperclip's extension pages (agent, popup, options,
//! devtools panel): the [`Character`] drawing, the [`ConversationTable`]
//! list, the [`StorageSection`], the [`use_rpc`] hook and time formatting.
//!
//! ```no_run
//! use yew::prelude::*;
//! use paperclip_ui::{Animation, Character};
//! use paperclip_core::character::IdleVariant;
//! let _ = html! { <Character animation={Animation::Idle(IdleVariant::Bob)} /> };
//! ```
#![forbid(unsafe_code)]

pub mod boundary;
mod hooks;
pub mod live;
mod storage;

pub use boundary::{install_panic_hook, use_failure, ErrorBoundary};
pub use hooks::{use_rpc, Loaded, Reload};
pub use live::{use_changes, use_rpc_live};
pub use storage::{status_line, StorageSection};

use paperclip_core::conversation::ConversationSummary;
use yew::prelude::*;

pub use paperclip_core::character::Animation;
pub use paperclip_core::prefs::Character as Look;

/// Props of [`Character`].
#[derive(Properties, PartialEq)]
pub struct CharacterProps {
    /// What it is doing (drives the CSS animation).
    pub animation: Animation,
    /// Which character.
    #[prop_or_default]
    pub look: Look,
}

/// Our own characters, drawn in SVG (Clippy, and Clippette with a bow and
/// lashes); CSS (`paperclip.css`) animates them by [`Animation`] and
/// respects reduced motion.
#[function_component(Character)]
pub fn character(props: &CharacterProps) -> Html {
    let a = props.animation;
    let look = props.look.as_str();
    html! {
        <svg class={classes!("clippy", look, a.class())} viewBox="0 0 64 96" data-animation={a.name()}
             role="img" aria-label={format!("{}, {}", if props.look == Look::Clippy { "Clippy" } else { "Clippette" }, a.name())}>
            <g class="body">
                <path class="wire" d="M22 78 V22 a10 10 0 0 1 20 0 V70 a6 6 0 0 1 -12 0 V30"
                      fill="none" stroke-width="5" stroke-linecap="round" />
                if props.look == Look::Clippette {
                    <path class="bow" d="M32 9 l-9 -6 v12 z M32 9 l9 -6 v12 z" />
                    <circle class="bow" cx="32" cy="9" r="2.5" />
                }
                <g class="eyes">
                    <ellipse cx="22" cy="34" rx="7" ry="8" class="eye-white" />
                    <ellipse cx="42" cy="34" rx="7" ry="8" class="eye-white" />
                    <circle cx="24" cy="35" r="3" class="pupil" />
                    <circle cx="44" cy="35" r="3" class="pupil" />
                    <path d="M14 23 q8 -6 14 -1" class="brow" fill="none" stroke-width="2.5" />
                    <path d="M36 22 q8 -5 14 1" class="brow" fill="none" stroke-width="2.5" />
                    if props.look == Look::Clippette {
                        <path d="M15 29 l-3 -2 M16 27 l-2 -3 M49 29 l3 -2 M48 27 l2 -3" class="lash" stroke-width="1.5" />
                    }
                </g>
                <path class="hand" d="M42 58 q10 -4 14 -14" fill="none" stroke-width="3" stroke-linecap="round" />
            </g>
        </svg>
    }
}

/// Formats `ms` since the epoch in the user's locale.
pub fn format_time(ms: f64) -> String {
    let date = js_sys::Date::new(&ms.into());
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

/// Props of [`ConversationTable`].
#[derive(Properties, PartialEq)]
pub struct ConversationTableProps {
    /// Rows, newest first.
    pub items: Vec<ConversationSummary>,
    /// Called with a conversation id when a row is chosen.
    #[prop_or_default]
    pub on_select: Option<Callback<String>>,
    /// Shows each conversation's tokens and cost (a wide page's column).
    #[prop_or_default]
    pub usage: bool,
}

/// A list of conversations: title, site, time, message count, and with
/// `usage` their tokens and cost.
#[function_component(ConversationTable)]
pub fn conversation_table(props: &ConversationTableProps) -> Html {
    if props.items.is_empty() {
        return html! { <p class="empty">{ "No conversations yet." }</p> };
    }
    html! {
        <table class="conversations" aria-label="Conversations">
            <thead><tr>
                <th scope="col">{ "Title" }</th>
                <th scope="col">{ "Site" }</th>
                <th scope="col">{ "Updated" }</th>
                <th scope="col">{ "Messages" }</th>
                if props.usage {
                    <th scope="col">{ "Tokens and cost" }</th>
                }
            </tr></thead>
            <tbody>
            { for props.items.iter().map(|c| {
                let onclick = props.on_select.clone().map(|cb| {
                    let id = c.id.clone();
                    Callback::from(move |_| cb.emit(id.clone()))
                });
                let title = if c.title.is_empty() { "(untitled)".to_string() } else { c.title.clone() };
                html! {
                    <tr key={c.id.clone()} class="conversation" data-id={c.id.clone()}>
                        <td class="title">
                            if let Some(onclick) = onclick {
                                <button class="link" {onclick}>{ title }</button>
                            } else {
                                { title }
                            }
                        </td>
                        <td class="site">{ c.site.clone() }
                            if c.imported {
                                <span class="badge imported" title="From an imported file; not opened since">{ "imported" }</span>
                            }
                        </td>
                        <td class="time">{ format_time(c.updated_ms) }</td>
                        <td class="count">{ c.message_count }</td>
                        if props.usage {
                            <td class="usage">{ usage_cell(&c.usage) }</td>
                        }
                    </tr>
                }
            }) }
            </tbody>
        </table>
    }
}

/// A conversation's totals as a table cell: "none" when no provider
/// reported usage.
fn usage_cell(u: &paperclip_core::conversation::Usage) -> String {
    if *u == paperclip_core::conversation::Usage::default() {
        "none".into()
    } else {
        paperclip_core::usage::format_usage(u)
    }
}

/// Offers `text` to the user as a file download named `filename`.
pub fn download(filename: &str, text: &str, mime: &str) -> Result<(), String> {
    save(
        filename,
        gloo_file::Blob::new_with_options(text, Some(mime)).into(),
    )
}

/// A file put together from pieces of text as they come: each batch is
/// folded into a `Blob` (which the browser keeps out of the page's heap
/// and does not copy to join), so no string ever holds the whole file.
pub struct FileBuilder {
    blob: web_sys::Blob,
    pending: js_sys::Array,
    mime: String,
}

impl FileBuilder {
    /// An empty file of type `mime`.
    pub fn new(mime: &str) -> Result<Self, String> {
        Ok(Self {
            blob: web_sys::Blob::new().map_err(|_| "cannot create a file")?,
            pending: js_sys::Array::new(),
            mime: mime.into(),
        })
    }

    /// Appends `text`.
    pub fn push(&mut self, text: &str) {
        self.pending.push(&text.into());
    }

    /// Folds what was pushed into the file.
    pub fn fold(&mut self) -> Result<(), String> {
        let parts = js_sys::Array::of1(&self.blob);
        for piece in self.pending.iter() {
            parts.push(&piece);
        }
        let bag = web_sys::BlobPropertyBag::new();
        bag.set_type(&self.mime);
        self.blob = web_sys::Blob::new_with_blob_sequence_and_options(&parts, &bag)
            .map_err(|_| "cannot put the file together")?;
        self.pending = js_sys::Array::new();
        Ok(())
    }

    /// Offers the file to the user as a download named `filename`.
    pub fn download(mut self, filename: &str) -> Result<(), String> {
        self.fold()?;
        save(filename, self.blob)
    }
}

fn save(filename: &str, blob: web_sys::Blob) -> Result<(), String> {
    use wasm_bindgen::JsCast;
    let url = gloo_file::ObjectUrl::from(gloo_file::Blob::from(blob));
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| "cannot create a link")?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(filename);
    a.click();
    // Revoking the URL right after the click is safe: the download has
    // already taken its own reference to the blob.
    drop(url);
    Ok(())
}

/// Reads a file the user picked, as text.
pub async fn read_text(file: web_sys::File) -> Result<String, String> {
    gloo_file::futures::read_as_text(&gloo_file::File::from(file))
        .await
        .map_err(|e| format!("cannot read the file: {e}"))
}

/// The file chosen in the `<input type=file>` that fired `e`, taken out of
/// the input (so that choosing the same file again fires again).
pub fn take_chosen_file(e: &Event) -> Option<web_sys::File> {
    let input: web_sys::HtmlInputElement = e.target_unchecked_into();
    let file = input.files().and_then(|f| f.get(0))?;
    input.set_value("");
    Some(file)
}

/// Reads `file` as text when it is at most `max_bytes`; a larger one is
/// refused unread, with its name and the limit.
pub async fn read_text_within(file: web_sys::File, max_bytes: usize) -> Result<String, String> {
    if file.size() > max_bytes as f64 {
        let limit = if max_bytes >= 1 << 20 {
            format!("{} MB", max_bytes >> 20)
        } else {
            format!("{} KB", max_bytes >> 10)
        };
        return Err(format!(
            "{} is too large: at most {limit} can be read",
            file.name()
        ));
    }
    read_text(file).await
}
