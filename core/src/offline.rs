//! The built-in offline provider: extractive answers from the page itself,
//! with no network and no API key.
//!
//! [`answer`] picks what to do from the question (or quick action):
//! summaries choose the most central sentences ([`summarize`]: degree
//! centrality over TF-IDF sentence vectors, computed against the document
//! centroid so it stays linear in the page size); questions choose the most
//! relevant sentences by BM25 ([`passages`]). [`stream_chunks`] cuts the
//! answer into the pieces that are streamed to the chat.
//!
//! ```
//! use paperclip_core::{offline, page::PageSnapshot};
//! let page = PageSnapshot {
//!     title: "Paperclips".into(),
//!     blocks: vec!["Paperclips hold paper together. They are usually made of steel wire. \
//!                   Some paperclips are coated in plastic.".into()],
//!     ..Default::default()
//! };
//! let text = offline::answer("What are paperclips made of?", None, &page);
//! assert!(text.contains("steel wire"));
//! ```

use std::collections::HashMap;

use crate::markdown::escape;
use crate::page::PageSnapshot;
use crate::quick::QuickAction;
use crate::text::{sentences, terms, word_count};

/// Name of this provider in messages and labels.
pub const PROVIDER: &str = "offline";

/// Sentences in a summary, at most.
pub const SUMMARY_SENTENCES: usize = 4;
/// Passages in an answer to a question, at most.
pub const ANSWER_PASSAGES: usize = 3;

/// What the user wants from the offline provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent<'a> {
    /// A summary of the page.
    Summarize,
    /// An explanation of the selected text.
    ExplainSelection,
    /// A translation of the selected text (which needs a model).
    Translate,
    /// An answer to a free question.
    Question(&'a str),
}

/// Decides the intent of `question` (a quick action wins over the text).
pub fn intent(question: &str, action: Option<QuickAction>) -> Intent<'_> {
    match action {
        Some(QuickAction::SummarizePage) => return Intent::Summarize,
        Some(QuickAction::ExplainSelection) => return Intent::ExplainSelection,
        Some(QuickAction::TranslateSelection) => return Intent::Translate,
        Some(QuickAction::AskAboutSelection) => return Intent::Question(question),
        None => {}
    }
    let q = question.to_lowercase();
    const SUMMARY_CUES: &[&str] = &[
        "summar",
        "tl;dr",
        "tldr",
        "what is this page about",
        "what's this page about",
        "what is this about",
        "gist",
    ];
    if SUMMARY_CUES.iter().any(|cue| q.contains(cue)) {
        Intent::Summarize
    } else if q.contains("selection") || q.contains("selected") {
        Intent::ExplainSelection
    } else {
        Intent::Question(question)
    }
}

/// The offline answer to `question` about `page`, as plain text.
pub fn answer(question: &str, action: Option<QuickAction>, page: &PageSnapshot) -> String {
    let doc = Document::new(&page.blocks);
    match intent(question, action) {
        Intent::Summarize => summary_answer(&doc, page),
        Intent::ExplainSelection => selection_answer(&doc, page),
        Intent::Translate => translate_answer(page),
        Intent::Question(q) => question_answer(&doc, page, q),
    }
}

/// The page's title as answer text (escaped: words from a page never
/// become Markdown, e.g. a link).
fn title_of(page: &PageSnapshot) -> String {
    if page.title.is_empty() {
        "this page".into()
    } else {
        escape(&page.title)
    }
}

