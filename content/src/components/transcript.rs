//! The conversation: messages, each answer with its source and (when its
//! provider reported them) its tokens and cost, Continue on an interrupted
//! answer; scrolled to the newest text as it streams.

use paperclip_core::conversation::{Message, MessageStatus, Role};
use yew::prelude::*;

/// Props of [`Transcript`].
#[derive(Properties, PartialEq)]
pub struct TranscriptProps {
    /// The messages, in order.
    pub messages: Vec<Message>,
    /// The interrupted answer that may be continued.
    pub continuable: Option<String>,
    /// Continues an interrupted answer.
    pub on_continue: Callback<String>,
    /// The page's site (origin): links elsewhere that carry data ask first.
    pub site: String,
}

/// The log (role=log, named "Conversation": the tests' contract).
#[function_component(Transcript)]
pub fn transcript(p: &TranscriptProps) -> Html {
    let log = use_node_ref();
    {
        // Keep the newest text in view as messages arrive and stream.
        let log = log.clone();
        let text_len: usize = p.messages.iter().map(|m| m.text.len()).sum();
        use_effect_with((p.messages.len(), text_len), move |_| {
            if let Some(el) = log.cast::<web_sys::Element>() {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    html! {
        <div class="log" ref={log} role="log" aria-label="Conversation" aria-live="polite">
            { for p.messages.iter().map(|m| html! {
                <MessageView
                    key={m.id.clone()}
                    message={m.clone()}
                    continuable={p.continuable.as_deref() == Some(m.id.as_str())}
                    on_continue={p.on_continue.clone()}
                    site={p.site.clone()}
                />
            }) }
        </div>
    }
}

/// Props of [`MessageView`].
#[derive(Properties, PartialEq)]
struct MessageProps {
    message: Message,
    continuable: bool,
    on_continue: Callback<String>,
    site: String,
}

/// One message. Its Markdown is parsed once per text: while an answer
/// streams, only that message renders again.
#[function_component(MessageView)]
fn message_view(p: &MessageProps) -> Html {
    let m = &p.message;
    let parsed = use_memo(m.text.clone(), |text| paperclip_core::markdown::parse(text));
    let role = match m.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    let status = match m.status {
        MessageStatus::Complete => "complete",
        MessageStatus::Streaming => "streaming",
        MessageStatus::Interrupted => "interrupted",
    };
    html! {
        <div class={classes!("message", role, status)} data-status={status}>
            if let (Role::Assistant, Some(source)) = (m.role, m.source()) {
                <span class="label">{ source.label() }</span>
            }
            if m.role == Role::Assistant {
                <div class="text markdown">{ crate::markdown::render(&parsed, &p.site) }</div>
            } else {
                <p class="text">{ m.text.clone() }</p>
            }
            if let (Role::Assistant, Some(usage)) = (m.role, m.usage.as_ref()) {
                <span class="label usage">{ paperclip_core::usage::format_usage(usage) }</span>
            }
            if m.status == MessageStatus::Interrupted {
                <span class="label">{ "Interrupted" }</span>
            }
            if p.continuable {
                <button type="button" class="continue" onclick={p.on_continue.reform({
                    let id = m.id.clone();
                    move |_| id.clone()
                })}>{ "Continue" }</button>
            }
        </div>
    }
}
