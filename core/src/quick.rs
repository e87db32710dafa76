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

/// Most custom quick actions the user may define.
pub const MAX_CUSTOM_ACTIONS: usize = 12;
/// Longest action name, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// Longest prompt template, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 2_000;
/// Most characters of the selection a template's `{selection}` takes.
pub const MAX_SELECTION_CHARS: usize = 4_000;
/// Most characters of the page's text a template's `{page}` takes.
pub const MAX_PAGE_CHARS: usize = 6_000;
/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 4] = ["selection", "page", "title", "url"];

/// A quick action the user defined (options page, *Your quick actions*):
/// a button in the agent and an entry in the context menu that asks
/// `template` with its placeholders filled from the page.
///
/// ```
/// use paperclip_core::quick::{CustomAction, Fill};
/// let a = CustomAction::new("Tweet it", "Write a tweet about {title}: {selection}", true).unwrap();
/// let fill = Fill { selection: "Rust 2.0 is out".into(), title: "News".into(), ..Fill::default() };
/// assert_eq!(a.expand(&fill), "Write a tweet about News: Rust 2.0 is out");
/// assert!(CustomAction::new("x", "Use {body}", false).unwrap_err().contains("{body}"));
/// ```
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CustomAction {
    /// The button's label and the context-menu entry's name; unique
    /// (ignoring case) among the user's actions.
    pub name: String,
    /// The question, with `{selection}`, `{page}`, `{title}` and `{url}`
    /// filled in when it is asked.
    pub template: String,
    /// Offered only when text is selected (the context menu shows it on a
    /// selection; the agent says to select some text first).
    #[serde(default)]
    pub needs_selection: bool,
}

/// What a template's placeholders are filled with: what of the page the
/// user's privacy settings let go to a provider (a part they turned off is
/// empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fill {
    /// `{selection}`.
    pub selection: String,
    /// `{page}`: the page's main text.
    pub page: String,
    /// `{title}`.
    pub title: String,
    /// `{url}`.
    pub url: String,
}

fn bounded(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

impl CustomAction {
    /// A validated action (name and template trimmed), or why not.
    pub fn new(name: &str, template: &str, needs_selection: bool) -> Result<Self, String> {
        let name = name.trim();
        let template = template.trim();
        if name.is_empty() {
            return Err("the name is empty".into());
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(format!(
                "the name is longer than {MAX_NAME_CHARS} characters"
            ));
        }
        if name.chars().any(char::is_control) {
            return Err("the name has a control character".into());
        }
        if template.is_empty() {
            return Err(format!("{name:?}: the prompt is empty"));
        }
        if template.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(format!(
                "{name:?}: the prompt is longer than {MAX_TEMPLATE_CHARS} characters"
            ));
        }
        for (_, word) in placeholders(template) {
            if !PLACEHOLDERS.contains(&word) {
                return Err(format!(
                    "{name:?}: {{{word}}} is not a placeholder; use {{selection}}, {{page}}, {{title}} or {{url}}"
                ));
            }
        }
        Ok(Self {
            name: name.to_string(),
            template: template.to_string(),
            needs_selection,
        })
    }

    /// The placeholders this action's template uses.
    pub fn uses(&self, placeholder: &str) -> bool {
        placeholders(&self.template).any(|(_, w)| w == placeholder)
    }

    /// The question: the template with each placeholder replaced by its
    /// value (bounded: [`MAX_SELECTION_CHARS`], [`MAX_PAGE_CHARS`]), in one
    /// pass, so text from the page that looks like a placeholder stays
    /// text.
    pub fn expand(&self, fill: &Fill) -> String {
        let mut out = String::with_capacity(self.template.len());
        let mut rest = 0;
        for (at, word) in placeholders(&self.template) {
            out.push_str(&self.template[rest..at]);
            let value = match word {
                "selection" => bounded(&fill.selection, MAX_SELECTION_CHARS),
                "page" => bounded(&fill.page, MAX_PAGE_CHARS),
                "title" => bounded(&fill.title, MAX_NAME_CHARS * 10),
                "url" => bounded(&fill.url, 2_000),
                other => format!("{{{other}}}"),
            };
            out.push_str(&value);
            rest = at + word.len() + 2;
        }
        out.push_str(&self.template[rest..]);
        out
    }
}

/// Each `{word}` (ASCII letters and `_`) in `template`, with the byte
/// offset of its `{`.
fn placeholders(template: &str) -> impl Iterator<Item = (usize, &str)> {
    template.match_indices('{').filter_map(move |(at, _)| {
        let after = &template[at + 1..];
        let end = after.find('}')?;
        let word = &after[..end];
        (!word.is_empty() && word.chars().all(|c| c.is_ascii_alphabetic() || c == '_'))
            .then_some((at, word))
    })
}