/// Sentences from the page as bullets (escaped).
fn bullets(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("• {}", escape(s)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn summary_answer(doc: &Document<'_>, page: &PageSnapshot) -> String {
    let picked = doc.summarize(SUMMARY_SENTENCES, &terms(&page.title));
    if picked.is_empty() {
        return "I couldn't find any readable text on this page.".into();
    }
    let note = if page.cut {
        format!("\n\n*{}*", crate::page::CUT_NOTE)
    } else {
        String::new()
    };
    format!(
        "Summary of “{}”:\n{}{note}",
        title_of(page),
        bullets(&picked)
    )
}

fn translate_answer(page: &PageSnapshot) -> String {
    let selection = page.selection.trim();
    if selection.is_empty() {
        return "Select some text on the page first, then ask me again.".into();
    }
    format!(
        "Translating needs an AI provider (add one in Options): the offline provider only answers from the page's own words. You selected “{}”.",
        escape(selection)
    )
}

fn selection_answer(doc: &Document<'_>, page: &PageSnapshot) -> String {
    let selection = page.selection.trim();
    if selection.is_empty() {
        return "Select some text on the page first, then ask me again.".into();
    }
    let blocks = [selection.to_string()];
    let sel_doc = Document::new(&blocks);
    if sel_doc.sentences.len() > SUMMARY_SENTENCES {
        let picked = sel_doc.summarize(SUMMARY_SENTENCES, &[]);
        return format!("In short, the selection says:\n{}", bullets(&picked));
    }
    let related: Vec<&str> = doc
        .passages(&terms(selection), ANSWER_PASSAGES + 1)
        .into_iter()
        .filter(|p| !selection.contains(p.trim()))
        .take(ANSWER_PASSAGES)
        .collect();
    if related.is_empty() {
        format!(
            "You selected “{}”. I found nothing else on this page about it.",
            escape(selection)
        )
    } else {
        format!(
            "You selected “{}”. Elsewhere on this page:\n{}",
            escape(selection),
            bullets(&related)
        )
    }
}

fn question_answer(doc: &Document<'_>, page: &PageSnapshot, question: &str) -> String {
    let found = doc.passages(&terms(question), ANSWER_PASSAGES);
    if !found.is_empty() {
        return format!(
            "From this page, about “{}”:\n{}",
            escape(question),
            bullets(&found)
        );
    }
    let picked = doc.summarize(SUMMARY_SENTENCES.min(3), &terms(&page.title));
    if picked.is_empty() {
        "I couldn't find any readable text on this page.".into()
    } else {
        format!(
            "I couldn't find anything on this page about “{}”. The page covers:\n{}",
            escape(question),
            bullets(&picked)
        )
    }
}

/// The most central sentences of `page`, at most `k`, in reading order.
pub fn summarize(page: &PageSnapshot, k: usize) -> Vec<String> {
    Document::new(&page.blocks)
        .summarize(k, &terms(&page.title))
        .into_iter()
        .map(String::from)
        .collect()
}

/// The sentences of `page` most relevant to `query` (BM25), at most `k`, in
/// reading order.
pub fn passages(page: &PageSnapshot, query: &str, k: usize) -> Vec<String> {
    Document::new(&page.blocks)
        .passages(&terms(query), k)
        .into_iter()
        .map(String::from)
        .collect()
}

/// Cuts `text` into pieces of at least `min_chars` characters, ending at
/// What continues `partial`, an interrupted offline answer whose complete
/// text is `full`: the rest of `full` after the part already shown. The
/// shown part may start with a note (a fallback's explanation), so `full`'s
/// beginning is looked for inside it; when `partial` is not a prefix of the
/// answer at all, the whole answer follows.
pub fn continuation<'a>(full: &'a str, partial: &str) -> &'a str {
    if let Some(rest) = full.strip_prefix(partial) {
        return rest;
    }
    let head: String = full.chars().take(40).collect();
    if let Some(at) = partial.find(head.as_str()).filter(|_| !head.is_empty()) {
        let shown = &partial[at..];
        if let Some(rest) = full.strip_prefix(shown) {
            return rest;
        }
    }
    full
}

/// whitespace where possible; the pieces concatenate back to `text`.
pub fn stream_chunks(text: &str, min_chars: usize) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (i, c) in text.char_indices() {
        count += 1;
        if count >= min_chars.max(1) && c.is_whitespace() {
            let end = i + c.len_utf8();
            chunks.push(&text[start..end]);
            start = end;
            count = 0;
        }
    }
    if start < text.len() {
        chunks.push(&text[start..]);
    }
    chunks
}

struct Sentence<'a> {
    text: &'a str,
    terms: Vec<String>,
}

/// Sentences of a page with their terms and document frequencies.
struct Document<'a> {
    sentences: Vec<Sentence<'a>>,
    df: HashMap<String, usize>,
}

impl<'a> Document<'a> {
    fn new(blocks: &'a [String]) -> Self {
        let sentences: Vec<Sentence<'a>> = blocks
            .iter()
            .flat_map(|b| sentences(b))
            .filter(|s| word_count(s) >= 3)
            .map(|text| Sentence {
                text,
                terms: terms(text),
            })
            .filter(|s| !s.terms.is_empty())
            .collect();
        let mut df = HashMap::new();
        for s in &sentences {
            let mut seen: Vec<&String> = s.terms.iter().collect();
            seen.sort();
            seen.dedup();
            for t in seen {
                *df.entry(t.clone()).or_insert(0) += 1;
            }
        }
        Self { sentences, df }
    }

