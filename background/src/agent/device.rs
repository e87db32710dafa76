//! Chrome's on-device AI, which lives in windows (the agent's page), not
//! in the worker: the background hands the asking agent a
//! `core::on_device::Task` and waits for its `OnDeviceDone` (the agent
//! feature-detects, shows availability and download progress, and starts a
//! download only on the user's click). Anything but text — no API, a
//! declined download, a closed agent, [`on_device::WAIT_MS`] passing —
//! leaves the answer to the usual chain.

use futures::channel::oneshot;
use futures::future::{select, Either};
use paperclip_core::on_device::{self, Task};

use super::*;

type Answer = Result<(String, Option<String>), String>;
/// A task handed out: the asking agent's tab and site, and where its
/// answer goes.
type Handed = (i32, String, oneshot::Sender<Answer>);

thread_local! {
    /// The tasks handed to agents: by answer id, with the asking agent's
    /// tab and site (only that agent may answer). One per answer in
    /// progress, so bounded by them.
    static WAITING: RefCell<HashMap<String, Handed>> = RefCell::default();
}

/// Asks `session`'s agent to do `task` for answer `message_id` (offering
/// a model download it still needs when `offer_download`): the device's
/// text and, for a translation, the source language detected.
pub(super) async fn ask(
    session: &Session,
    message_id: &str,
    task: &Task,
    offer_download: bool,
) -> Answer {
    let (tx, mut rx) = oneshot::channel();
    WAITING.with(|w| {
        w.borrow_mut().insert(
            message_id.to_string(),
            (session.tab_id, session.site.clone(), tx),
        )
    });
    session.send(&BgToAgent::OnDevice {
        message_id: message_id.to_string(),
        task: task.clone(),
        offer_download,
    });
    let deadline = now_ms() + f64::from(on_device::WAIT_MS);
    let answer = loop {
        match select(rx, TimeoutFuture::new(500)).await {
            Either::Left((answer, _)) => {
                break answer.unwrap_or_else(|_| Err("the agent closed".into()))
            }
            Either::Right((_, pending)) => {
                if session.closed.get() {
                    break Err("the agent closed".into());
                }
                if now_ms() > deadline {
                    break Err("no answer from the device in time".into());
                }
                rx = pending;
            }
        }
    };
    WAITING.with(|w| w.borrow_mut().remove(message_id));
    answer
}

/// The agent of `session` answered task `message_id`.
pub(super) fn done(
    session: &Session,
    message_id: &str,
    text: Option<String>,
    source_language: Option<String>,
    error: Option<String>,
) {
    let waiting = WAITING.with(|w| {
        let mut w = w.borrow_mut();
        let mine = w
            .get(message_id)
            .is_some_and(|(tab, site, _)| *tab == session.tab_id && *site == session.site);
        if mine {
            w.remove(message_id)
        } else {
            None
        }
    });
    let Some((_, _, tx)) = waiting else {
        return;
    };
    // A language code, or nothing.
    let source_language = source_language.filter(|l| {
        !l.is_empty() && l.len() <= 16 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    let _ = tx.send(on_device::read_result(text, error).map(|t| (t, source_language)));
}
