//! The answer chain, decided here and performed by the background: which
//! step comes next ([`Plan`]), where each answer comes from
//! ([`AnswerSource`]), which request goes to a provider ([`request`]), what
//! a provider's attempt amounts to ([`outcome`]), what may be kept as a
//! cached answer ([`cacheable`]) and which answer a "Continue" continues
//! ([`continuation`]).
//!
//! The chain: the primary provider, the fallback provider(s), an earlier
//! answer to the same question about the same page, then the offline
//! answer. A step runs only when the one before failed before any text
//! reached the user.
//!
//! ```
//! use paperclip_core::answer::{Plan, Step};
//! use paperclip_core::resilience::fallback::Degradation;
//!
//! let mut plan = Plan::new(vec!["Work".into(), "Local".into()], true);
//! assert!(matches!(plan.step(), Step::Provider { index: 0, .. }));
//! plan.failed("Work: the server answered 500".into());
//! let Step::Provider { index: 1, source } = plan.step() else { panic!() };
//! assert_eq!(source.level, Degradation::Fallback);
//! plan.failed("Local: not running".into());
//! assert_eq!(plan.step(), Step::LookUpCache);
//! plan.cache_missed();
//! let Step::Offline { source, preamble } = plan.step() else { panic!() };
//! assert_eq!(source.level, Degradation::Offline);
//! assert!(preamble.unwrap().starts_with("Work: the server answered 500; Local: not running."));
//! ```

use crate::conversation::{Message, MessageStatus, Role};
use crate::page::PageSnapshot;
use crate::provider::{prompt, ChatRequest};
pub use crate::resilience::fallback::{AnswerSource, CachedAnswer, Degradation, OFFLINE};

/// The next thing the background does for an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Ask provider `index` of the configured chain; its answer is
    /// labelled `source`.
    Provider {
        /// Position in the chain (0 is the primary).
        index: usize,
        /// Where the answer will have come from.
        source: AnswerSource,
    },
    /// Every provider failed: look for an earlier answer to the same
    /// question about the same page ([`Plan::serve_cached`] or
    /// [`Plan::cache_missed`] next).
    LookUpCache,
    /// Answer from the page (the offline provider), after `preamble` (why
    /// the providers could not answer) when there is one.
    Offline {
        /// Where the answer comes from.
        source: AnswerSource,
        /// The text before the offline answer.
        preamble: Option<String>,
    },
    /// The user stopped the answer before any text: tell the agent.
    Stopped,
}

/// The fallback chain for one answer, as a state machine: call
/// [`Plan::step`], perform the step, report how it went.
#[derive(Debug, Clone)]
pub struct Plan {
    providers: Vec<String>,
    next: usize,
    failures: Vec<String>,
    cache: Cache,
    stopped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cache {
    /// Not to be looked at (no TTL, a continuation, or an edited context).
    Off,
    /// To be looked at once every provider failed.
    Pending,
    /// Looked at, nothing there.
    Missed,
}

impl Plan {
    /// The chain over `providers` (their names, primary first); a cached
    /// answer may stand in for them when `cache_allowed`.
    pub fn new(providers: Vec<String>, cache_allowed: bool) -> Self {
        Self {
            providers,
            next: 0,
            failures: Vec::new(),
            cache: if cache_allowed {
                Cache::Pending
            } else {
                Cache::Off
            },
            stopped: false,
        }
    }

    /// What to do now.
    pub fn step(&mut self) -> Step {
        if self.stopped {
            return Step::Stopped;
        }
        if let Some(name) = self.providers.get(self.next) {
            let index = self.next;
            let level = if index == 0 {
                Degradation::Normal
            } else {
                Degradation::Fallback
            };
            self.next += 1;
            return Step::Provider {
                index,
                source: AnswerSource::new(name.clone(), level),
            };
        }
        if !self.failures.is_empty() && self.cache == Cache::Pending {
            return Step::LookUpCache;
        }
        if self.failures.is_empty() {
            Step::Offline {
                source: AnswerSource::new(OFFLINE, Degradation::Normal),
                preamble: None,
            }
        } else {
            Step::Offline {
                source: AnswerSource::new(OFFLINE, Degradation::Offline),
                preamble: Some(format!(
                    "{}. Answering from the page instead:\n\n",
                    self.why()
                )),
            }
        }
    }

