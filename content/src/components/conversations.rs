//! The site's conversations (with their tokens and cost so far): open
//! one, delete one.

use paperclip_core::conversation::{ConversationSummary, Usage};
use paperclip_core::usage::format_usage;
use yew::prelude::*;

/// Props of [`SiteConversations`].
#[derive(Properties, PartialEq)]
pub struct SiteConversationsProps {
    /// The site's conversations, newest first.
    pub items: Vec<ConversationSummary>,
    /// The open one.
    pub current: Option<String>,
    /// An answer is awaited or streams.
    pub busy: bool,
    /// Opens a conversation.
    pub on_open: Callback<Option<String>>,
    /// Deletes a conversation.
    pub on_delete: Callback<String>,
}

/// The list.
#[function_component(SiteConversations)]
pub fn site_conversations(p: &SiteConversationsProps) -> Html {
    html! {
        <section class="site-conversations" role="region" aria-label="Conversations on this site">
            if p.items.is_empty() {
                <p class="meta">{ "No saved conversations on this site yet." }</p>
            }
            <ul>
                { for p.items.iter().map(|c| {
                    let is_current = p.current.as_deref() == Some(c.id.as_str());
                    let (open_id, delete_id) = (c.id.clone(), c.id.clone());
                    let title = if c.title.is_empty() { "Untitled".to_string() } else { c.title.clone() };
                    html! {
                        <li key={c.id.clone()} aria-current={is_current.then_some("true")}>
                            <button type="button" class="open" disabled={p.busy}
                                onclick={p.on_open.reform(move |_| Some(open_id.clone()))}>
                                { title.clone() }
                                <span class="meta">{ format!(" · {} messages", c.message_count) }</span>
                                if c.imported {
                                    <span class="meta imported">{ " · imported, not opened yet" }</span>
                                }
                                if c.usage != Usage::default() {
                                    <span class="meta usage">{ format!(" · {}", format_usage(&c.usage)) }</span>
                                }
                            </button>
                            <button type="button" class="delete" aria-label={format!("Delete conversation {title}")} disabled={p.busy}
                                onclick={p.on_delete.reform(move |_| delete_id.clone())}>{ "Delete" }</button>
                        </li>
                    }
                }) }
            </ul>
        </section>
    }
}