    fn idf(&self, term: &str) -> f64 {
        let n = self.sentences.len() as f64;
        let df = *self.df.get(term).unwrap_or(&0) as f64;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// Unit TF-IDF vector of sentence `i`.
    fn vector(&self, i: usize) -> HashMap<&str, f64> {
        let mut v: HashMap<&str, f64> = HashMap::new();
        for t in &self.sentences[i].terms {
            *v.entry(t.as_str()).or_insert(0.0) += 1.0;
        }
        for (t, w) in v.iter_mut() {
            *w *= self.idf(t);
        }
        let norm = v.values().map(|w| w * w).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.values_mut().for_each(|w| *w /= norm);
        }
        v
    }

    fn summarize(&self, k: usize, title_terms: &[String]) -> Vec<&'a str> {
        let n = self.sentences.len();
        if n <= k {
            return self.sentences.iter().map(|s| s.text).collect();
        }
        let vectors: Vec<_> = (0..n).map(|i| self.vector(i)).collect();
        let mut centroid: HashMap<&str, f64> = HashMap::new();
        for v in &vectors {
            for (t, w) in v {
                *centroid.entry(t).or_insert(0.0) += w;
            }
        }
        let dot = |a: &HashMap<&str, f64>, b: &HashMap<&str, f64>| -> f64 {
            a.iter().map(|(t, w)| w * b.get(t).unwrap_or(&0.0)).sum()
        };
        let mut scored: Vec<(usize, f64)> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| {
                // Similarity to every other sentence = v · (centroid − v).
                let centrality = dot(v, &centroid) - dot(v, v);
                let words = word_count(self.sentences[i].text);
                let length = match words {
                    0..=5 => 0.5,
                    6..=45 => 1.0,
                    _ => 0.7,
                };
                let lead = 1.0 + 0.25 / (1.0 + i as f64 / 3.0);
                let title = if title_terms.is_empty() {
                    1.0
                } else {
                    let hits = title_terms
                        .iter()
                        .filter(|t| self.sentences[i].terms.contains(t))
                        .count();
                    1.0 + 0.3 * hits as f64 / title_terms.len() as f64
                };
                (i, centrality.max(0.0) * length * lead * title)
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut picked: Vec<usize> = Vec::new();
        for (i, _) in scored {
            if picked.len() == k {
                break;
            }
            // Skip near-duplicates of what is already picked.
            if picked.iter().all(|&j| dot(&vectors[i], &vectors[j]) < 0.7) {
                picked.push(i);
            }
        }
        picked.sort_unstable();
        picked.into_iter().map(|i| self.sentences[i].text).collect()
    }

    fn passages(&self, query: &[String], k: usize) -> Vec<&'a str> {
        const K1: f64 = 1.2;
        const B: f64 = 0.75;
        if query.is_empty() || self.sentences.is_empty() {
            return Vec::new();
        }
        let avg_len = self
            .sentences
            .iter()
            .map(|s| s.terms.len() as f64)
            .sum::<f64>()
            / self.sentences.len() as f64;
        let mut q: Vec<&String> = query.iter().collect();
        q.sort();
        q.dedup();
        let mut scored: Vec<(usize, f64)> = self
            .sentences
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let len = s.terms.len() as f64;
                let score = q
                    .iter()
                    .map(|t| {
                        let tf = s.terms.iter().filter(|x| x == t).count() as f64;
                        if tf == 0.0 {
                            0.0
                        } else {
                            self.idf(t) * tf * (K1 + 1.0)
                                / (tf + K1 * (1.0 - B + B * len / avg_len))
                        }
                    })
                    .sum::<f64>();
                (i, score)
            })
            .filter(|(_, s)| *s > 0.0)
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(k);
        scored.sort_by_key(|(i, _)| *i);
        scored
            .into_iter()
            .map(|(i, _)| self.sentences[i].text)
            .collect()
    }
}