    /// The provider step failed before any text reached the user.
    pub fn failed(&mut self, why: String) {
        self.failures.push(why);
    }

    /// The user stopped the answer.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// The cache had no answer.
    pub fn cache_missed(&mut self) {
        self.cache = Cache::Missed;
    }

    /// The cached answer to stream, and its source.
    pub fn serve_cached(&self, cached: &CachedAnswer, now_ms: u64) -> (AnswerSource, String) {
        let minutes = now_ms.saturating_sub(cached.answered_ms) / 60_000;
        let text = format!(
            "{}. Showing the answer {} gave {} ago:\n\n{}",
            self.why(),
            cached.provider,
            humanize_minutes(minutes),
            cached.text
        );
        (
            AnswerSource::new(cached.provider.clone(), Degradation::Cached),
            text,
        )
    }

    /// Why the providers could not answer.
    pub fn why(&self) -> String {
        self.failures.join("; ")
    }
}

fn humanize_minutes(minutes: u64) -> String {
    match minutes {
        0 => "less than a minute".into(),
        1 => "1 minute".into(),
        m if m < 120 => format!("{m} minutes"),
        m => format!("{} hours", m / 60),
    }
}

/// Whether a cached answer may stand in when every provider failed: the
/// cache is on (`ttl_ms`), and this is a new answer (not a continuation)
/// to the page as read (not to a context the user edited).
pub fn cache_allowed(ttl_ms: u64, continuing: bool, edited_context: bool) -> bool {
    ttl_ms > 0 && !continuing && !edited_context
}

/// Whether an answer is kept as the cached answer to its question: it is
/// complete, the cache is on, and it answered the page as read.
pub fn cacheable(status: MessageStatus, ttl_ms: u64, edited_context: bool) -> bool {
    status == MessageStatus::Complete && ttl_ms > 0 && !edited_context
}

/// What one question needs to become a provider's request.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// The personality's system prompt.
    pub system: &'a str,
    /// The page as the user allows it to be shared.
    pub page: &'a PageSnapshot,
    /// Complete messages before the question.
    pub history: &'a [Message],
    /// The question.
    pub question: &'a str,
    /// The interrupted answer being continued.
    pub partial: Option<&'a str>,
    /// The page context the user reviewed (and maybe edited) in the
    /// preview, sent verbatim.
    pub context: Option<&'a str>,
}

/// The request for `ask`: the continuation of an interrupted answer, a
/// question with the context the user reviewed, or a question about the
/// page.
pub fn request(ask: &Ask<'_>) -> ChatRequest {
    match (ask.partial, ask.context) {
        (Some(partial), _) => prompt::build_continuation(
            ask.system,
            ask.page,
            ask.history,
            ask.question,
            partial,
            prompt::DEFAULT_BUDGET_CHARS,
        ),
        (None, Some(context)) => prompt::build_with_context(
            ask.system,
            context,
            ask.history,
            ask.question,
            prompt::DEFAULT_BUDGET_CHARS,
        ),
        (None, None) => prompt::build(
            ask.system,
            ask.page,
            ask.history,
            ask.question,
            prompt::DEFAULT_BUDGET_CHARS,
        ),
    }
}

/// What a provider's attempt amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stopped by the user before any text: the chain stops.
    Stopped,
    /// Failed before any text: the chain moves on.
    Failed(String),
    /// Text reached the user: the answer is stored with `status`, and
    /// `error` (when set) is reported with the offer to Continue. Never
    /// retried.
    Answered {
        /// Complete, or interrupted.
        status: MessageStatus,
        /// Why it was cut off, when it was not the user.
        error: Option<String>,
    },
}

/// The longest answer kept, in characters. A provider that streams
/// without end (or a hostile one sending endless tiny pieces) is cut here:
/// the request is aborted and the answer ends with [`CUT_NOTICE`].
pub const MAX_ANSWER_CHARS: usize = 100_000;

/// The line that ends an answer cut at [`MAX_ANSWER_CHARS`].
pub const CUT_NOTICE: &str =
    "\n\n*[Cut here: the answer reached 100,000 characters, the most Paperclip keeps.]*";

/// How much of `piece` fits when `so_far` characters were kept: the part
/// that fits, and whether the limit was reached (then nothing more is
/// taken).
pub fn within_limit(so_far: usize, piece: &str) -> (&str, bool) {
    let room = MAX_ANSWER_CHARS.saturating_sub(so_far);
    match piece.char_indices().nth(room) {
        None => (piece, so_far + piece.chars().count() >= MAX_ANSWER_CHARS),
        Some((at, _)) => (&piece[..at], true),
    }
}