/// Validates a list of actions: each one, at most [`MAX_CUSTOM_ACTIONS`],
/// names unique ignoring case.
pub fn validate_actions(actions: Vec<CustomAction>) -> Result<Vec<CustomAction>, String> {
    if actions.len() > MAX_CUSTOM_ACTIONS {
        return Err(format!(
            "{} actions is more than the maximum {MAX_CUSTOM_ACTIONS}",
            actions.len()
        ));
    }
    let mut out: Vec<CustomAction> = Vec::with_capacity(actions.len());
    for a in actions {
        let a = CustomAction::new(&a.name, &a.template, a.needs_selection)?;
        if out
            .iter()
            .any(|b| b.name.to_lowercase() == a.name.to_lowercase())
        {
            return Err(format!("two actions are named {:?}", a.name));
        }
        out.push(a);
    }
    Ok(out)
}

/// The user's action named `name` (ignoring case).
pub fn find<'a>(actions: &'a [CustomAction], name: &str) -> Option<&'a CustomAction> {
    let name = name.trim().to_lowercase();
    actions.iter().find(|a| a.name.to_lowercase() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fill() -> Fill {
        Fill {
            selection: "the chosen words".into(),
            page: "All of the page.".into(),
            title: "A title".into(),
            url: "https://example.org/a".into(),
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let a =
            CustomAction::new("All", "{selection}|{page}|{title}|{url}|{title}", false).unwrap();
        assert_eq!(
            a.expand(&fill()),
            "the chosen words|All of the page.|A title|https://example.org/a|A title"
        );
        assert!(a.uses("page") && a.uses("url"));
    }

    #[test]
    fn braces_that_are_not_placeholders_stay() {
        let a = CustomAction::new(
            "Code",
            "Explain {selection} as JSON: {\"a\": 1} {} {{x",
            false,
        )
        .unwrap();
        assert_eq!(
            a.expand(&fill()),
            "Explain the chosen words as JSON: {\"a\": 1} {} {{x"
        );
    }

    #[test]
    fn page_text_that_looks_like_a_placeholder_is_not_expanded() {
        let a = CustomAction::new("Q", "About {selection} on {title}", false).unwrap();
        let f = Fill {
            selection: "{page} {url}".into(),
            ..fill()
        };
        assert_eq!(a.expand(&f), "About {page} {url} on A title");
    }

    #[test]
    fn values_are_bounded() {
        let a = CustomAction::new("Q", "{selection}/{page}", false).unwrap();
        let f = Fill {
            selection: "s".repeat(MAX_SELECTION_CHARS * 3),
            page: "p".repeat(MAX_PAGE_CHARS * 3),
            ..fill()
        };
        let out = a.expand(&f);
        assert_eq!(
            out.chars().count(),
            MAX_SELECTION_CHARS + MAX_PAGE_CHARS + 3
        );
    }

    #[test]
    fn bad_actions_are_refused_with_their_reason() {
        let cases = [
            ("", "x", "the name is empty"),
            (&"n".repeat(41), "x", "longer than 40"),
            ("a\u{7}b", "x", "control character"),
            ("ok", "  ", "the prompt is empty"),
            ("ok", &"t".repeat(2001), "longer than 2000"),
            ("ok", "Use {body}", "{body} is not a placeholder"),
        ];
        for (name, template, why) in cases {
            let e = CustomAction::new(name, template, false).unwrap_err();
            assert!(e.contains(why), "{name:?}/{template:?}: {e}");
        }
        let a = CustomAction::new("Same", "x", false).unwrap();
        let b = CustomAction::new("same", "y", false).unwrap();
        assert!(validate_actions(vec![a.clone(), b])
            .unwrap_err()
            .contains("two actions are named"));
        let many = vec![a; MAX_CUSTOM_ACTIONS + 1];
        assert!(validate_actions(many).unwrap_err().contains("maximum"));
    }

    #[test]
    fn find_ignores_case() {
        let list = vec![CustomAction::new("Tweet It", "x", false).unwrap()];
        assert_eq!(find(&list, " tweet it").unwrap().name, "Tweet It");
        assert!(find(&list, "other").is_none());
    }

    proptest! {
        #[test]
        fn expansion_never_panics_and_keeps_literal_text(template in "[a-z {}]{0,60}", sel in ".{0,40}") {
            if let Ok(a) = CustomAction::new("p", &template, false) {
                let f = Fill { selection: sel.clone(), ..Fill::default() };
                let out = a.expand(&f);
                if !a.uses("selection") && !a.uses("page") && !a.uses("title") && !a.uses("url") {
                    prop_assert_eq!(out, a.template.clone());
                }
            }
        }
    }
}
