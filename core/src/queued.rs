//! Questions that wait for the network: when every provider of the chain
//! could not be reached (no network, the server down), the user gets the
//! offline answer at once and the question waits here, with the request it
//! would have sent; once a provider answers again its answer is added to
//! the same conversation, once (its id is derived from the question's).
//!
//! The queue is bounded ([`MAX_QUEUED`] questions, [`MAX_REQUEST_CHARS`]
//! per request, [`MAX_WAIT_MS`] of waiting) and what is read back from
//! storage is checked like any other input.
//!
//! ```
//! use paperclip_core::queued::{should_queue, Queue, Queued};
//! use paperclip_core::resilience::FailureKind;
//! assert!(should_queue(&[FailureKind::Network], true, false));
//! assert!(!should_queue(&[], true, false), "no provider was tried");
//! let mut queue = Queue::default();
//! let q = Queued::example("q1", "c1");
//! assert!(queue.push(q.clone(), 0).is_ok());
//! assert!(queue.push(q, 0).is_ok(), "the same question is kept once");
//! assert_eq!(queue.items.len(), 1);
//! ```

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::conversation::Role;
use crate::provider::{ChatMessage, ChatRequest};
use crate::resilience::FailureKind;

/// At most this many questions wait; more are answered offline only.
pub const MAX_QUEUED: usize = 20;
/// A waiting request (instructions and messages) holds at most this many
/// characters.
pub const MAX_REQUEST_CHARS: usize = 200_000;
/// A question waits at most a week; then it is dropped (its offline answer
/// stays).
pub const MAX_WAIT_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// The question's excerpt the agent shows.
pub const EXCERPT_CHARS: usize = 80;

/// Whether a question whose providers failed with `failures` (one per
/// provider tried, in order) waits for the network: at least one provider
/// was unreachable (no answer at all, or a timeout) and every other one
/// was too or could not be asked (the extension's own guards refused), or
/// the browser says it is offline. The shell reports a breaker that is
/// open after unreachable attempts as the failure that opened it, so a
/// breaker opened by server errors (or a rate limit, a full bulkhead)
/// alone never makes a question wait. Not in a private window (`private`:
/// nothing of it may be written).
pub fn should_queue(failures: &[FailureKind], online: bool, private: bool) -> bool {
    if private || failures.is_empty() {
        return false;
    }
    let unreachable = |k: &FailureKind| matches!(k, FailureKind::Network | FailureKind::Timeout(_));
    !online
        || (failures.iter().any(unreachable)
            && failures
                .iter()
                .all(|k| unreachable(k) || *k == FailureKind::Refused))
}

/// One message of a waiting request.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
}

/// A question waiting for the network.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Queued {
    /// The user's message (its id).
    pub question_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// The conversation's site.
    pub site: String,
    /// The question, as the user asked it.
    pub question: String,
    /// The provider it waits for (its label, for the notice).
    pub provider: String,
    /// When it started waiting (ms since the epoch).
    pub queued_ms: u64,
    /// The request's instructions.
    pub system: Option<String>,
    /// The request's messages.
    pub messages: Vec<QueuedMessage>,
    /// The request's answer length limit.
    pub max_tokens: Option<u32>,
}

/// Why a question was not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotQueued {
    /// [`MAX_QUEUED`] questions already wait.
    Full,
    /// The request is larger than [`MAX_REQUEST_CHARS`] or its ids are
    /// not valid.
    Invalid(&'static str),
}

impl Queued {
    /// `question` (message `question_id` of conversation
    /// `conversation_id` on `site`) waiting for `provider` with `request`.
    pub fn new(
        question_id: &str,
        conversation_id: &str,
        site: &str,
        question: &str,
        provider: &str,
        request: &ChatRequest,
        now_ms: u64,
    ) -> Self {
        Self {
            question_id: question_id.into(),
            conversation_id: conversation_id.into(),
            site: site.into(),
            question: question.into(),
            provider: provider.into(),
            queued_ms: now_ms,
            system: request.system.clone(),
            messages: request
                .messages
                .iter()
                .map(|m| QueuedMessage {
                    role: m.role,
                    content: m.content.clone(),
                })
                .collect(),
            max_tokens: request.max_tokens,
        }
    }

    /// A small waiting question, for examples and tests.
    pub fn example(question_id: &str, conversation_id: &str) -> Self {
        let request = ChatRequest::new(vec![ChatMessage::new(Role::User, "What is this?")]);
        Self::new(
            question_id,
            conversation_id,
            "https://example.test",
            "What is this?",
            "Fake",
            &request,
            0,
        )
    }

    /// The request to send now.
    pub fn request(&self) -> ChatRequest {
        ChatRequest {
            system: self.system.clone(),
            messages: self
                .messages
                .iter()
                .map(|m| ChatMessage::new(m.role, m.content.clone()))
                .collect(),
            max_tokens: self.max_tokens,
            temperature: None,
        }
    }

