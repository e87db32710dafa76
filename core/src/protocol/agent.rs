//! The agent's port ([`AgentToBg`], [`BgToAgent`]) and the background's
//! messages to the content script ([`ToContent`]).

use serde::{Deserialize, Serialize};

use super::{ProtocolError, Tagged};
use crate::conversation::{ConversationSummary, Message, MessageStatus, Usage};
pub use crate::quick::QuickAction;

fn complete() -> MessageStatus {
    MessageStatus::Complete
}

tagged! {
    /// Agent → background, over the [`AGENT_PORT`] port.
    pub enum AgentToBg {
        /// The user sent `text` (typed, or a quick action's prompt).
        Ask {
            /// Id of the user's message, made by the agent, so that a
            /// question re-sent after a lost connection is stored once.
            id: String,
            /// What the user asked.
            text: String,
            /// Set when the text came from a quick-action button.
            action: Option<QuickAction>,
            /// The page context to send instead of the one read from the
            /// page: what the user reviewed (and perhaps edited) in the
            /// preview.
            #[serde(default)]
            context: Option<String>,
            /// Set when the user chose one of their own quick actions
            /// (its name): the background asks its prompt, filled from the
            /// page, instead of `text`.
            #[serde(default)]
            custom: Option<String>,
        },
        /// The user opened the list of this site's conversations.
        ListConversations {},
        /// Switch to conversation `id` of this site, or start a new one
        /// (`None`); answered with `History`.
        OpenConversation {
            /// The conversation, or `None` for a new one.
            id: Option<String>,
        },
        /// Delete conversation `id` of this site; answered with
        /// `Conversations` (and `History` when it was the open one).
        DeleteConversation {
            /// The conversation.
            id: String,
        },
        /// The user wants to see what asking `text` would send.
        Preview {
            /// The question as typed so far.
            text: String,
        },
        /// The user closed the agent.
        Close {},
        /// The user pressed Stop: abort the answer in progress (what
        /// streamed so far is kept, marked interrupted).
        Stop {},
        /// The user asked to continue interrupted answer `message_id`: the
        /// continuation is appended to it.
        Continue {
            /// The interrupted assistant message.
            message_id: String,
        },
        /// The user moved the agent: remember where, for this site.
        Place {
            /// Where it is now.
            place: crate::place::Place,
        },
        /// The user took the hint offered (`BgToAgent::Hint`).
        HintTaken {},
        /// The user cancelled waiting question `question_id` (its offline
        /// answer stays; the provider is not asked).
        CancelQueued {
            /// The waiting question.
            question_id: String,
        },
        /// The user pressed "Try now": ask the waiting questions' provider
        /// again.
        RetryQueued {},
        /// What the device made of `BgToAgent::OnDevice` `message_id`: its
        /// text, or why there is none (no such API here, the user declined
        /// the download, the model refused).
        OnDeviceDone {
            /// The answer being made.
            message_id: String,
            /// The device's text.
            #[serde(default)]
            text: Option<String>,
            /// The language detected for a translation's source.
            #[serde(default)]
            source_language: Option<String>,
            /// Why there is no text.
            #[serde(default)]
            error: Option<String>,
        },
    }
}

