//! The agent's side of its port to the background, as a state machine:
//! [`Link`] says what to post, when to (re)connect, when to keep the
//! background awake and what to re-send after the background went away;
//! the agent's shell only performs the [`Effect`]s.
//!
//! The background may stop at any time (Chrome stops an idle worker;
//! Firefox suspends an idle event page even while a port is open). A
//! question sent and not yet answered is re-sent once over a new port; its
//! id, made by the agent, keeps the background from storing it twice.
//!
//! ```
//! use paperclip_core::link::{Effect, Link, Received};
//!
//! let mut link = Link::default();
//! // Not connected yet: the question waits for the port and its history.
//! assert_eq!(link.send("ask-1".into(), true), vec![Effect::KeepAwake, Effect::Connect]);
//! link.connected();
//! assert_eq!(link.received(Received::History), vec![Effect::Post("ask-1".into())]);
//! // The background stops before answering: one re-send over a new port.
//! assert_eq!(link.closed(), vec![Effect::Connect]);
//! link.connected();
//! assert_eq!(link.received(Received::History), vec![Effect::Post("ask-1".into())]);
//! // It stops again: the user is told.
//! assert_eq!(link.closed(), vec![Effect::LetSleep, Effect::Disconnected]);
//! ```

/// What the shell does for the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Post this wire message on the current port.
    Post(String),
    /// Open a new port.
    Connect,
    /// Start pinging the background (an answer is awaited or streams).
    KeepAwake,
    /// Stop pinging it.
    LetSleep,
    /// Tell the user the connection is gone (nothing left to re-send).
    Disconnected,
}

/// What arrived on the port, as far as the link cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// The conversation's history: the new port is ready.
    History,
    /// The answer ended (done, failed or stopped).
    Answered,
    /// Anything else.
    Other,
}

/// The link's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    connected: bool,
    /// A message to post once the new port has delivered the history.
    pending: Option<String>,
    /// The question sent and not yet answered.
    in_flight: Option<String>,
    /// Whether `in_flight` was already re-sent.
    resent: bool,
    awake: bool,
}

impl Link {
    /// The user sends `wire`; `asks` when it is a question (or Continue)
    /// whose answer is then awaited.
    pub fn send(&mut self, wire: String, asks: bool) -> Vec<Effect> {
        let mut effects = Vec::new();
        if asks {
            self.in_flight = Some(wire.clone());
            self.resent = false;
            self.awake = true;
            effects.push(Effect::KeepAwake);
        }
        if self.connected {
            effects.push(Effect::Post(wire));
        } else {
            self.pending = Some(wire);
            effects.push(Effect::Connect);
        }
        effects
    }

    /// Posting `wire` failed (the port had closed): connect again and post
    /// it once the history arrived.
    pub fn post_failed(&mut self, wire: String) -> Vec<Effect> {
        self.connected = false;
        self.pending = Some(wire);
        vec![Effect::Connect]
    }

    /// A new port is open.
    pub fn connected(&mut self) {
        self.connected = true;
    }

    /// A message arrived on the current port.
    pub fn received(&mut self, what: Received) -> Vec<Effect> {
        match what {
            Received::History => self.pending.take().map(Effect::Post).into_iter().collect(),
            Received::Answered => {
                self.in_flight = None;
                if std::mem::take(&mut self.awake) {
                    vec![Effect::LetSleep]
                } else {
                    Vec::new()
                }
            }
            Received::Other => Vec::new(),
        }
    }

    /// The current port closed (the shell ignores the late end of a port
    /// it already replaced).
    pub fn closed(&mut self) -> Vec<Effect> {
        self.connected = false;
        match &self.in_flight {
            Some(wire) if !self.resent => {
                self.resent = true;
                self.pending = Some(wire.clone());
                vec![Effect::Connect]
            }
            _ => {
                self.awake = false;
                vec![Effect::LetSleep, Effect::Disconnected]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn connected_messages_go_straight_out() {
        let mut link = Link::default();
        link.connected();
        assert_eq!(
            link.send("close".into(), false),
            vec![Effect::Post("close".into())]
        );
        assert_eq!(
            link.send("ask".into(), true),
            vec![Effect::KeepAwake, Effect::Post("ask".into())]
        );
        assert_eq!(link.received(Received::Other), vec![]);
        assert_eq!(link.received(Received::Answered), vec![Effect::LetSleep]);
        // Answered: a later disconnect re-sends nothing.
        assert_eq!(link.closed(), vec![Effect::LetSleep, Effect::Disconnected]);
    }

    #[test]
    fn a_failed_post_reconnects_and_posts_after_the_history() {
        let mut link = Link::default();
        link.connected();
        link.send("ask".into(), true);
        assert_eq!(link.post_failed("ask".into()), vec![Effect::Connect]);
        link.connected();
        assert_eq!(
            link.received(Received::History),
            vec![Effect::Post("ask".into())]
        );
        assert_eq!(link.received(Received::History), vec![]);
    }

    #[test]
    fn a_new_question_may_be_re_sent_again() {
        let mut link = Link::default();
        link.connected();
        link.send("q1".into(), true);
        assert_eq!(link.closed(), vec![Effect::Connect]);
        link.connected();
        link.received(Received::History);
        link.received(Received::Answered);
        link.send("q2".into(), true);
        assert_eq!(link.closed(), vec![Effect::Connect]);
    }

    proptest! {
        /// Whatever happens, a question is re-sent at most once per send,
        /// and the user is told "disconnected" only with nothing left to
        /// re-send.
        #[test]
        fn at_most_one_resend_per_question(events in proptest::collection::vec(0u8..6, 0..60)) {
            let mut link = Link::default();
            let mut resends_since_send = 0;
            for e in events {
                let effects = match e {
                    0 => { resends_since_send = 0; link.send("q".into(), true) }
                    1 => link.send("x".into(), false),
                    2 => { link.connected(); vec![] }
                    3 => link.received(Received::History),
                    4 => link.received(Received::Answered),
                    _ => link.closed(),
                };
                if e == 5 && effects.contains(&Effect::Connect) {
                    resends_since_send += 1;
                }
                prop_assert!(resends_since_send <= 1);
                if effects.contains(&Effect::Disconnected) {
                    prop_assert!(link.pending.is_none() || !link.connected);
                    prop_assert!(link.in_flight.is_none() || link.resent);
                }
            }
        }
    }
}