    /// The id of its answer: derived from the question's, so that an
    /// answer stored twice (two wake-ups racing) is one message.
    pub fn answer_id(&self) -> String {
        answer_id(&self.question_id)
    }

    /// What the agent shows of it.
    pub fn view(&self) -> QueuedView {
        QueuedView {
            question_id: self.question_id.clone(),
            excerpt: excerpt(&self.question),
            provider: self.provider.clone(),
            queued_ms: self.queued_ms,
        }
    }

    /// The line above its answer, once it came.
    pub fn answer_heading(&self) -> String {
        format!(
            "*Answer to “{}”, which waited for the network:*\n\n",
            crate::markdown::escape(&excerpt(&self.question))
        )
    }

    fn check(&self) -> Result<(), NotQueued> {
        let id_ok = |id: &str| crate::conversation::valid_message_id(id);
        if !id_ok(&self.question_id) || !id_ok(&self.conversation_id) {
            return Err(NotQueued::Invalid("an id is not valid"));
        }
        let chars = self.system.as_deref().map_or(0, str::len)
            + self.messages.iter().map(|m| m.content.len()).sum::<usize>()
            + self.question.len()
            + self.site.len()
            + self.provider.len();
        if chars > MAX_REQUEST_CHARS {
            return Err(NotQueued::Invalid("the request is too large to keep"));
        }
        if self.messages.is_empty() {
            return Err(NotQueued::Invalid("the request has no messages"));
        }
        Ok(())
    }
}

/// The sentence an offline answer ends with when its question waits for
/// `provider`.
pub fn notice(provider: &str) -> String {
    format!(
        "*{} could not be reached: your question waits for the network, and its answer will be added here once {} answers again (or press Cancel under the conversation).*",
        crate::markdown::escape(provider),
        crate::markdown::escape(provider)
    )
}

/// The sentence an offline answer ends with when too many questions wait.
pub fn full_notice() -> String {
    format!("*{MAX_QUEUED} questions already wait for the network: this one does not; ask it again later.*")
}

/// The id of the answer to waiting question `question_id`.
pub fn answer_id(question_id: &str) -> String {
    format!("late-{:016x}", xxh3_64(question_id.as_bytes()))
}

fn excerpt(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= EXCERPT_CHARS {
        return line;
    }
    let cut: String = line.chars().take(EXCERPT_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// What the agent shows of a waiting question.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct QueuedView {
    /// The user's message.
    pub question_id: String,
    /// The start of the question.
    pub excerpt: String,
    /// The provider it waits for.
    pub provider: String,
    /// Since when (ms since the epoch).
    pub queued_ms: u64,
}

/// The waiting questions, oldest first.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Queue {
    /// The questions.
    pub items: Vec<Queued>,
}

impl Queue {
    /// Reads a stored queue: entries that are not valid, or waited too
    /// long, are dropped; at most [`MAX_QUEUED`] are kept.
    pub fn restore(mut self, now_ms: u64) -> Self {
        self.items.retain(|q| q.check().is_ok());
        self.expire(now_ms);
        let mut seen = std::collections::HashSet::new();
        self.items.retain(|q| seen.insert(q.question_id.clone()));
        self.items.truncate(MAX_QUEUED);
        self
    }

    /// Keeps `queued` (once: the same question again replaces it).
    pub fn push(&mut self, queued: Queued, now_ms: u64) -> Result<(), NotQueued> {
        queued.check()?;
        self.expire(now_ms);
        if let Some(old) = self
            .items
            .iter_mut()
            .find(|q| q.question_id == queued.question_id)
        {
            *old = queued;
            return Ok(());
        }
        if self.items.len() >= MAX_QUEUED {
            return Err(NotQueued::Full);
        }
        self.items.push(queued);
        Ok(())
    }

    /// Removes question `question_id`; whether it was there.
    pub fn remove(&mut self, question_id: &str) -> Option<Queued> {
        let at = self
            .items
            .iter()
            .position(|q| q.question_id == question_id)?;
        Some(self.items.remove(at))
    }

