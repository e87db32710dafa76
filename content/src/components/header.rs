//! The header: the character, its balloon, and the move, conversations,
//! new-conversation and close buttons.

use paperclip_core::character::Animation;
use paperclip_core::chat::ChatState;
use paperclip_ui::{Character, Look};
use yew::prelude::*;

/// What the balloon says for the chat's state and the character's
/// animation.
pub fn balloon(state: &ChatState, animation: Animation) -> &'static str {
    match animation {
        _ if !state.ready => "Connecting…",
        Animation::Goodbye => "Bye for now!",
        Animation::Thinking => "Let me look at this page…",
        Animation::Alert if state.error.is_some() => "Oops, something went wrong.",
        Animation::Alert => "My providers are down; I'm answering from what I have.",
        Animation::Hesitation => "Hmm, my usual provider failed; another one answered.",
        Animation::Pointing(_) => "Ooh, what's that you highlighted?",
        _ if state.hint.is_some() => "I have an idea for this page…",
        _ if state.is_streaming() => "Here's what I found.",
        _ => "Hi! Ask me about this page.",
    }
}

/// Props of [`Header`].
#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    /// What the character does.
    pub animation: Animation,
    /// Which character.
    pub look: Look,
    /// What the balloon says.
    pub balloon: &'static str,
    /// Whether the site's conversation list is open.
    pub conversations_open: bool,
    /// An answer is awaited or streams.
    pub busy: bool,
    /// The move handle's pointer and key handlers.
    pub on_handle_down: Callback<PointerEvent>,
    /// See `on_handle_down`.
    pub on_handle_move: Callback<PointerEvent>,
    /// See `on_handle_down`.
    pub on_handle_up: Callback<PointerEvent>,
    /// See `on_handle_down`.
    pub on_handle_key: Callback<KeyboardEvent>,
    /// ☰: open or close the site's conversations.
    pub on_conversations: Callback<MouseEvent>,
    /// +: a new conversation.
    pub on_new: Callback<()>,
    /// ×: close the agent.
    pub on_close: Callback<()>,
}

/// The header.
#[function_component(Header)]
pub fn header(p: &HeaderProps) -> Html {
    html! {
        <header>
            <Character animation={p.animation} look={p.look} />
            <div class="balloon" aria-hidden="true">{ p.balloon }</div>
            <div class="header-actions">
                <button type="button" class="icon move" aria-label="Move Clippy"
                    title="Drag to move Clippy; arrow keys move it, Home puts it back"
                    onpointerdown={p.on_handle_down.clone()} onpointermove={p.on_handle_move.clone()}
                    onpointerup={p.on_handle_up.clone()} onpointercancel={p.on_handle_up.clone()}
                    onkeydown={p.on_handle_key.clone()}>{ "✥" }</button>
                <button type="button" class="icon" aria-label="Conversations on this site"
                    aria-expanded={p.conversations_open.to_string()} onclick={p.on_conversations.clone()}>{ "☰" }</button>
                <button type="button" class="icon" aria-label="New conversation" disabled={p.busy}
                    onclick={p.on_new.reform(|_| ())}>{ "+" }</button>
                <button class="close" aria-label="Close Clippy" onclick={p.on_close.reform(|_| ())}>{ "×" }</button>
            </div>
        </header>
    }
}
