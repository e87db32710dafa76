//! The agent's chat state as a pure machine: [`ChatState::apply`] folds each
//! [`BgToAgent`] message into what the chat shows.
//!
//! ```
//! use paperclip_core::chat::ChatState;
//! use paperclip_core::protocol::BgToAgent;
//! let mut chat = ChatState::default();
//! chat.apply(BgToAgent::AnswerStart { message_id: "a".into(), provider: "offline".into(), level: Default::default() });
//! chat.apply(BgToAgent::AnswerChunk { message_id: "a".into(), text: "Hel".into() });
//! chat.apply(BgToAgent::AnswerChunk { message_id: "a".into(), text: "lo".into() });
//! assert_eq!(chat.messages[0].text, "Hello");
//! assert!(chat.is_streaming());
//! ```

use crate::conversation::{Message, MessageStatus, Role};
use crate::protocol::BgToAgent;
use crate::resilience::fallback::Degradation;

/// What the chat shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatState {
    /// True once the background sent the history.
    pub ready: bool,
    /// The site the conversation belongs to.
    pub site: String,
    /// False when history will not persist (storage in memory).
    pub persistent: bool,
    /// True in a private window (kept in memory only, by design).
    pub private: bool,
    /// Messages in order.
    pub messages: Vec<Message>,
    /// Id of the answer streaming now.
    pub streaming: Option<String>,
    /// The last error, shown until the next message.
    pub error: Option<String>,
    /// The user asked and no answer has started yet.
    pub waiting: bool,
    /// Where the latest answer came from in the fallback chain.
    pub level: Degradation,
    /// What the question being previewed would send, while the preview is
    /// open.
    pub preview: Option<ContextPreview>,
    /// The character the user chose.
    pub look: crate::prefs::Character,
    /// How the agent looks (theme, font scale, motion).
    pub appearance: crate::prefs::Appearance,
    /// The quick action the next typed question is for (the user chose
    /// "Ask about selection").
    pub compose: Option<crate::protocol::QuickAction>,
    /// This site's conversations and the open one's id, while the list is
    /// open.
    pub conversations: Option<(
        Vec<crate::conversation::ConversationSummary>,
        Option<String>,
    )>,
    /// The proactive hint on offer, until taken or dismissed.
    pub hint: Option<crate::hints::Hint>,
    /// The user's own quick actions, shown as buttons.
    pub actions: Vec<crate::quick::CustomAction>,
    /// The conversation's questions waiting for the network.
    pub queued: Vec<crate::queued::QueuedView>,
    /// The on-device task in progress: the answer's id, the task, and
    /// whether a model download may be offered.
    pub on_device: Option<(String, crate::on_device::Task, bool)>,
}

/// What asking would send, as the preview shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextPreview {
    /// The provider that would receive it; `None`: nothing leaves the
    /// browser (the offline provider answers).
    pub destination: Option<String>,
    /// The page context that would be sent.
    pub context: String,
}

impl ChatState {
    /// True while an answer streams.
    pub fn is_streaming(&self) -> bool {
        self.streaming.is_some()
    }

    /// True when the user may send.
    pub fn can_send(&self) -> bool {
        self.ready && !self.waiting && self.streaming.is_none()
    }

    /// Marks that the user sent a question.
    pub fn asked(&mut self) {
        self.waiting = true;
        self.error = None;
        self.preview = None;
        self.compose = None;
        // Asking anything answers the hint (taken or ignored).
        self.hint = None;
    }

    /// The user dismissed the hint.
    pub fn dismiss_hint(&mut self) {
        self.hint = None;
    }

    /// The on-device task `message_id` ended (answered or declined).
    pub fn on_device_done(&mut self, message_id: &str) {
        if self
            .on_device
            .as_ref()
            .is_some_and(|(id, ..)| id == message_id)
        {
            self.on_device = None;
        }
    }

    /// Sets (or clears) the quick action the next typed question is for.
    pub fn compose(&mut self, action: Option<crate::protocol::QuickAction>) {
        self.compose = action;
    }

    /// Closes the preview without sending.
    pub fn close_preview(&mut self) {
        self.preview = None;
    }

    /// Closes the conversation list.
    pub fn close_conversations(&mut self) {
        self.conversations = None;
    }

    /// The interrupted answer the user may continue: the last message, when
    /// it is an interrupted answer and nothing is in progress.
    pub fn continuable(&self) -> Option<&Message> {
        let last = self.messages.last()?;
        (self.can_send()
            && last.role == Role::Assistant
            && last.status == MessageStatus::Interrupted)
            .then_some(last)
    }