/// Decides [`Outcome`] from the attempt's result (`Err` with its error),
/// whether any text reached the user, and whether the user pressed Stop.
pub fn outcome(result: Result<(), String>, started: bool, stopped: bool) -> Outcome {
    match result {
        Ok(()) => Outcome::Answered {
            status: MessageStatus::Complete,
            error: None,
        },
        Err(_) if !started && stopped => Outcome::Stopped,
        Err(e) if !started => Outcome::Failed(e),
        Err(_) if stopped => Outcome::Answered {
            status: MessageStatus::Interrupted,
            error: None,
        },
        Err(e) => Outcome::Answered {
            status: MessageStatus::Interrupted,
            error: Some(e),
        },
    }
}

/// Where a "Continue" picks up: the interrupted answer and its question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// Index of the interrupted answer in the messages.
    pub answer: usize,
    /// Index of the question it answers.
    pub question: usize,
}

/// Finds the interrupted answer `message_id` and its question.
pub fn continuation(messages: &[Message], message_id: &str) -> Result<Continuation, &'static str> {
    let answer = messages
        .iter()
        .position(|m| {
            m.id == message_id
                && m.role == Role::Assistant
                && m.status == MessageStatus::Interrupted
        })
        .ok_or("that answer is not interrupted")?;
    let question = messages[..answer]
        .iter()
        .rposition(|m| m.role == Role::User)
        .ok_or("the question of that answer is missing")?;
    Ok(Continuation { answer, question })
}

/// Gathers a provider's pieces of text (often a word or less each) into
/// chunks for the agent: the `performance.stream_chunk_chars` preference,
/// which local answers (`offline::stream_chunks`) follow too. The first
/// piece goes at once (the user sees the answer start as soon as it does);
/// after it, a chunk goes when it has `min_chars` characters or when its
/// first piece has waited [`MAX_CHUNK_WAIT_MS`], so that a slow provider's
/// text is never held back for long. Time is an argument.
///
/// ```
/// use paperclip_core::answer::Chunker;
/// let mut chunker = Chunker::new(5);
/// assert_eq!(chunker.push("He", 0.0), Some("He".to_string()));
/// assert_eq!(chunker.push("ll", 10.0), None);
/// assert_eq!(chunker.push("o, ", 20.0), Some("llo, ".to_string()));
/// assert_eq!(chunker.push("y", 30.0), None);
/// assert_eq!(chunker.push("o", 200.0), Some("yo".to_string()));
/// assert_eq!(chunker.push("u", 210.0), None);
/// assert_eq!(chunker.finish(), Some("u".to_string()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Chunker {
    min_chars: usize,
    pending: String,
    count: usize,
    started: bool,
    first_ms: f64,
}

/// The longest a piece waits for more text before it is sent anyway.
pub const MAX_CHUNK_WAIT_MS: f64 = 80.0;

impl Chunker {
    /// Chunks of at least `min_chars` characters (1 at least).
    pub fn new(min_chars: u32) -> Self {
        Self {
            min_chars: (min_chars as usize).max(1),
            ..Self::default()
        }
    }

    /// Adds `piece`, arrived at `now_ms`; returns the chunk to send, if one
    /// is due.
    pub fn push(&mut self, piece: &str, now_ms: f64) -> Option<String> {
        if piece.is_empty() {
            return None;
        }
        if self.pending.is_empty() {
            self.first_ms = now_ms;
        }
        self.pending.push_str(piece);
        self.count += piece.chars().count();
        let due = !self.started
            || self.count >= self.min_chars
            || now_ms - self.first_ms >= MAX_CHUNK_WAIT_MS;
        self.started = true;
        due.then(|| self.take())
    }

    /// What is left to send at the end of the answer.
    pub fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> String {
        self.count = 0;
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn providers(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("P{i}")).collect()
    }

    fn provider(step: Step) -> (usize, AnswerSource) {
        match step {
            Step::Provider { index, source } => (index, source),
            other => panic!("expected a provider step, got {other:?}"),
        }
    }

