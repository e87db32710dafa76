//! Answers in progress belong to their conversation, not to the agent that
//! asked: a [`Running`] answer streams to every open agent showing its
//! conversation (none, one, or the same site in several tabs), so closing
//! the agent, navigating away or closing the tab does not stop it; it
//! completes and is stored whole. Only Stop (from any agent showing the
//! conversation) and the total timeout end it early. An agent that opens
//! the conversation mid-answer is caught up with what streamed so far.

use super::*;

thread_local! {
    /// The answers in progress, one per conversation at most.
    static RUNNING: RefCell<Vec<Rc<Running>>> = const { RefCell::new(Vec::new()) };
    /// Whether the keep-awake loop runs.
    static AWAKE: Cell<bool> = const { Cell::new(false) };
}

/// How often the background calls an extension API while an answer runs,
/// so that Chrome does not stop its worker (idle after 30 s) when no agent
/// is left to keep it busy.
const KEEP_AWAKE_MS: u32 = 20_000;

/// The answer in progress in one conversation.
pub(super) struct Running {
    /// The conversation.
    pub conversation_id: String,
    /// Its site.
    pub site: String,
    /// Set when the user deleted the conversation's data meanwhile: the
    /// answer stops and stores nothing.
    discarded: Cell<bool>,
    /// Stop: set by the Stop button of any agent showing the conversation.
    pub cancel: Rc<Cancel>,
    /// The answer streaming now: its start, and its text so far, for an
    /// agent that opens the conversation mid-answer.
    shown: RefCell<Option<(BgToAgent, String)>>,
    /// The ask's `render` span: from its first text sent to the answer's
    /// end.
    render: RefCell<Option<OpenSpan>>,
}

/// The claim on a conversation's one answer; dropping it ends the answer
/// (whatever way the work ended).
pub(super) struct Claim(Rc<Running>);

impl std::ops::Deref for Claim {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.0
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(span) = self.render.borrow_mut().take() {
            telemetry::end(span, None);
        }
        RUNNING.with(|r| r.borrow_mut().retain(|x| !Rc::ptr_eq(x, &self.0)));
    }
}

impl Running {
    /// Claims the one answer of `conversation_id`; `None` while another
    /// runs there.
    pub fn claim(conversation_id: &str, site: &str) -> Option<Claim> {
        if Self::of(conversation_id).is_some() {
            return None;
        }
        let running = Rc::new(Running {
            conversation_id: conversation_id.to_string(),
            site: site.to_string(),
            discarded: Cell::new(false),
            cancel: Rc::default(),
            shown: RefCell::default(),
            render: RefCell::default(),
        });
        RUNNING.with(|r| r.borrow_mut().push(running.clone()));
        keep_awake();
        Some(Claim(running))
    }

    /// The answer in progress in `conversation_id`.
    pub fn of(conversation_id: &str) -> Option<Rc<Running>> {
        RUNNING.with(|r| {
            r.borrow()
                .iter()
                .find(|x| x.conversation_id == conversation_id)
                .cloned()
        })
    }

    /// Sends `message` about this answer to every agent showing the
    /// conversation.
    pub fn send(&self, message: &BgToAgent) {
        match message {
            BgToAgent::AnswerStart { .. } => {
                *self.shown.borrow_mut() = Some((message.clone(), String::new()));
            }
            BgToAgent::AnswerChunk { text, .. } => {
                if self.render.borrow().is_none() {
                    *self.render.borrow_mut() =
                        telemetry::child_of_current(names::RENDER, SpanKind::Internal);
                }
                if let Some((_, so_far)) = &mut *self.shown.borrow_mut() {
                    so_far.push_str(text);
                }
            }
            BgToAgent::AnswerDone { .. } | BgToAgent::Failed { .. } | BgToAgent::Stopped {} => {
                *self.shown.borrow_mut() = None;
                if let Some(span) = self.render.borrow_mut().take() {
                    telemetry::end(span, None);
                }
            }
            _ => {}
        }
        deliver(&self.conversation_id, message);
    }

    /// Whether the conversation's data was deleted meanwhile.
    pub fn discarded(&self) -> bool {
        self.discarded.get()
    }

    /// Reports `error` to every agent showing the conversation.
    pub fn fail(&self, error: ProtocolError) {
        self.send(&BgToAgent::Failed { error });
    }
}

/// Stops the answers in progress (of `site`, or everywhere) whose data the
/// user is deleting: they store nothing more.
pub(super) fn discard(site: Option<&str>) {
    for running in RUNNING.with(|r| r.borrow().clone()) {
        if site.is_none_or(|s| s == running.site) {
            running.discarded.set(true);
            running.cancel.stop();
        }
    }
}

/// Sends `message` to every open agent showing conversation `id`.
pub(super) fn deliver(id: &str, message: &BgToAgent) {
    let wire = protocol::encode(message);
    for session in sessions() {
        if session.conversation_id.borrow().as_deref() == Some(id) {
            session.post(&wire);
        }
    }
}

/// Catches `session` up with the answer streaming in the conversation it
/// now shows: its start and the text so far (later chunks reach it like
/// every other agent showing the conversation).
pub(super) fn catch_up(session: &Session) {
    let Some(id) = session.conversation_id.borrow().clone() else {
        return;
    };
    let Some(running) = Running::of(&id) else {
        return;
    };
    let shown = running.shown.borrow().clone();
    if let Some((start, so_far)) = shown {
        session.send(&start);
        if let BgToAgent::AnswerStart { message_id, .. } = start {
            session.send(&BgToAgent::AnswerChunk {
                message_id,
                text: so_far,
            });
        }
    }
}

/// While any answer runs, calls a cheap extension API every
/// [`KEEP_AWAKE_MS`].
fn keep_awake() {
    if AWAKE.with(|a| a.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async {
        loop {
            TimeoutFuture::new(KEEP_AWAKE_MS).await;
            if RUNNING.with(|r| r.borrow().is_empty()) {
                break;
            }
            platform::changes::keep_awake();
        }
        AWAKE.with(|a| a.set(false));
    });
}
