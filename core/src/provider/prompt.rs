//! What is sent to a provider for one question: the personality's system
//! prompt with the page context, the conversation so far, and the question,
//! within a character budget (the selection and headings are kept; the page
//! text and older messages are trimmed first).
//!
//! ```
//! use paperclip_core::page::PageSnapshot;
//! use paperclip_core::provider::prompt::build;
//!
//! let page = PageSnapshot { title: "Paper clips".into(), ..PageSnapshot::default() };
//! let req = build("Be helpful.", &page, &[], "What is this page about?", 10_000);
//! assert!(req.system.as_deref().unwrap().contains("Paper clips"));
//! assert_eq!(req.messages.last().unwrap().content, "What is this page about?");
//! ```

use super::{ChatMessage, ChatRequest};
use crate::conversation::{Message, MessageStatus};
use crate::page::PageSnapshot;

/// Characters per token assumed when budgeting (the usual estimate for
/// English text with BPE tokenizers).
pub const CHARS_PER_TOKEN: usize = 4;
/// Default budget for the whole request, in tokens.
pub const DEFAULT_BUDGET_TOKENS: usize = 6_000;
/// [`DEFAULT_BUDGET_TOKENS`] in characters: the unit of every `budget`
/// argument here.
pub const DEFAULT_BUDGET_CHARS: usize = DEFAULT_BUDGET_TOKENS * CHARS_PER_TOKEN;
/// Most earlier messages sent along.
pub const MAX_HISTORY: usize = 12;

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// The page context as text, within `budget` characters: the title, URL,
/// description, selection and headings always (they are small and say
/// what the question is about), then what is on screen and the form
/// labels while they fit, then as many whole blocks of the main text as
/// fit, the last one clipped, with a line saying how much was left out.
pub fn page_context(page: &PageSnapshot, budget: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if !page.title.is_empty() {
        let _ = writeln!(out, "Page title: {}", page.title);
    }
    if !page.url.is_empty() {
        let _ = writeln!(out, "Page URL: {}", page.url);
    }
    if !page.description.is_empty() {
        let _ = writeln!(out, "Page description: {}", page.description);
    }
    if !page.selection.is_empty() {
        let _ = writeln!(out, "Selected text:\n{}", page.selection);
    }
    if !page.headings.is_empty() {
        out.push_str("Headings:\n");
        for h in &page.headings {
            let _ = writeln!(out, "- {h}");
        }
    }
    let optional = |section: String, out: &mut String| {
        if out.chars().count() + section.chars().count() <= budget {
            out.push_str(&section);
        }
    };
    if !page.viewport.visible.is_empty() {
        let mut section = format!(
            "On screen (scrolled {}% down the page):\n",
            page.viewport.scrolled_percent
        );
        for v in &page.viewport.visible {
            let _ = writeln!(section, "- {v}");
        }
        optional(section, &mut out);
    }
    if !page.forms.is_empty() {
        let mut section = String::from("Form fields on the page:\n");
        for f in &page.forms {
            let _ = writeln!(section, "- {f}");
        }
        optional(section, &mut out);
    }
    let mut left = budget.saturating_sub(out.chars().count());
    if page.blocks.is_empty() || left <= 60 {
        return out;
    }
    out.push_str("Page text:\n");
    left -= 11;
    if page.cut {
        let _ = writeln!(out, "[{}]", crate::page::CUT_NOTE);
        left = left.saturating_sub(crate::page::CUT_NOTE.len() + 3);
    }
    let total = page.blocks.len();
    let mut sent = 0;
    // Room for the line saying how much was left out.
    let note = 60;
    for block in &page.blocks {
        let n = block.chars().count() + 1;
        if n + note <= left {
            out.push_str(block);
            out.push('\n');
            left -= n;
            sent += 1;
        } else {
            if left > note + 40 {
                out.push_str(&clip(block, left - note - 1));
                out.push('\n');
            }
            break;
        }
    }
    if sent < total {
        let _ = writeln!(
            out,
            "[page text cut to fit: {sent} of {total} blocks sent whole]"
        );
    }
    out
}

/// The part of `history` that fits (complete messages, newest first kept,
/// at most [`MAX_HISTORY`]), oldest first, and the characters left for the
/// page context.
fn fit_history(
    system_prompt: &str,
    history: &[Message],
    question: &str,
    budget: usize,
) -> (Vec<ChatMessage>, usize) {
    let mut left = budget.saturating_sub(question.chars().count() + system_prompt.len());
    let mut earlier: Vec<ChatMessage> = Vec::new();
    for m in history
        .iter()
        .rev()
        .filter(|m| m.status == MessageStatus::Complete && !m.text.trim().is_empty())
        .take(MAX_HISTORY)
    {
        let n = m.text.chars().count();
        if n > left / 2 {
            break;
        }
        left -= n;
        earlier.push(ChatMessage::new(m.role, m.text.clone()));
    }
    earlier.reverse();
    (earlier, left)
}

/// The page context [`build`] would send for `question` on `page` after
/// `history`: what the agent's preview shows (and lets the user edit).
pub fn context_for(
    system_prompt: &str,
    page: &PageSnapshot,
    history: &[Message],
    question: &str,
    budget: usize,
) -> String {
    let question = clip(question, budget / 2);
    let (_, left) = fit_history(system_prompt, history, &question, budget);
    page_context(page, left)
}