    /// Drops what waited longer than [`MAX_WAIT_MS`]; how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let before = self.items.len();
        self.items
            .retain(|q| now_ms.saturating_sub(q.queued_ms) <= MAX_WAIT_MS);
        before - self.items.len()
    }

    /// Drops the questions of `site` (or of every site); how many.
    pub fn forget_site(&mut self, site: Option<&str>) -> usize {
        let before = self.items.len();
        self.items.retain(|q| site.is_some_and(|s| s != q.site));
        before - self.items.len()
    }

    /// Drops the questions of conversation `id`; how many.
    pub fn forget_conversation(&mut self, id: &str) -> usize {
        let before = self.items.len();
        self.items.retain(|q| q.conversation_id != id);
        before - self.items.len()
    }

    /// What the agent showing conversation `id` lists.
    pub fn views(&self, conversation_id: Option<&str>) -> Vec<QueuedView> {
        self.items
            .iter()
            .filter(|q| Some(q.conversation_id.as_str()) == conversation_id)
            .map(Queued::view)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::limits::TimeoutKind;
    use proptest::prelude::*;

    #[test]
    fn only_unreachable_providers_make_a_question_wait() {
        use FailureKind::*;
        assert!(should_queue(&[Network, Network], true, false));
        assert!(should_queue(
            &[Timeout(TimeoutKind::FirstByte), Refused],
            true,
            false
        ));
        let http = Http {
            status: 401,
            retry_after_ms: None,
        };
        assert!(
            !should_queue(&[http], true, false),
            "a refusal is not the network"
        );
        assert!(!should_queue(&[Network, Malformed], true, false));
        assert!(
            !should_queue(&[Refused], true, false),
            "a breaker opened by server errors, a rate limit: not the network"
        );
        assert!(!should_queue(&[Refused, Refused], true, false));
        assert!(
            should_queue(&[http], false, false),
            "the browser is offline"
        );
        assert!(
            !should_queue(&[Network], false, true),
            "private windows keep nothing"
        );
        assert!(!should_queue(&[], false, false), "no provider configured");
    }

    #[test]
    fn the_queue_is_bounded_and_keeps_a_question_once() {
        let mut queue = Queue::default();
        for i in 0..MAX_QUEUED {
            queue
                .push(Queued::example(&format!("q{i}"), "c"), 0)
                .unwrap();
        }
        assert_eq!(
            queue.push(Queued::example("one-more", "c"), 0),
            Err(NotQueued::Full)
        );
        assert!(queue.push(Queued::example("q3", "c"), 0).is_ok());
        assert_eq!(queue.items.len(), MAX_QUEUED);
        assert_eq!(queue.remove("q3").map(|q| q.question_id), Some("q3".into()));
        assert_eq!(queue.remove("q3"), None);
    }

    #[test]
    fn bad_entries_are_refused_and_dropped_on_restore() {
        let mut queue = Queue::default();
        let mut big = Queued::example("big", "c");
        big.messages[0].content = "x".repeat(MAX_REQUEST_CHARS + 1);
        assert!(matches!(
            queue.push(big.clone(), 0),
            Err(NotQueued::Invalid(_))
        ));
        let mut bad_id = Queued::example("a b", "c");
        bad_id.question_id = "<img>".into();
        let restored = Queue {
            items: vec![
                big,
                bad_id,
                Queued::example("ok", "c"),
                Queued::example("ok", "c"),
            ],
        }
        .restore(0);
        assert_eq!(restored.items.len(), 1);
        assert_eq!(restored.items[0].question_id, "ok");
    }

    #[test]
    fn old_questions_expire_and_deletion_forgets() {
        let mut queue = Queue::default();
        let mut a = Queued::example("a", "c1");
        a.site = "https://a.test".into();
        let mut b = Queued::example("b", "c2");
        b.site = "https://b.test".into();
        b.queued_ms = MAX_WAIT_MS;
        queue.push(a, 0).unwrap();
        queue.push(b, MAX_WAIT_MS).unwrap();
        assert_eq!(queue.views(Some("c2")).len(), 1);
        assert_eq!(queue.views(None).len(), 0);
        assert_eq!(queue.expire(MAX_WAIT_MS + 1), 1);
        assert_eq!(queue.forget_site(Some("https://a.test")), 0);
        assert_eq!(queue.forget_conversation("c2"), 1);
        queue.push(Queued::example("c", "c3"), 0).unwrap();
        assert_eq!(queue.forget_site(None), 1);
        assert!(queue.items.is_empty());
    }

    #[test]
    fn the_request_round_trips_and_the_answer_id_is_valid() {
        let q = Queued::example("q1", "c1");
        let request = q.request();
        assert_eq!(
            Queued::new("q1", "c1", &q.site, &q.question, "Fake", &request, 0),
            q
        );
        assert!(crate::conversation::valid_message_id(&q.answer_id()));
        assert_eq!(q.answer_id(), answer_id("q1"));
        assert_ne!(answer_id("q1"), answer_id("q2"));
        let json = serde_json::to_string(&Queue { items: vec![q] }).unwrap();
        let back: Queue = serde_json::from_str(&json).unwrap();
        assert_eq!(back.items.len(), 1);
    }

    #[test]
    fn the_heading_escapes_the_question() {
        let mut q = Queued::example("q1", "c1");
        q.question = "what is *this* [link](javascript:x)".repeat(5);
        let heading = q.answer_heading();
        assert!(!heading.contains("[link](javascript"), "{heading}");
        assert!(q.view().excerpt.chars().count() <= EXCERPT_CHARS);
    }

    proptest! {
        #[test]
        fn never_more_than_the_bound(ids in proptest::collection::vec("[a-z0-9]{1,8}", 0..60)) {
            let mut queue = Queue::default();
            for id in &ids {
                let _ = queue.push(Queued::example(id, "c"), 0);
            }
            prop_assert!(queue.items.len() <= MAX_QUEUED);
            let mut seen = std::collections::HashSet::new();
            prop_assert!(queue.items.iter().all(|q| seen.insert(q.question_id.clone())));
        }
    }
}