    /// The question the user may retry: the last message, when it is the
    /// user's and was never answered (the ask failed or was stopped).
    pub fn retryable(&self) -> Option<&Message> {
        let last = self.messages.last()?;
        (self.can_send() && last.role == Role::User).then_some(last)
    }

    /// Folds one message from the background into the state.
    pub fn apply(&mut self, message: BgToAgent) {
        match message {
            BgToAgent::History {
                site,
                messages,
                persistent,
                private,
                character,
                appearance,
                actions,
                ..
            } => {
                self.look = character;
                self.appearance = appearance;
                self.actions = actions;
                self.ready = true;
                self.site = site;
                self.messages = messages;
                self.persistent = persistent;
                self.private = private;
                // Another conversation (or this one again): an answer of
                // the one shown before streams on in the background; if
                // this one has an answer in progress, it is announced
                // after the history.
                self.streaming = None;
                self.queued.clear();
                self.on_device = None;
            }
            BgToAgent::Queued { questions } => self.queued = questions,
            BgToAgent::OnDevice {
                message_id,
                task,
                offer_download,
            } => {
                self.on_device = Some((message_id, task, offer_download));
            }
            BgToAgent::Appearance {
                appearance,
                character,
                actions,
            } => {
                self.appearance = appearance;
                self.look = character;
                self.actions = actions;
            }
            BgToAgent::Stored { message } => {
                self.error = None;
                self.upsert(message);
            }
            BgToAgent::AnswerStart {
                message_id,
                provider,
                level,
            } => {
                self.waiting = false;
                self.level = level;
                match self.messages.iter_mut().find(|m| m.id == message_id) {
                    // A continuation streams into the interrupted answer.
                    Some(m) => {
                        m.status = MessageStatus::Streaming;
                        m.provider = Some(provider);
                        m.level = level;
                    }
                    None => self.messages.push(Message {
                        id: message_id.clone(),
                        role: Role::Assistant,
                        text: String::new(),
                        time_ms: 0.0,
                        status: MessageStatus::Streaming,
                        provider: Some(provider),
                        level,
                        usage: None,
                    }),
                }
                self.streaming = Some(message_id);
            }
            BgToAgent::AnswerChunk { message_id, text } => {
                if let Some(m) = self.messages.iter_mut().find(|m| m.id == message_id) {
                    m.text.push_str(&text);
                }
            }
            BgToAgent::AnswerDone {
                message_id,
                status,
                usage,
            } => {
                if let Some(m) = self.messages.iter_mut().find(|m| m.id == message_id) {
                    m.status = status;
                    m.usage = usage;
                }
                if self.streaming.as_deref() == Some(message_id.as_str()) {
                    self.streaming = None;
                }
            }
            BgToAgent::Stopped {} => {
                self.waiting = false;
            }
            BgToAgent::Compose { action } => {
                self.compose = Some(action);
            }
            BgToAgent::Hint { hint } => {
                if self.can_send() {
                    self.hint = Some(hint);
                }
            }
            // Where the agent sits is the content script's business.
            BgToAgent::Place { .. } => {}
            BgToAgent::Conversations { items, current } => {
                self.conversations = Some((items, current));
            }
            BgToAgent::Preview {
                destination,
                context,
            } => {
                self.preview = Some(ContextPreview {
                    destination,
                    context,
                });
            }
            BgToAgent::Failed { error } => {
                self.ready = true;
                self.waiting = false;
                if let Some(id) = self.streaming.take() {
                    if let Some(m) = self.messages.iter_mut().find(|m| m.id == id) {
                        m.status = MessageStatus::Interrupted;
                    }
                }
                self.error = Some(error.message);
            }
        }
    }

    /// The port to the background closed (the worker stopped or restarted).
    /// An answer cut off is marked interrupted; the next send reconnects.
    pub fn disconnected(&mut self) {
        if self.waiting || self.streaming.is_some() {
            self.apply(BgToAgent::Failed {
                error: crate::protocol::ProtocolError::failed(
                    "the connection to Paperclip was lost; send again to retry",
                ),
            });
        }
    }