/// The request for `question` asked on `page` after `history` (oldest
/// first; unfinished answers are left out), within `budget` characters.
pub fn build(
    system_prompt: &str,
    page: &PageSnapshot,
    history: &[Message],
    question: &str,
    budget: usize,
) -> ChatRequest {
    let context = context_for(system_prompt, page, history, question, budget);
    build_with_context(system_prompt, &context, history, question, budget)
}

/// The request for `question` with `context` as the page context, verbatim
/// (as the user reviewed and perhaps edited it; clipped to what the budget
/// leaves after the question and history).
pub fn build_with_context(
    system_prompt: &str,
    context: &str,
    history: &[Message],
    question: &str,
    budget: usize,
) -> ChatRequest {
    let question = clip(question, budget / 2);
    let (earlier, left) = fit_history(system_prompt, history, &question, budget);
    let context = clip(context, left);
    let mut request = ChatRequest::new(earlier);
    request.system = Some(format!(
        "{system_prompt}\n\nThe user is reading this web page:\n{context}"
    ));
    request
        .messages
        .push(ChatMessage::new(crate::conversation::Role::User, question));
    request
}

/// What the user asks when continuing an interrupted answer.
pub const CONTINUE_PROMPT: &str =
    "Your previous answer was cut off. Continue it exactly where it stopped, without repeating anything.";

/// The request continuing `partial`, the interrupted answer to `question`:
/// the request [`build`] makes for the question, then the partial answer
/// and [`CONTINUE_PROMPT`].
pub fn build_continuation(
    system_prompt: &str,
    page: &PageSnapshot,
    history: &[Message],
    question: &str,
    partial: &str,
    budget: usize,
) -> ChatRequest {
    let partial = clip(partial, budget / 2);
    let rest = budget.saturating_sub(partial.chars().count());
    let mut request = build(system_prompt, page, history, question, rest);
    request.messages.push(ChatMessage::new(
        crate::conversation::Role::Assistant,
        partial,
    ));
    request.messages.push(ChatMessage::new(
        crate::conversation::Role::User,
        CONTINUE_PROMPT.to_string(),
    ));
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Role;

    fn page(body_chars: usize) -> PageSnapshot {
        PageSnapshot {
            url: "https://a.test/x".into(),
            title: "T".into(),
            selection: "the selected words".into(),
            headings: vec!["H1".into(), "H2".into()],
            blocks: vec!["b".repeat(body_chars)],
            ..PageSnapshot::default()
        }
    }

    #[test]
    fn the_body_is_cut_at_whole_blocks_and_says_so() {
        let page = PageSnapshot {
            blocks: (0..10).map(|k| format!("{k}{}", "x".repeat(99))).collect(),
            ..page(0)
        };
        let text = page_context(&page, 700);
        assert!(text.chars().count() <= 700, "{}", text.chars().count());
        assert!(text.contains("the selected words") && text.contains("- H2"));
        let whole = page
            .blocks
            .iter()
            .filter(|b| text.contains(b.as_str()))
            .count();
        assert!(whole >= 4, "{text}");
        assert!(text.contains(&format!(
            "[page text cut to fit: {whole} of 10 blocks sent whole]"
        )));
        let all = page_context(&page, 100_000);
        assert!(
            !all.contains("cut to fit") && page.blocks.iter().all(|b| all.contains(b.as_str()))
        );
    }

    #[test]
    fn selection_and_headings_survive_a_small_budget_and_the_body_is_trimmed() {
        let req = build("S", &page(50_000), &[], "Q?", 2_000);
        let system = req.system.unwrap();
        assert!(system.contains("the selected words") && system.contains("- H2"));
        assert!(system.chars().count() < 2_100, "{}", system.chars().count());
        assert!(system.contains('…'));
    }

    #[test]
    fn history_goes_oldest_first_without_unfinished_answers() {
        let mut cut = Message::complete("2".into(), Role::Assistant, "half".into(), 2.0);
        cut.status = MessageStatus::Interrupted;
        let history = vec![
            Message::complete("1".into(), Role::User, "first".into(), 1.0),
            cut,
            Message::complete("3".into(), Role::Assistant, "answer".into(), 3.0),
        ];
        let req = build("S", &page(10), &history, "next?", 10_000);
        let texts: Vec<&str> = req.messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["first", "answer", "next?"]);
    }

    #[test]
    fn the_previewed_context_is_what_is_sent() {
        let page = page(5_000);
        let question = "What is it?";
        let context = context_for("Be brief.", &page, &[], question, 2_000);
        let built = build("Be brief.", &page, &[], question, 2_000);
        let system = built.system.clone().unwrap();
        assert!(system.ends_with(&context), "{system}");
        // The user shortened it and added a note.
        let half: String = context.chars().take(context.chars().count() / 2).collect();
        let edited = format!("{half} (edited)");
        let sent = build_with_context("Be brief.", &edited, &[], question, 2_000);
        assert!(sent.system.unwrap().ends_with("(edited)"));
        assert_eq!(sent.messages, built.messages);
    }

    #[test]
    fn a_cut_page_is_sent_with_a_line_saying_so() {
        let mut page = PageSnapshot {
            blocks: vec!["The beginning.".into()],
            ..Default::default()
        };
        assert!(!page_context(&page, 4_000).contains(crate::page::CUT_NOTE));
        page.cut = true;
        let sent = page_context(&page, 4_000);
        assert!(
            sent.contains(crate::page::CUT_NOTE) && sent.contains("The beginning."),
            "{sent}"
        );
    }
}
