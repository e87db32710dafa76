//! The quick actions and the composer: the question's textbox, Preview,
//! Send and Stop.

use paperclip_core::protocol::QuickAction;
use yew::prelude::*;

/// Props of [`QuickActions`].
#[derive(Properties, PartialEq)]
pub struct QuickActionsProps {
    /// An answer is awaited or streams.
    pub busy: bool,
    /// Asks a quick action's question.
    pub on_action: Callback<QuickAction>,
    /// "Ask about selection": the next question is about the selection.
    pub on_ask_about_selection: Callback<MouseEvent>,
    /// Whether the next question is about the selection.
    pub composing: bool,
    /// Cancels asking about the selection.
    pub on_cancel_compose: Callback<MouseEvent>,
    /// The user's own quick actions.
    pub actions: Vec<paperclip_core::quick::CustomAction>,
    /// Asks one of the user's actions (by name).
    pub on_custom: Callback<String>,
}

/// The quick-action buttons.
#[function_component(QuickActions)]
pub fn quick_actions(p: &QuickActionsProps) -> Html {
    let action = |a: QuickAction| p.on_action.reform(move |_: MouseEvent| a);
    html! {
        <>
            <div class="quick">
                <button type="button" disabled={p.busy} onclick={action(QuickAction::SummarizePage)}>{ QuickAction::SummarizePage.label() }</button>
                <button type="button" disabled={p.busy} onclick={action(QuickAction::ExplainSelection)}>{ QuickAction::ExplainSelection.label() }</button>
                <button type="button" disabled={p.busy} onclick={p.on_ask_about_selection.clone()}>{ QuickAction::AskAboutSelection.label() }</button>
                <button type="button" disabled={p.busy} onclick={action(QuickAction::TranslateSelection)}>{ QuickAction::TranslateSelection.label() }</button>
                { for p.actions.iter().map(|a| {
                    let name = a.name.clone();
                    let title = if a.needs_selection { "Your action (select some text first)" } else { "Your action" };
                    html! {
                        <button type="button" class="custom" {title} disabled={p.busy}
                            onclick={p.on_custom.reform(move |_: MouseEvent| name.clone())}>{ a.name.clone() }</button>
                    }
                }) }
            </div>
            if p.composing {
                <p class="compose" role="status">
                    { "Your next question is about the selected text." }
                    <button type="button" class="icon" aria-label="Cancel asking about the selection" onclick={p.on_cancel_compose.clone()}>{ "×" }</button>
                </p>
            }
        </>
    }
}

/// Props of [`Composer`].
#[derive(Properties, PartialEq)]
pub struct ComposerProps {
    /// The textbox ("Ask Clippy").
    pub input: NodeRef,
    /// Whether the next question is about the selection.
    pub composing: bool,
    /// An answer is awaited or streams.
    pub busy: bool,
    /// The port is ready.
    pub ready: bool,
    /// Send.
    pub on_submit: Callback<SubmitEvent>,
    /// Enter sends, Shift+Enter breaks the line, Escape stops or closes.
    pub on_keydown: Callback<KeyboardEvent>,
    /// Preview what would be sent.
    pub on_preview: Callback<MouseEvent>,
    /// Stop the answer in progress.
    pub on_stop: Callback<()>,
}

/// The composer.
#[function_component(Composer)]
pub fn composer(p: &ComposerProps) -> Html {
    let placeholder = if p.composing {
        "Ask about the selected text…"
    } else {
        "Ask about this page…"
    };
    html! {
        <form class="ask" onsubmit={p.on_submit.clone()}>
            <textarea ref={p.input.clone()} aria-label="Ask Clippy" {placeholder} rows="2" onkeydown={p.on_keydown.clone()} />
            <button type="button" class="preview-button" aria-label="Preview what will be sent" disabled={p.busy} onclick={p.on_preview.clone()}>{ "Preview" }</button>
            <button type="submit" disabled={p.busy}>{ "Send" }</button>
            if p.busy && p.ready {
                <button type="button" class="stop" onclick={p.on_stop.reform(|_| ())}>{ "Stop" }</button>
            }
        </form>
    }
}