/// The offline answer in the voice of the user's `personality`
/// (`agent.personality`), as far as an answer made of the page's own
/// sentences allows: concise keeps the first line and two points, playful
/// opens lightly, teacher ends with a question to check understanding;
/// helpful is the answer as it is.
///
/// ```
/// use paperclip_core::offline::in_voice;
/// use paperclip_core::prefs::Personality;
/// let answer = "Summary of “Clips”:\n• One.\n• Two.\n• Three.";
/// assert_eq!(in_voice(answer, Personality::Concise), "Summary of “Clips”:\n• One.\n• Two.");
/// assert!(in_voice(answer, Personality::Teacher).ends_with('?'));
/// ```
pub fn in_voice(answer: &str, personality: crate::prefs::Personality) -> String {
    use crate::prefs::Personality;
    match personality {
        Personality::Helpful => answer.to_string(),
        Personality::Concise => {
            let mut lines = answer.lines();
            let first = lines.next().unwrap_or_default();
            let points: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).take(2).collect();
            std::iter::once(first)
                .chain(points)
                .collect::<Vec<_>>()
                .join("\n")
        }
        Personality::Playful => format!("Here's what I dug up from the page! {answer}"),
        Personality::Teacher => format!(
            "{answer}\n\nTo check your understanding: which of these points answers your question best, and why?"
        ),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_offline_answer_speaks_in_the_chosen_voice() {
        use crate::prefs::Personality;
        let answer = "Summary of “Clips”:\n• One.\n• Two.\n• Three.";
        assert_eq!(in_voice(answer, Personality::Helpful), answer);
        assert_eq!(
            in_voice(answer, Personality::Concise),
            "Summary of “Clips”:\n• One.\n• Two."
        );
        assert!(in_voice(answer, Personality::Playful).starts_with("Here's what I dug up"));
        let teacher = in_voice(answer, Personality::Teacher);
        assert!(teacher.starts_with(answer) && teacher.ends_with("and why?"));
        assert_eq!(
            in_voice("Just one line.", Personality::Concise),
            "Just one line."
        );
    }

    use super::*;

    fn article() -> PageSnapshot {
        PageSnapshot {
            url: "https://news.test/bridge".into(),
            title: "City opens new suspension bridge".into(),
            selection: String::new(),
            headings: vec!["City opens new suspension bridge".into()],
            blocks: vec![
                "The city opened its new suspension bridge over the river on Monday.".into(),
                "The bridge took four years to build and cost 300 million euros.".into(),
                "Cookie settings. Subscribe now.".into(),
                "Engineers designed the suspension bridge to withstand strong winds and earthquakes.".into(),
                "Local bakeries reported record sales of croissants during the opening weekend.".into(),
                "Traffic across the river is expected to fall by a third now that the bridge is open.".into(),
                "The mayor thanked the workers who built the bridge.".into(),
            ],
            ..PageSnapshot::default()
        }
    }

    #[test]
    fn page_words_never_become_markdown_in_an_answer() {
        let mut page = article();
        page.title = "[Report](https://evil.example/?d=1)".into();
        page.blocks.push(
            "The bridge report is at <https://evil.example/?d=2> and [here](https://evil.example/?d=3).".into(),
        );
        page.selection = "**the bridge** [x](https://evil.example/?d=4)".into();
        for (question, action) in [
            ("", Some(QuickAction::SummarizePage)),
            ("Where is the bridge report?", None),
            ("", Some(QuickAction::ExplainSelection)),
            ("", Some(QuickAction::TranslateSelection)),
            ("[q](https://evil.example/?d=5)", None),
        ] {
            let text = answer(question, action, &page);
            let doc = crate::markdown::parse(&text);
            let shown = format!("{doc:?}");
            assert!(
                !shown.contains("Link") && !shown.contains("Strong"),
                "{text}\n{shown}"
            );
        }
        let summary = answer("", Some(QuickAction::SummarizePage), &page);
        assert!(
            crate::markdown::plain_text(&crate::markdown::parse(&summary))
                .contains("[Report](https://evil.example/?d=1)"),
            "the title reads as it is: {summary}"
        );
    }

    #[test]
    fn summary_picks_central_sentences_in_order() {
        let page = article();
        let got = summarize(&page, 3);
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|s| s.contains("bridge")), "{got:?}");
        // Reading order is kept.
        let pos: Vec<usize> = got
            .iter()
            .map(|s| {
                page.blocks
                    .iter()
                    .position(|b| b.contains(s.as_str()))
                    .unwrap()
            })
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
    }

    #[test]
    fn question_finds_the_relevant_passage() {
        let got = passages(&article(), "How much did the bridge cost?", 1);
        assert_eq!(
            got,
            vec!["The bridge took four years to build and cost 300 million euros."]
        );
        let text = answer("what about the croissants?", None, &article());
        assert!(text.contains("record sales of croissants"), "{text}");
    }

    #[test]
    fn unknown_topic_says_so_and_offers_a_summary() {
        let text = answer("quantum chromodynamics", None, &article());
        assert!(text.starts_with("I couldn't find anything"), "{text}");
        assert!(text.contains("•"));
    }

    #[test]
    fn intents() {
        assert_eq!(intent("Summarize this page", None), Intent::Summarize);
        assert_eq!(intent("tl;dr?", None), Intent::Summarize);
        assert_eq!(
            intent("anything", Some(QuickAction::ExplainSelection)),
            Intent::ExplainSelection
        );
        assert_eq!(
            intent("who built it", None),
            Intent::Question("who built it")
        );
    }

    #[test]
    fn selection_answers() {
        let mut page = article();
        assert!(
            answer("x", Some(QuickAction::ExplainSelection), &page).starts_with("Select some text")
        );
        page.selection = "suspension bridge".into();
        let text = answer("x", Some(QuickAction::ExplainSelection), &page);
        assert!(text.contains("Engineers designed"), "{text}");
    }

    #[test]
    fn empty_page() {
        let page = PageSnapshot::default();
        assert_eq!(
            answer("Summarize this page", None, &page),
            "I couldn't find any readable text on this page."
        );
        assert_eq!(
            answer("why?", None, &page),
            "I couldn't find any readable text on this page."
        );
    }

    #[test]
    fn chunks_cut_at_whitespace() {
        assert_eq!(stream_chunks("ab cd ef", 2), vec!["ab ", "cd ", "ef"]);
        assert_eq!(stream_chunks("", 3), Vec::<&str>::new());
    }

    proptest::proptest! {
        #[test]
        fn chunks_concatenate_back(text in "\\PC{0,300}", n in 0usize..40) {
            proptest::prop_assert_eq!(stream_chunks(&text, n).concat(), text);
        }

        #[test]
        fn answers_never_panic_and_quote_only_the_page(
            blocks in proptest::collection::vec("[a-z ]{0,80}[.!?]", 0..20),
            q in "\\PC{0,40}",
        ) {
            let page = PageSnapshot { blocks: blocks.clone(), ..Default::default() };
            let _ = answer(&q, None, &page);
            for s in summarize(&page, 3) {
                proptest::prop_assert!(blocks.iter().any(|b| b.contains(&s)));
            }
        }
    }

    #[test]
    fn continuation_finds_what_was_shown() {
        let full = "The first sentence of the answer is here. Then more follows.";
        assert_eq!(
            continuation(full, "The first"),
            " sentence of the answer is here. Then more follows."
        );
        assert_eq!(continuation(full, ""), full);
        assert_eq!(continuation(full, full), "");
        let noted = format!(
            "Local failed. Answering from the page instead:\n\n{}",
            &full[..45]
        );
        assert_eq!(continuation(full, &noted), &full[45..]);
        assert_eq!(continuation(full, "something else"), full);
    }

    #[test]
    fn translation_needs_a_provider_and_a_selection() {
        let mut page = PageSnapshot {
            selection: "Bonjour".into(),
            ..Default::default()
        };
        let a = answer(
            "Translate the selection into my language (en-US)",
            Some(QuickAction::TranslateSelection),
            &page,
        );
        assert!(
            a.contains("needs an AI provider") && a.contains("Bonjour"),
            "{a}"
        );
        page.selection.clear();
        let a = answer("x", Some(QuickAction::TranslateSelection), &page);
        assert!(a.starts_with("Select some text"), "{a}");
        assert_eq!(
            QuickAction::AskAboutSelection.question(" why? ", "fr"),
            "About the selection: why?"
        );
        assert_eq!(
            QuickAction::TranslateSelection.question("", "fr-FR"),
            "Translate the selection into my language (fr-FR)"
        );
    }

    #[test]
    fn a_cut_page_says_so_under_its_summary() {
        let mut page = PageSnapshot {
            title: "Paper clips".into(),
            blocks: vec![
                "A paper clip holds sheets of paper together.".into(),
                "It is bent from steel wire.".into(),
            ],
            ..Default::default()
        };
        let whole = answer("Summarize this page", None, &page);
        assert!(!whole.contains(crate::page::CUT_NOTE), "{whole}");
        page.cut = true;
        let cut = answer("Summarize this page", None, &page);
        assert!(
            cut.ends_with(&format!("*{}*", crate::page::CUT_NOTE)),
            "{cut}"
        );
    }
}
