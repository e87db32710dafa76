//! What asking would send: the destination and the page context, editable.

use paperclip_core::chat::ContextPreview;
use yew::prelude::*;

/// Props of [`PreviewPanel`].
#[derive(Properties, PartialEq)]
pub struct PreviewPanelProps {
    /// What would be sent, and to whom.
    pub preview: ContextPreview,
    /// An answer is awaited or streams.
    pub busy: bool,
    /// The editable context (read when sending).
    pub context_area: NodeRef,
    /// Send with this context.
    pub on_send: Callback<MouseEvent>,
    /// Close the preview.
    pub on_cancel: Callback<MouseEvent>,
}

/// The preview.
#[function_component(PreviewPanel)]
pub fn preview_panel(p: &PreviewPanelProps) -> Html {
    html! {
        <section class="preview" role="region" aria-label="What will be sent">
            if let Some(to) = &p.preview.destination {
                <p>{ format!("With your question, this goes to {to} (edit it if you like):") }</p>
                <textarea ref={p.context_area.clone()} aria-label="Page context" rows="8" value={p.preview.context.clone()} />
            } else {
                <p>{ "Nothing leaves your browser: the offline provider answers from the page itself." }</p>
            }
            <div class="preview-actions">
                <button type="button" onclick={p.on_send.clone()} disabled={p.busy}>{ "Send with this context" }</button>
                <button type="button" onclick={p.on_cancel.clone()}>{ "Cancel" }</button>
            </div>
        </section>
    }
}
