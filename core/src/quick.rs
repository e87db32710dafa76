//! Quick actions: the canned questions the agent offers as buttons and
//! the context menu as entries, with their labels and the question each
//! one asks.

use serde::{Deserialize, Serialize};

/// A canned question the agent offers as a button.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickAction {
    /// Summarise the whole page.
    SummarizePage,
    /// Explain the selected text.
    ExplainSelection,
    /// A question the user typed about the selected text.
    AskAboutSelection,
    /// Translate the selected text into the user's language.
    TranslateSelection,
}

impl QuickAction {
    /// The button label for this action.
    pub fn label(self) -> &'static str {
        match self {
            QuickAction::SummarizePage => "Summarize this page",
            QuickAction::ExplainSelection => "Explain selection",
            QuickAction::AskAboutSelection => "Ask about selection",
            QuickAction::TranslateSelection => "Translate selection",
        }
    }

    /// The text shown in the chat for this action (for
    /// [`QuickAction::AskAboutSelection`], what precedes the typed question).
    pub fn prompt(self) -> &'static str {
        match self {
            QuickAction::SummarizePage => "Summarize this page",
            QuickAction::ExplainSelection => "Explain the selection",
            QuickAction::AskAboutSelection => "About the selection:",
            QuickAction::TranslateSelection => "Translate the selection",
        }
    }

    /// The question sent for this action: the prompt, with `typed` (what
    /// the user asked about the selection) or `language` (the target of a
    /// translation, e.g. `fr-FR`) where the action takes one.
    pub fn question(self, typed: &str, language: &str) -> String {
        match self {
            QuickAction::AskAboutSelection => format!("{} {}", self.prompt(), typed.trim()),
            QuickAction::TranslateSelection => {
                format!("{} into my language ({language})", self.prompt())
            }
            _ => self.prompt().to_string(),
        }
    }
}