tagged! {
    /// Background → agent, over the [`AGENT_PORT`] port.
    pub enum BgToAgent {
        /// The site's conversation so far, sent when the port opens.
        History {
            /// The conversation's id, `None` before the first message.
            conversation_id: Option<String>,
            /// The site (origin) the conversation belongs to.
            site: String,
            /// Messages in order.
            messages: Vec<Message>,
            /// False when storage is in memory only.
            persistent: bool,
            /// True in a private window: the conversation is kept in the
            /// worker's memory only, never written.
            #[serde(default)]
            private: bool,
            /// The character the user chose.
            #[serde(default)]
            character: crate::prefs::Character,
            /// How the agent looks (theme, font scale, motion).
            #[serde(default)]
            appearance: crate::prefs::Appearance,
            /// The user's own quick actions.
            #[serde(default)]
            actions: Vec<crate::quick::CustomAction>,
        },
        /// The preferences the agent shows changed (the look, the
        /// character, the user's quick actions).
        Appearance {
            /// How the agent looks now.
            appearance: crate::prefs::Appearance,
            /// The character the user chose.
            #[serde(default)]
            character: crate::prefs::Character,
            /// The user's own quick actions.
            #[serde(default)]
            actions: Vec<crate::quick::CustomAction>,
        },
        /// The user's message was stored (it carries its final id).
        Stored {
            /// The stored message.
            message: Message,
        },
        /// An answer starts streaming.
        AnswerStart {
            /// Id of the assistant message being streamed.
            message_id: String,
            /// Which provider answers: its name ("offline" for the built-in
            /// one), with `level` the answer's `AnswerSource`.
            provider: String,
            /// Where the answer comes from in the fallback chain.
            #[serde(default)]
            level: crate::resilience::fallback::Degradation,
        },
        /// The next piece of the answer's text.
        AnswerChunk {
            /// Id of the assistant message being streamed.
            message_id: String,
            /// Text to append.
            text: String,
        },
        /// The answer ended and is stored: complete, or interrupted (the
        /// user stopped it or the stream broke; "Continue" may finish it).
        AnswerDone {
            /// Id of the assistant message.
            message_id: String,
            /// How it ended.
            #[serde(default = "complete")]
            status: MessageStatus,
            /// Its tokens and cost, when its provider reported them.
            #[serde(default)]
            usage: Option<Usage>,
        },
        /// The user stopped the ask before any answer text arrived; nothing
        /// was answered (the question is kept).
        Stopped {},
        /// This site's conversations, newest first.
        Conversations {
            /// Their summaries.
            items: Vec<ConversationSummary>,
            /// The open one.
            current: Option<String>,
        },
        /// Get ready for a quick action that needs the user's words (the
        /// context menu's "Ask Clippy about selection"): focus the input.
        Compose {
            /// The action the next question is for.
            action: QuickAction,
        },
        /// Where the user last put the agent on this site (sent after
        /// `History` when it was moved before).
        Place {
            /// The remembered place.
            place: crate::place::Place,
        },
        /// A proactive hint (the user allowed hints on this site). Nothing
        /// is sent anywhere unless the user takes it.
        Hint {
            /// The hint.
            hint: crate::hints::Hint,
        },
        /// What asking the previewed question would send.
        Preview {
            /// Who would receive it: a provider's label, or `None` when
            /// the offline provider answers (nothing leaves the browser).
            destination: Option<String>,
            /// The page context that would be sent (editable).
            context: String,
        },
        /// The questions of the shown conversation that wait for the
        /// network (sent after `History` and whenever they change).
        Queued {
            /// Oldest first.
            questions: Vec<crate::queued::QueuedView>,
        },
        /// Do `task` with the browser's on-device AI, if this page has it
        /// (answered with `AgentToBg::OnDeviceDone`; a model download
        /// starts only on the user's click).
        OnDevice {
            /// The answer being made.
            message_id: String,
            /// What to do.
            task: crate::on_device::Task,
            /// Whether to offer a model download the device still needs
            /// (when nothing else could answer as well); otherwise only a
            /// ready model is used.
            #[serde(default)]
            offer_download: bool,
        },
        /// The ask failed; the user's message is kept.
        Failed {
            /// What went wrong.
            error: ProtocolError,
        },
    }
}

tagged! {
    /// Background → the content script of a tab (top frame).
    pub enum ToContent {
        /// Did this tab's loader hand `token` to its own agent frame? The
        /// loader answers `Reply<Activated>` only then; asked before the
        /// agent port is served, so an `agent.html` that a page (or any
        /// other frame in an activated tab) embedded by itself gets
        /// nothing.
        Hello {
            /// The token the frame presents (its port's name after `#`).
            #[serde(default)]
            token: String,
        },
        /// Read the page; answered with `Reply<PageRead>`. The serialised
        /// DOM is left out when the page has not changed since the last
        /// read, unless `fresh`.
        GetPageContext {
            /// Serialise the DOM even if the page looks unchanged.
            #[serde(default)]
            fresh: bool,
        },
        /// Remove the agent from the page; answered with `Reply<Activated>`.
        Close {},
    }
}