    fn upsert(&mut self, message: Message) {
        match self.messages.iter_mut().find(|m| m.id == message.id) {
            Some(m) => *m = message,
            None => self.messages.push(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ProtocolError;

    #[test]
    fn a_full_exchange() {
        let mut chat = ChatState::default();
        assert!(!chat.can_send());
        chat.apply(BgToAgent::History {
            conversation_id: None,
            site: "https://a.test".into(),
            messages: vec![],
            persistent: true,
            private: false,
            character: Default::default(),
            appearance: Default::default(),
            actions: Vec::new(),
        });
        assert!(chat.can_send());
        chat.asked();
        assert!(!chat.can_send());
        chat.apply(BgToAgent::Stored {
            message: Message::complete("q".into(), Role::User, "hi".into(), 1.0),
        });
        chat.apply(BgToAgent::AnswerStart {
            message_id: "a".into(),
            provider: "offline".into(),
            level: Degradation::Offline,
        });
        chat.apply(BgToAgent::AnswerChunk {
            message_id: "a".into(),
            text: "yes".into(),
        });
        chat.apply(BgToAgent::AnswerDone {
            message_id: "a".into(),
            status: MessageStatus::Complete,
            usage: Some(crate::conversation::Usage {
                tokens_in: 3,
                tokens_out: 1,
                cost_micro_usd: 0,
            }),
        });
        assert!(chat.can_send());
        assert_eq!(chat.messages.len(), 2);
        assert_eq!(chat.messages[1].text, "yes");
        assert_eq!(chat.messages[1].usage.map(|u| u.tokens_in), Some(3));
        assert_eq!(chat.messages[1].status, MessageStatus::Complete);
    }

    #[test]
    fn disconnect_when_idle_is_silent() {
        let mut chat = ChatState::default();
        chat.disconnected();
        assert_eq!(chat.error, None);
        chat.asked();
        chat.disconnected();
        assert!(chat.error.is_some());
        assert!(!chat.waiting);
    }

    #[test]
    fn failure_interrupts_the_stream_and_keeps_messages() {
        let mut chat = ChatState::default();
        chat.apply(BgToAgent::AnswerStart {
            message_id: "a".into(),
            provider: "offline".into(),
            level: Degradation::Offline,
        });
        chat.apply(BgToAgent::Failed {
            error: ProtocolError::failed("the page did not answer"),
        });
        assert_eq!(chat.messages[0].status, MessageStatus::Interrupted);
        assert_eq!(chat.error.as_deref(), Some("the page did not answer"));
        assert!(chat.can_send());
    }

    #[test]
    fn stop_continue_and_retry() {
        let mut chat = ChatState::default();
        chat.apply(BgToAgent::History {
            conversation_id: None,
            site: "https://a.test".into(),
            messages: vec![],
            persistent: true,
            private: false,
            character: Default::default(),
            appearance: Default::default(),
            actions: Vec::new(),
        });
        chat.asked();
        chat.apply(BgToAgent::Stored {
            message: Message::complete("q".into(), Role::User, "hi".into(), 1.0),
        });
        // Stopped before any text: the question may be retried.
        assert_eq!(chat.retryable(), None, "not while waiting");
        chat.apply(BgToAgent::Stopped {});
        assert_eq!(chat.retryable().map(|m| m.id.as_str()), Some("q"));
        assert_eq!(chat.error, None);
        // An answer stopped mid-stream may be continued, into the same message.
        chat.asked();
        chat.apply(BgToAgent::AnswerStart {
            message_id: "a".into(),
            provider: "Local (fallback)".into(),
            level: Degradation::Fallback,
        });
        chat.apply(BgToAgent::AnswerChunk {
            message_id: "a".into(),
            text: "Hel".into(),
        });
        chat.apply(BgToAgent::AnswerDone {
            message_id: "a".into(),
            status: MessageStatus::Interrupted,
            usage: None,
        });
        assert_eq!(chat.level, Degradation::Fallback);
        assert_eq!(chat.retryable(), None);
        assert_eq!(chat.continuable().map(|m| m.id.as_str()), Some("a"));
        chat.asked();
        assert_eq!(chat.continuable(), None, "not while waiting");
        chat.apply(BgToAgent::AnswerStart {
            message_id: "a".into(),
            provider: "Local".into(),
            level: Degradation::Normal,
        });
        chat.apply(BgToAgent::AnswerChunk {
            message_id: "a".into(),
            text: "lo".into(),
        });
        chat.apply(BgToAgent::AnswerDone {
            message_id: "a".into(),
            status: MessageStatus::Complete,
            usage: None,
        });
        assert_eq!(chat.messages.len(), 2);
        assert_eq!(chat.messages[1].text, "Hello");
        assert_eq!(chat.messages[1].status, MessageStatus::Complete);
        assert_eq!(chat.continuable(), None);
        assert_eq!(chat.level, Degradation::Normal);
    }
}
