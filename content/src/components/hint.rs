//! A proactive hint: take it, or not now.

use paperclip_core::hints::Hint;
use yew::prelude::*;

/// Props of [`HintCard`].
#[derive(Properties, PartialEq)]
pub struct HintCardProps {
    /// The hint.
    pub hint: Hint,
    /// An answer is awaited or streams.
    pub busy: bool,
    /// The user takes it.
    pub on_take: Callback<MouseEvent>,
    /// Not now.
    pub on_dismiss: Callback<MouseEvent>,
}

/// The hint.
#[function_component(HintCard)]
pub fn hint_card(p: &HintCardProps) -> Html {
    html! {
        <section class="hint" role="region" aria-label="Hint">
            <p role="status">{ p.hint.text.clone() }</p>
            <button type="button" class="primary" disabled={p.busy} onclick={p.on_take.clone()}>{ format!("Yes: {}", p.hint.action.label()) }</button>
            <button type="button" onclick={p.on_dismiss.clone()}>{ "Not now" }</button>
        </section>
    }
}