    #[test]
    fn without_providers_the_offline_answer_is_normal() {
        let mut plan = Plan::new(vec![], true);
        assert_eq!(
            plan.step(),
            Step::Offline {
                source: AnswerSource::new(OFFLINE, Degradation::Normal),
                preamble: None
            }
        );
    }

    #[test]
    fn the_primary_answers() {
        let mut plan = Plan::new(providers(2), true);
        assert_eq!(
            provider(plan.step()),
            (0, AnswerSource::new("P0", Degradation::Normal))
        );
    }

    /// Every fault of the end-to-end matrix that fails before any text
    /// (500, 429 past the retries, reset, hang before headers, a malformed
    /// first chunk, an open breaker) is a failure of the step: the fallback
    /// answers, labelled.
    #[test]
    fn a_failure_before_text_falls_to_the_fallback() {
        for why in [
            "P0: the server answered 500",
            "P0: rate limited (429)",
            "P0: connection reset",
            "P0: no response within 2 s",
            "P0: the stream is malformed",
            "P0: paused after repeated failures",
        ] {
            let mut plan = Plan::new(providers(2), true);
            provider(plan.step());
            assert_eq!(
                outcome(Err(why.into()), false, false),
                Outcome::Failed(why.into())
            );
            plan.failed(why.into());
            assert_eq!(
                provider(plan.step()),
                (1, AnswerSource::new("P1", Degradation::Fallback))
            );
        }
    }

    #[test]
    fn when_every_provider_fails_the_cache_then_the_page_answer() {
        let mut plan = Plan::new(providers(2), true);
        provider(plan.step());
        plan.failed("P0: down".into());
        provider(plan.step());
        plan.failed("P1: down".into());
        assert_eq!(plan.step(), Step::LookUpCache);
        let cached = CachedAnswer {
            text: "Earlier.".into(),
            provider: "P0".into(),
            answered_ms: 0,
        };
        let (source, text) = plan.serve_cached(&cached, 5 * 60_000);
        assert_eq!(source, AnswerSource::new("P0", Degradation::Cached));
        assert_eq!(
            text,
            "P0: down; P1: down. Showing the answer P0 gave 5 minutes ago:\n\nEarlier."
        );
        plan.cache_missed();
        assert_eq!(
            plan.step(),
            Step::Offline {
                source: AnswerSource::new(OFFLINE, Degradation::Offline),
                preamble: Some("P0: down; P1: down. Answering from the page instead:\n\n".into())
            }
        );
    }

    #[test]
    fn without_a_cache_the_page_answers_at_once() {
        let mut plan = Plan::new(providers(1), false);
        provider(plan.step());
        plan.failed("P0: down".into());
        assert!(matches!(plan.step(), Step::Offline { .. }));
    }

    #[test]
    fn stop_ends_the_chain() {
        let mut plan = Plan::new(providers(2), true);
        provider(plan.step());
        assert_eq!(
            outcome(Err("aborted".into()), false, true),
            Outcome::Stopped
        );
        plan.stop();
        assert_eq!(plan.step(), Step::Stopped);
    }

    /// Faults after text reached the user (a stall past the idle timeout,
    /// a drop mid-stream, a cut inside UTF-8 with the retries spent) keep
    /// what arrived as interrupted, report why, and never try another
    /// provider; Stop keeps it without an error.
    #[test]
    fn after_text_the_answer_is_kept_never_retried() {
        assert_eq!(
            outcome(Err("P0: no data for 2 s".into()), true, false),
            Outcome::Answered {
                status: MessageStatus::Interrupted,
                error: Some("P0: no data for 2 s".into())
            }
        );
        assert_eq!(
            outcome(Err("aborted".into()), true, true),
            Outcome::Answered {
                status: MessageStatus::Interrupted,
                error: None
            }
        );
        assert_eq!(
            outcome(Ok(()), true, false),
            Outcome::Answered {
                status: MessageStatus::Complete,
                error: None
            }
        );
    }

    #[test]
    fn what_may_be_cached() {
        assert!(cache_allowed(60_000, false, false));
        assert!(!cache_allowed(0, false, false));
        assert!(!cache_allowed(60_000, true, false));
        assert!(!cache_allowed(60_000, false, true));
        assert!(cacheable(MessageStatus::Complete, 1, false));
        assert!(!cacheable(MessageStatus::Interrupted, 1, false));
        assert!(!cacheable(MessageStatus::Complete, 0, false));
        assert!(!cacheable(MessageStatus::Complete, 1, true));
    }

    #[test]
    fn the_request_follows_the_ask() {
        let page = PageSnapshot {
            title: "Clips".into(),
            ..Default::default()
        };
        let base = Ask {
            system: "Be brief.",
            page: &page,
            history: &[],
            question: "Why?",
            partial: None,
            context: None,
        };
        let text = |r: &ChatRequest| format!("{r:?}");
        assert!(text(&request(&base)).contains("Clips"));
        let edited = request(&Ask {
            context: Some("Only this."),
            ..base
        });
        assert!(text(&edited).contains("Only this.") && !text(&edited).contains("Clips"));
        let cont = request(&Ask {
            partial: Some("Because the wi"),
            ..base
        });
        assert!(text(&cont).contains("Because the wi"));
    }

    #[test]
    fn continue_finds_the_interrupted_answer_and_its_question() {
        let m = |id: &str, role, status| Message {
            status,
            ..Message::complete(id.into(), role, id.into(), 0.0)
        };
        let messages = [
            m("q1", Role::User, MessageStatus::Complete),
            m("a1", Role::Assistant, MessageStatus::Complete),
            m("q2", Role::User, MessageStatus::Complete),
            m("a2", Role::Assistant, MessageStatus::Interrupted),
        ];
        assert_eq!(
            continuation(&messages, "a2"),
            Ok(Continuation {
                answer: 3,
                question: 2
            })
        );
        assert_eq!(
            continuation(&messages, "a1"),
            Err("that answer is not interrupted")
        );
        assert_eq!(
            continuation(&messages[3..], "a2"),
            Err("the question of that answer is missing")
        );
    }

    #[test]
    fn answers_are_cut_at_the_limit() {
        assert_eq!(within_limit(0, "abc"), ("abc", false));
        assert_eq!(within_limit(MAX_ANSWER_CHARS - 2, "abc"), ("ab", true));
        assert_eq!(within_limit(MAX_ANSWER_CHARS - 3, "abc"), ("abc", true));
        assert_eq!(within_limit(MAX_ANSWER_CHARS, "abc"), ("", true));
        assert_eq!(
            within_limit(MAX_ANSWER_CHARS - 1, "éé"),
            ("é", true),
            "on a character boundary"
        );
    }

    proptest::proptest! {
        #[test]
        fn chunks_keep_every_character_in_order(
            pieces in proptest::collection::vec(("[a-zé ]{0,7}", 0u32..200), 0..40),
            min in 1u32..30,
        ) {
            let mut chunker = Chunker::new(min);
            let mut now = 0.0;
            let mut chunks: Vec<String> = Vec::new();
            // When the text waiting now first arrived.
            let mut waiting_since: Option<f64> = None;
            for (piece, gap) in &pieces {
                now += f64::from(*gap);
                if !piece.is_empty() && waiting_since.is_none() {
                    waiting_since = Some(now);
                }
                if let Some(chunk) = chunker.push(piece, now) {
                    // Short only when it is the first, or waited long enough.
                    let waited = now - waiting_since.unwrap_or(now);
                    proptest::prop_assert!(
                        chunks.is_empty()
                            || chunk.chars().count() >= min as usize
                            || waited >= MAX_CHUNK_WAIT_MS,
                        "{chunk:?} after {waited} ms"
                    );
                    chunks.push(chunk);
                    waiting_since = None;
                }
            }
            chunks.extend(chunker.finish());
            let all: String = pieces.iter().map(|(p, _)| p.as_str()).collect();
            proptest::prop_assert_eq!(chunks.concat(), all);
            proptest::prop_assert!(chunks.iter().all(|c| !c.is_empty()));
        }
    }

    proptest::proptest! {
        #[test]
        fn the_kept_text_never_passes_the_limit(pieces in proptest::collection::vec(".{0,40}", 0..200), start in 0usize..MAX_ANSWER_CHARS) {
            let mut kept = start;
            for piece in &pieces {
                let (take, cut) = within_limit(kept, piece);
                proptest::prop_assert!(piece.starts_with(take));
                kept += take.chars().count();
                proptest::prop_assert!(kept <= MAX_ANSWER_CHARS);
                if cut {
                    proptest::prop_assert_eq!(kept, MAX_ANSWER_CHARS);
                    break;
                }
            }
        }
    }
}
